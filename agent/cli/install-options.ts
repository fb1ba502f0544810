/**
 * Options of `install` and `uninstall`. The service runs `check --config
 * <file>`, so every measuring setting lives in that file and is validated here
 * exactly as `check` validates it; the command line names only the schedule
 * and where the files go.
 */
import * as path from 'node:path';
import { InvalidInputError } from '../../common/errors.ts';
import { isPrintable } from '../../common/printable.ts';
import { DEFAULT_LIB_DIR, DEFAULT_UNIT_DIR, TIMER_PERIODS_MIN } from '../install/units.ts';
import type { InstallFlag, ParsedArgv, ValueFlag } from './parse-argv.ts';
import { type CheckOptions, type ConfigObject, parseWatchOnly, resolveOptions } from './resolve-options.ts';

export interface UninstallOptions {
  /** Absolute paths. */
  unitDir: string;
  libDir: string;
}

export interface InstallOptions extends UninstallOptions {
  /** Absolute path of the config file the service runs with. */
  config: string;
  everyMinutes: number;
  /** false: write the files only (--no-enable). */
  enable: boolean;
  /** What the service's `check` will run with. */
  check: CheckOptions;
}

/** A path that goes into a unit file: absolute (the service runs in /), no control characters (a newline would start a directive). */
export function unitPath(field: string, value: string): string {
  if (!path.isAbsolute(value) || !isPrintable(value)) {
    throw new InvalidInputError(
      field,
      value,
      'an absolute path without control characters (it goes into a systemd unit, which runs in /)',
    );
  }
  return path.normalize(value);
}

/**
 * A path the service itself opens: a unit path, and outside /tmp and /var/tmp,
 * which the service does not see (PrivateTmp gives it private ones).
 */
function servicePath(field: string, value: string, kind: 'directory' | 'file' = 'file'): string {
  const normal = unitPath(field, value);
  if (/^\/(var\/)?tmp(\/|$)/.test(normal)) {
    throw new InvalidInputError(
      field,
      value,
      `a ${kind} outside /tmp and /var/tmp: the service gets private ones (PrivateTmp)`,
    );
  }
  return normal;
}

function dirs(argv: ParsedArgv): UninstallOptions {
  const get = (flag: InstallFlag, fallback: string) => unitPath(`--${flag}`, argv.install[flag] ?? fallback);
  return { unitDir: get('unit-dir', DEFAULT_UNIT_DIR), libDir: get('lib-dir', DEFAULT_LIB_DIR) };
}

function refuseOthers(argv: ParsedArgv, allowed: readonly ValueFlag[], why: string): void {
  const stray = Object.entries(argv.values).find(([flag]) => !allowed.includes(flag as ValueFlag));
  if (stray !== undefined) throw new InvalidInputError(`--${stray[0]}`, stray[1], why);
  const [reportFlag] = Object.entries(argv.report);
  if (reportFlag !== undefined)
    throw new InvalidInputError(`--${reportFlag[0]}`, reportFlag[1], 'only with report');
  if (argv.switches.json) throw new InvalidInputError('option', '--json', 'only with check or watch');
}

export function resolveUninstallOptions(argv: ParsedArgv): UninstallOptions {
  refuseOthers(argv, [], 'not with uninstall (it takes --unit-dir and --lib-dir)');
  if (argv.config !== null) throw new InvalidInputError('--config', argv.config, 'not with uninstall');
  if (argv.switches['no-enable']) throw new InvalidInputError('option', '--no-enable', 'only with install');
  return dirs(argv);
}

/** `config` is the parsed --config file; null when none was given (an error: the service needs one). */
export function resolveInstallOptions(argv: ParsedArgv, config: ConfigObject | null): InstallOptions {
  refuseOthers(
    argv,
    ['every'],
    'not with install: put settings in the --config file, which the service runs with',
  );
  if (argv.config === null || config === null) {
    throw new InvalidInputError(
      '--config',
      undefined,
      'the JSON file the service runs check with, e.g. /etc/cloudconnexa-monitor.json (see --help)',
    );
  }
  const check = resolveOptions(
    'check',
    { ...argv, values: {}, install: {}, switches: { ...argv.switches, 'no-enable': false } },
    config,
  );
  const every =
    argv.values.every !== undefined
      ? { value: argv.values.every, field: '--every' }
      : config.every !== undefined
        ? { value: config.every, field: 'config every' }
        : null;
  if (every === null)
    throw new InvalidInputError('--every', undefined, 'minutes between rounds, e.g. --every 5');
  const everyMinutes = parseWatchOnly('every', every.value, every.field);
  if (!TIMER_PERIODS_MIN.includes(everyMinutes)) {
    throw new InvalidInputError(
      every.field,
      every.value,
      `minutes that divide an hour or a day, as a timer keeps them: ${TIMER_PERIODS_MIN.join(', ')} (watch takes any)`,
    );
  }
  // The service runs in /: a relative path would name another file than the one checked now.
  servicePath('config log-dir', check.logDir, 'directory');
  if (check.openvpnLog !== null) servicePath('config openvpn-log', check.openvpnLog);
  // A management interface is host:port or a unix socket's path.
  if (check.openvpnManagement?.startsWith('/') === true)
    servicePath('config openvpn-management', check.openvpnManagement);
  const { unitDir, libDir } = dirs(argv);
  return {
    unitDir,
    libDir: servicePath('--lib-dir', libDir, 'directory'),
    config: servicePath('--config', path.resolve(argv.config)),
    everyMinutes,
    enable: !argv.switches['no-enable'],
    check,
  };
}
