/**
 * Turns raw flag values and config-file values into validated options.
 * Flags win over the config file; both go through the same validators, so an
 * error names the flag (`--count`) or the config key (`config count`) the user
 * has to fix.
 */
import { InvalidInputError, WrittenValue } from '../../common/errors.ts';
import type { RoundSettings } from '../../common/result-schema.ts';
import { MAX_ROUND_MS, roundWorstCaseMs } from '../../common/round-budget.ts';
import {
  DEFAULTS,
  parseBaselineFlag,
  parseBoundedNumber,
  parseConcurrency,
  parseCount,
  parseHops,
  parseIntervalSec,
  parseIpAddress,
  parseJitterThresholdMs,
  parseLatencyThresholdMs,
  parseLossRule,
  parseLossThresholdPct,
  parsePath,
  parseResourceList,
  parseTcpPort,
  type ResourceSpec,
} from '../../common/settings.ts';
import { parseManagementEndpoint } from '../gateway/management-client.ts';
import {
  type CommandName,
  type ParsedArgv,
  REPORT_FLAGS,
  VALUE_FLAGS,
  type ValueFlag,
  WATCH_ONLY_FLAGS,
} from './parse-argv.ts';

export interface RotationLimits {
  maxReportBytes: number;
  keepReports: number;
  maxMtrFiles: number;
}

export interface CheckOptions {
  resources: ResourceSpec[];
  settings: RoundSettings;
  logDir: string;
  gatewayIp: string | null;
  openvpnManagement: string | null;
  openvpnLog: string | null;
  rotation: RotationLimits;
  json: boolean;
}

export interface WatchOptions extends CheckOptions {
  everyMinutes: number;
  /** Stop after this many rounds; null runs until a signal. */
  rounds: number | null;
}

export const ROTATION_DEFAULTS: RotationLimits = {
  maxReportBytes: 10 * 1024 * 1024,
  keepReports: 5,
  maxMtrFiles: 500,
};

/**
 * A config-file value: a string or an array of strings as JSON gives them; a
 * JSON number as a WrittenValue, its text in the file, so that it is judged
 * and shown as written (common/settings.ts parseBoundedNumber).
 */
type RawValue = string | WrittenValue | string[];

/** The options of a config file, by option name (readConfigObject). */
export type ConfigObject = Partial<Record<ValueFlag, RawValue>>;

// The one number grammar (common/settings.ts), for the options that are not settings.
function boundedInteger(field: string, value: unknown, min: number, max: number): number {
  return parseBoundedNumber(field, value, 'integer', { min, max });
}

function boundedNumber(field: string, value: unknown, min: number, max: number): number {
  return parseBoundedNumber(field, value, 'decimal', { min, max });
}

export function parseWatchOnly(flag: ValueFlag, value: unknown, field: string): number {
  return flag === 'every'
    ? boundedNumber(field, value, 0.01, 1440)
    : boundedInteger(field, value, 1, 1_000_000);
}

/**
 * The parser of every option, whatever its source: a flag (`--count`) and a
 * config-file key (`config count`) are judged by the same function.
 */
const PARSE = {
  resources: parseResourceList,
  count: parseCount,
  interval: parseIntervalSec,
  'latency-threshold': parseLatencyThresholdMs,
  'loss-threshold': parseLossThresholdPct,
  'jitter-threshold': parseJitterThresholdMs,
  hops: parseHops,
  'loss-rule': parseLossRule,
  'tcp-port': parseTcpPort,
  concurrency: parseConcurrency,
  'baseline-flag': parseBaselineFlag,
  'log-dir': parsePath,
  'gateway-ip': parseIpAddress,
  'openvpn-management': (v: unknown, f: string) => parseManagement(v, f),
  'openvpn-log': parsePath,
  'max-report-bytes': (v: unknown, f: string) => boundedInteger(f, v, 4096, 2 ** 31),
  'keep-reports': (v: unknown, f: string) => boundedInteger(f, v, 0, 100),
  'max-mtr-files': (v: unknown, f: string) => boundedInteger(f, v, 2, 100_000),
  every: (v: unknown, f: string) => parseWatchOnly('every', v, f),
  rounds: (v: unknown, f: string) => parseWatchOnly('rounds', v, f),
} satisfies Record<ValueFlag, (value: unknown, field: string) => unknown>;

/**
 * Checks a parsed config file: an object whose keys are option names, each
 * value judged whole by its option's parser (PARSE), whether a flag overrides
 * it or the command reads it at all: a file is valid or not for every command
 * (check, watch, report, install), as `systemd-analyze verify` or `git config`
 * judge a whole file. `texts`: each member's text in the file
 * (json-member-texts.ts); a value without one (a test's object) is shown as
 * JavaScript writes it.
 */
export function readConfigObject(
  value: unknown,
  source: string,
  texts: ReadonlyMap<string, string> = new Map(),
): ConfigObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError(`config ${source}`, value, 'a JSON object whose keys are option names');
  }
  const result: ConfigObject = {};
  for (const [key, raw] of Object.entries(value)) {
    if (!(VALUE_FLAGS as readonly string[]).includes(key)) {
      throw new InvalidInputError(`config key`, key, `one of ${VALUE_FLAGS.join(', ')}`);
    }
    const text = texts.get(key);
    if (typeof raw === 'number') {
      result[key as ValueFlag] = new WrittenValue(text ?? (Object.is(raw, -0) ? '-0' : String(raw)), raw);
    } else if (
      typeof raw === 'string' ||
      (Array.isArray(raw) && raw.every((item) => typeof item === 'string'))
    ) {
      result[key as ValueFlag] = raw as string | string[];
    } else {
      throw new InvalidInputError(
        `config ${key}`,
        text === undefined ? raw : new WrittenValue(text, raw),
        'a string, a number or (resources) an array of strings',
      );
    }
    PARSE[key as ValueFlag](result[key as ValueFlag], `config ${key}`);
  }
  return result;
}

export function resolveOptions(
  command: Extract<CommandName, 'check' | 'watch'>,
  argv: ParsedArgv,
  config: ConfigObject,
): CheckOptions | WatchOptions {
  const pick = (flag: ValueFlag): { value: RawValue; field: string } | null => {
    const fromFlag = argv.values[flag];
    if (fromFlag !== undefined) return { value: fromFlag, field: `--${flag}` };
    const fromConfig = config[flag];
    if (fromConfig !== undefined) return { value: fromConfig, field: `config ${flag}` };
    return null;
  };
  const get = <F extends ValueFlag, T>(flag: F, fallback: T): ReturnType<(typeof PARSE)[F]> | T => {
    const found = pick(flag);
    return found === null
      ? fallback
      : (PARSE[flag](found.value, found.field) as ReturnType<(typeof PARSE)[F]>);
  };

  for (const flag of REPORT_FLAGS) {
    const value = argv.report[flag];
    if (value !== undefined) throw new InvalidInputError(`--${flag}`, value, 'only with report');
  }
  const [stray] = Object.entries(argv.install);
  if (stray !== undefined)
    throw new InvalidInputError(`--${stray[0]}`, stray[1], 'only with install or uninstall');
  if (argv.switches['no-enable']) throw new InvalidInputError('option', '--no-enable', 'only with install');
  if (command === 'check') {
    // As flags they are a mistake; in a config file shared by check and watch they are not.
    for (const flag of WATCH_ONLY_FLAGS) {
      const value = argv.values[flag];
      if (value !== undefined) throw new InvalidInputError(`--${flag}`, value, 'only with watch');
      else if (config[flag] !== undefined) parseWatchOnly(flag, config[flag], `config ${flag}`);
    }
  }

  const resourcesRaw = pick('resources');
  if (resourcesRaw === null) {
    throw new InvalidInputError(
      '--resources',
      undefined,
      'a comma-separated list of IPs, host names or URLs',
    );
  }
  const options: CheckOptions = {
    resources: parseResourceList(resourcesRaw.value, resourcesRaw.field),
    settings: {
      count: get('count', DEFAULTS.count),
      intervalSec: get('interval', DEFAULTS.intervalSec),
      latencyThresholdMs: get('latency-threshold', DEFAULTS.latencyThresholdMs),
      lossThresholdPct: get('loss-threshold', DEFAULTS.lossThresholdPct),
      hops: get('hops', DEFAULTS.hops),
      lossRule: get('loss-rule', DEFAULTS.lossRule),
      tcpPort: get('tcp-port', DEFAULTS.tcpPort),
      concurrency: get('concurrency', DEFAULTS.concurrency),
      baselineFlag: get('baseline-flag', DEFAULTS.baselineFlag),
      jitterThresholdMs: get('jitter-threshold', DEFAULTS.jitterThresholdMs),
    },
    logDir: get('log-dir', DEFAULTS.logDir),
    gatewayIp: get('gateway-ip', null),
    openvpnManagement: get('openvpn-management', null),
    openvpnLog: get('openvpn-log', null),
    rotation: {
      maxReportBytes: get('max-report-bytes', ROTATION_DEFAULTS.maxReportBytes),
      keepReports: get('keep-reports', ROTATION_DEFAULTS.keepReports),
      maxMtrFiles: get('max-mtr-files', ROTATION_DEFAULTS.maxMtrFiles),
    },
    json: argv.switches.json,
  };
  checkRoundLength(
    options.settings,
    options.resources.length + 1,
    pick('count')?.field ?? '--count',
    pick('interval')?.field ?? '--interval',
  );
  if (command === 'check') return options;
  const every = pick('every');
  if (every === null)
    throw new InvalidInputError('--every', undefined, 'minutes between rounds, e.g. --every 5');
  return {
    ...options,
    everyMinutes: parseWatchOnly('every', every.value, every.field),
    rounds: get('rounds', null),
  };
}

/**
 * Checked here, before any round, so a bad endpoint fails the command at once
 * instead of every round's gateway lookup. The parser names `--openvpn-management`
 * whatever the source, so a config-file value is renamed to its key.
 */
function parseManagement(value: unknown, field: string): string {
  const text = typeof value === 'string' ? value : '';
  try {
    parseManagementEndpoint(text);
  } catch (error) {
    if (error instanceof InvalidInputError) {
      throw new InvalidInputError(field, value, error.allowed, { cause: error });
    }
    throw error;
  }
  return text;
}

/** Neither value is wrong alone; together they must keep the round's worst case within MAX_ROUND_MS. */
function checkRoundLength(
  settings: RoundSettings,
  paths: number,
  countField: string,
  intervalField: string,
): void {
  const worstMs = roundWorstCaseMs(settings, paths);
  if (worstMs > MAX_ROUND_MS) {
    throw new InvalidInputError(
      `${countField} × ${intervalField}`,
      `${settings.count} × ${settings.intervalSec} s`,
      `a round whose worst case (mtr, then the TCP/HTTP fallback, for ${paths} path(s) ${settings.concurrency} at a time: ${Math.ceil(worstMs / 1000)} s) is at most ${MAX_ROUND_MS / 1000} s; lower the count or the interval, or raise the concurrency`,
    );
  }
}
