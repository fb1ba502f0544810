/**
 * Parameters of the SSM command document. The document declares each with
 * `allowedPattern` (checked by the SSM API) and `interpolationType: ENV_VAR`
 * (so the value reaches the script as the environment variable `SSM_<Name>`
 * and is never pasted into shell text). The agent validates every value again.
 *
 * Every pattern and default is derived from common/settings.ts: numbers from
 * its one number grammar (numberPattern) and LIMITS, resources from its
 * character class, defaults from DEFAULTS. Nothing here restates a rule.
 */
import { InvalidInputError } from './errors.ts';
import {
  DEFAULTS,
  formatNumber,
  formatSwitch,
  LIMITS,
  LOSS_RULES,
  NUMBER_KINDS,
  numberMaxLength,
  numberPattern,
  RESOURCE_CHARS,
  SWITCH_VALUES,
} from './settings.ts';

export interface SsmParameterSpec {
  name: string;
  description: string;
  /** Java-compatible regular expression for the document's allowedPattern. */
  allowedPattern: string;
  /** Longest value the pattern admits; used to prove the 64 KB document limit. */
  maxLength: number;
  default: string;
  /** Agent flag that receives the value. */
  flag: string | null;
}

/**
 * Longest Resources value (the normalised comma-separated list) a command may
 * carry, at most: 8 KiB, the most an advanced Parameter Store parameter holds
 * (standard ones hold 4 KB), so any list a parameter can hold fits when there
 * is room. Command documents are limited to 64 KB and "this quota also
 * includes the content specified for input parameters at runtime" (SSM
 * CreateDocument API reference, Content), and the document already carries the
 * agent bundle: ssm/document.ts gives Resources what is left, up to this, and
 * the stack hands that figure to dispatch (RESOURCES_MAX_CHARS), which reports
 * a longer list as misconfigured, naming the limit. 50 URLs of 512 characters
 * (25,649 characters) never fit.
 */
export const RESOURCES_MAX_CHARS = 8_192;

/**
 * The least room for Resources a document must leave (50 resources of about
 * 40 characters): below it `serverless package` fails, since the agent has
 * outgrown the command document.
 */
export const RESOURCES_MIN_CHARS = 2_048;

/** The Resources allowedPattern for lists of up to `maxChars` characters: RESOURCE_CHARS plus the comma. */
export function resourcesPattern(maxChars: number): string {
  return `^[${RESOURCE_CHARS},]{1,${maxChars}}$`;
}

/** Reads back the longest list a Resources allowedPattern admits. */
export function resourcesMaxCharsOf(allowedPattern: string): number {
  const match = /\{1,(\d+)\}\$$/.exec(allowedPattern);
  if (match === null) throw new Error(`not a Resources pattern: ${allowedPattern}`);
  return Number(match[1]);
}

/** The default resource list of a stack that was given none: loopback only proves the pipeline. */
export const DEFAULT_STACK_RESOURCES = '127.0.0.1';

function numeric<N extends string>(
  name: N,
  setting: keyof typeof NUMBER_KINDS & keyof typeof DEFAULTS,
  description: string,
  flag: string,
) {
  const kind = NUMBER_KINDS[setting];
  const { max } = LIMITS[setting];
  return {
    name,
    description,
    allowedPattern: numberPattern(kind, max),
    maxLength: numberMaxLength(kind, max),
    default: formatNumber(DEFAULTS[setting]),
    flag,
  };
}

export const SSM_PARAMETERS = [
  {
    name: 'Resources',
    description: 'Comma-separated IPs, host names or http(s) URLs to check.',
    allowedPattern: resourcesPattern(RESOURCES_MAX_CHARS),
    maxLength: RESOURCES_MAX_CHARS,
    default: DEFAULT_STACK_RESOURCES,
    flag: '--resources',
  },
  numeric('Count', 'count', 'Probes per resource.', '--count'),
  numeric('IntervalSec', 'intervalSec', 'Seconds between probes.', '--interval'),
  numeric(
    'LatencyThresholdMs',
    'latencyThresholdMs',
    'Latency above this (ms) is flagged.',
    '--latency-threshold',
  ),
  numeric('LossThresholdPct', 'lossThresholdPct', 'Loss above this (%) is flagged.', '--loss-threshold'),
  numeric('Hops', 'hops', 'How many first hops (the CloudConnexa side) are checked for latency.', '--hops'),
  {
    name: 'LossRule',
    description: 'persistent (loss that persists to the last hop) or any-hop (the old rule).',
    allowedPattern: `^(${LOSS_RULES.join('|')})$`,
    maxLength: Math.max(...LOSS_RULES.map((rule) => rule.length)),
    default: DEFAULTS.lossRule,
    flag: '--loss-rule',
  },
  numeric('TcpPort', 'tcpPort', 'TCP port used when a resource ignores ICMP.', '--tcp-port'),
  numeric(
    'JitterThresholdMs',
    'jitterThresholdMs',
    'Mean jitter above this (ms) is flagged; 0: off.',
    '--jitter-threshold',
  ),
  {
    name: 'BaselineFlag',
    description: "on: also flag latency far above the resource's own recent rounds on the host.",
    allowedPattern: `^(${SWITCH_VALUES.join('|')})$`,
    maxLength: Math.max(...SWITCH_VALUES.map((value) => value.length)),
    default: formatSwitch(DEFAULTS.baselineFlag),
    flag: '--baseline-flag',
  },
  {
    name: 'LogDir',
    description: 'Directory on the host for the JSON report and MTR files.',
    allowedPattern: '^/[A-Za-z0-9._/-]{0,254}$',
    maxLength: 255,
    default: DEFAULTS.logDir,
    flag: '--log-dir',
  },
  {
    name: 'AllowInstall',
    description: 'true: install node and mtr with the host package manager when missing.',
    allowedPattern: '^(true|false)$',
    maxLength: 5,
    default: 'false',
    flag: null,
  },
] as const satisfies readonly SsmParameterSpec[];

export type SsmParameterName = (typeof SSM_PARAMETERS)[number]['name'];

/** Environment variable through which the SSM agent hands a parameter to the script. */
export const ssmEnvName = (name: SsmParameterName): string => `SSM_${name}`;

/** The spec of one parameter. */
export function ssmParameter(name: SsmParameterName): SsmParameterSpec {
  const spec = SSM_PARAMETERS.find((p) => p.name === name);
  if (spec === undefined) throw new Error(`no SSM parameter ${name}`);
  return spec;
}

/**
 * Throws InvalidInputError naming `field` and the value as `given` when `value`
 * does not match the parameter's allowedPattern: what SSM would refuse, for
 * the whole SendCommand, is refused where the value came from.
 */
export function checkAllowedPattern(
  name: SsmParameterName,
  value: string,
  field: string,
  given: unknown = value,
): void {
  const pattern = ssmParameter(name).allowedPattern;
  if (!new RegExp(pattern).test(value)) {
    throw new InvalidInputError(field, given, `a value matching the SSM document pattern ${pattern}`);
  }
}
