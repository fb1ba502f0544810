/**
 * Parameters of the SSM command document. The document declares each with
 * `allowedPattern` (checked by the SSM API) and `interpolationType: ENV_VAR`
 * (so the value reaches the script as the environment variable `SSM_<Name>`
 * and is never pasted into shell text). The agent validates every value again.
 */
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

export const SSM_PARAMETERS = [
  {
    name: 'Resources',
    description: 'Comma-separated IPs, host names or http(s) URLs to check.',
    allowedPattern: '^[A-Za-z0-9.:/\\[\\]%_~?=+,-]{1,4096}$',
    maxLength: 4096,
    default: '127.0.0.1',
    flag: '--resources',
  },
  {
    name: 'Count',
    description: 'Probes per resource.',
    allowedPattern: '^[0-9]{1,3}$',
    maxLength: 3,
    default: '25',
    flag: '--count',
  },
  {
    name: 'IntervalSec',
    description: 'Seconds between probes.',
    allowedPattern: '^[0-9]{1,2}(\\.[0-9]{1,3})?$',
    maxLength: 6,
    default: '1',
    flag: '--interval',
  },
  {
    name: 'LatencyThresholdMs',
    description: 'Latency above this (ms) is flagged.',
    allowedPattern: '^[0-9]{1,5}(\\.[0-9]{1,3})?$',
    maxLength: 9,
    default: '75',
    flag: '--latency-threshold',
  },
  {
    name: 'LossThresholdPct',
    description: 'Loss above this (%) is flagged.',
    allowedPattern: '^[0-9]{1,3}(\\.[0-9]{1,3})?$',
    maxLength: 7,
    default: '5',
    flag: '--loss-threshold',
  },
  {
    name: 'Hops',
    description: 'How many first hops (the CloudConnexa side) are checked for latency.',
    allowedPattern: '^[0-9]{1,2}$',
    maxLength: 2,
    default: '3',
    flag: '--hops',
  },
  {
    name: 'LossRule',
    description: 'persistent (loss that persists to the last hop) or any-hop (the old rule).',
    allowedPattern: '^(persistent|any-hop)$',
    maxLength: 10,
    default: 'persistent',
    flag: '--loss-rule',
  },
  {
    name: 'TcpPort',
    description: 'TCP port used when a resource ignores ICMP.',
    allowedPattern: '^[0-9]{1,5}$',
    maxLength: 5,
    default: '443',
    flag: '--tcp-port',
  },
  {
    name: 'LogDir',
    description: 'Directory on the host for the JSON report and MTR files.',
    allowedPattern: '^/[A-Za-z0-9._/-]{0,254}$',
    maxLength: 255,
    default: '/home/ubuntu/Connexa-Logs',
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
