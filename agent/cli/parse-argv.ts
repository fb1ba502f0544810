/**
 * Splits argv into a command and raw flag values. Knows only the shape of
 * flags (which take a value, which are switches); what the values mean is
 * checked in resolve-options.ts, where config-file values are checked the same way.
 */
import { InvalidInputError } from '../../common/errors.ts';

export type CommandName = 'check' | 'watch' | 'report' | 'install' | 'uninstall';

export const COMMANDS: readonly CommandName[] = ['check', 'watch', 'report', 'install', 'uninstall'];

/** Flags that take a value; each is also a key of the JSON config file. */
export const VALUE_FLAGS = [
  'resources',
  'count',
  'interval',
  'latency-threshold',
  'loss-threshold',
  'jitter-threshold',
  'hops',
  'loss-rule',
  'tcp-port',
  'concurrency',
  'baseline-flag',
  'log-dir',
  'gateway-ip',
  'openvpn-management',
  'openvpn-log',
  'max-report-bytes',
  'keep-reports',
  'max-mtr-files',
  'every',
  'rounds',
] as const;

export type ValueFlag = (typeof VALUE_FLAGS)[number];

/** Flags valid only for `watch`. */
export const WATCH_ONLY_FLAGS: readonly ValueFlag[] = ['every', 'rounds'];

/** Flags of `install` and `uninstall` only: where the service goes, not how it measures (no config keys). */
export const INSTALL_FLAGS = ['unit-dir', 'lib-dir'] as const;
export type InstallFlag = (typeof INSTALL_FLAGS)[number];

/** Flags of `report` only (agent/report/report-options.ts); not config keys. */
export const REPORT_FLAGS = ['html', 'since', 'resource'] as const;
export type ReportFlag = (typeof REPORT_FLAGS)[number];

const SWITCHES = ['json', 'help', 'version', 'no-enable'] as const;
type Switch = (typeof SWITCHES)[number];

export interface ParsedArgv {
  command: CommandName | null;
  values: Partial<Record<ValueFlag, string>>;
  install: Partial<Record<InstallFlag, string>>;
  report: Partial<Record<ReportFlag, string>>;
  config: string | null;
  switches: Record<Switch, boolean>;
}

const isValueFlag = (name: string): name is ValueFlag => (VALUE_FLAGS as readonly string[]).includes(name);
const isInstallFlag = (name: string): name is InstallFlag =>
  (INSTALL_FLAGS as readonly string[]).includes(name);
const isReportFlag = (name: string): name is ReportFlag => (REPORT_FLAGS as readonly string[]).includes(name);
const isCommand = (name: string): name is CommandName => (COMMANDS as readonly string[]).includes(name);
const isSwitch = (name: string): name is Switch => (SWITCHES as readonly string[]).includes(name);

export function parseArgv(argv: readonly string[]): ParsedArgv {
  const parsed: ParsedArgv = {
    command: null,
    values: {},
    install: {},
    report: {},
    config: null,
    switches: { json: false, help: false, version: false, 'no-enable': false },
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) {
      if (parsed.command !== null) {
        throw new InvalidInputError(
          'argument',
          arg,
          `one command (${COMMANDS.join(' or ')}) followed by --flags`,
        );
      }
      if (!isCommand(arg)) {
        throw new InvalidInputError('command', arg, `one of ${COMMANDS.join(', ')} (see --help)`);
      }
      parsed.command = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const inline = eq < 0 ? null : arg.slice(eq + 1);
    if (isSwitch(name)) {
      if (inline !== null) throw new InvalidInputError(`--${name}`, inline, 'no value (it is a switch)');
      parsed.switches[name] = true;
      continue;
    }
    if (name !== 'config' && !isValueFlag(name) && !isInstallFlag(name) && !isReportFlag(name)) {
      throw new InvalidInputError('option', `--${name}`, 'a known option (see --help)');
    }
    let value = inline;
    if (value === null) {
      const next = argv[i + 1];
      // A following `--flag` means the value was forgotten; a value may not look like an option.
      if (next === undefined || next.startsWith('--')) {
        throw new InvalidInputError(`--${name}`, undefined, 'a value after the option');
      }
      value = next;
      i++;
    }
    if (name === 'config') {
      // A second file would silently replace the first; neither is merged.
      if (parsed.config !== null) throw new InvalidInputError('--config', value, 'the option once');
      parsed.config = value;
    } else {
      const into: Partial<Record<string, string>> = isValueFlag(name)
        ? parsed.values
        : isInstallFlag(name)
          ? parsed.install
          : parsed.report;
      if (into[name] !== undefined) throw new InvalidInputError(`--${name}`, value, 'the option once');
      into[name] = value;
    }
  }
  return parsed;
}
