/**
 * Configuration of the Lambda functions, read once from the environment that
 * serverless.yml sets. Every value is validated here so that a bad stage
 * parameter fails the first invocation with a message naming the variable,
 * instead of producing SSM calls that the API rejects for the whole fleet.
 */
import { InvalidInputError } from '../common/errors.ts';
import { METRIC_GRANULARITIES, METRIC_NAMESPACE, type MetricGranularity } from '../common/metric-names.ts';
import type { RoundSettings } from '../common/result-schema.ts';
import {
  DEFAULTS,
  formatNumber,
  formatSwitch,
  parseBaselineFlag,
  parseBoundedNumber,
  parseCount,
  parseHops,
  parseIntervalSec,
  parseJitterThresholdMs,
  parseLatencyThresholdMs,
  parseLossRule,
  parseLossThresholdPct,
  parsePath,
  parseResourceList,
  parseTcpPort,
} from '../common/settings.ts';
import { RESOURCES_MAX_CHARS, RESOURCES_MIN_CHARS } from '../common/ssm-parameters.ts';
import { STACK_PARAM_DEFAULTS } from '../common/stack-params.ts';
import { TABLE_NAME } from './aws/claims-table.ts';
import { parseMaintenanceUntil } from './dispatch/maintenance.ts';
import { parseParameterName, parseParameterPath } from './dispatch/resource-parameters.ts';

/**
 * The per-host settings a tag can override; the SSM parameters are derived from
 * them. The agent's own round settings, less what the agent decides itself.
 */
export type HostSettings = Omit<RoundSettings, 'concurrency'> & {
  /** Normalised comma-separated list of resources. */
  resources: string;
};

export interface FunctionConfig {
  stage: string;
  logGroupName: string;
  documentName: string;
  collectQueueUrl: string;
  /** The DynamoDB table of job and round claims (stack/claims-table.ts). */
  claimsTableName: string;
  tagKey: string;
  tagValue: string;
  metricGranularity: MetricGranularity;
  defaults: HostSettings;
  /**
   * Parameter Store parameter holding the default resource list (stage param
   * resourcesParameter); when set, dispatch reads it each round and it replaces
   * `defaults.resources`.
   */
  defaultResourcesParameter: string | null;
  /** Path prefix every resource-list parameter must lie under (stage param resourcesParameterPath). */
  resourcesParameterPath: string;
  /** Longest resource list the deployed SSM document admits (computed at package time). */
  resourcesMaxChars: number;
  logDir: string;
  allowInstall: boolean;
  /** SSM delivery timeout (SendCommand TimeoutSeconds). */
  commandTimeoutSeconds: number;
  /** The document's executionTimeout: bounds one run on a host. */
  executionTimeoutSeconds: number;
  metricsNamespace: string;
  serviceName: string;
  /** The document's step name for GetCommandInvocation; optional for a one-step document. */
  pluginName: string | undefined;
  /**
   * The stage's maintenance window end (stage param maintenanceUntil), an
   * ISO-8601 time; null: none. Its format is checked here; dispatch applies
   * it each round (functions/dispatch/maintenance.ts).
   */
  maintenanceUntil: string | null;
}

type Env = Record<string, string | undefined>;

// Values as given, never trimmed: most are stage params, judged at package time
// by the same parsers as written (stack/agent-settings.ts), and a value must
// not pass here that packaging, a flag or a tag would refuse.
function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new InvalidInputError(name, value, `environment variable ${name} must be set (see serverless.yml)`);
  }
  return value;
}

function optional(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

function integerInRange(env: Env, name: string, min: number, max: number): number {
  return parseBoundedNumber(name, required(env, name), 'integer', { min, max });
}

const TAG_PART = /^[\w .:/=+\-@]{1,128}$/;

export function loadConfig(env: Env = process.env): FunctionConfig {
  const granularity = required(env, 'METRIC_GRANULARITY');
  if (!(METRIC_GRANULARITIES as readonly string[]).includes(granularity)) {
    throw new InvalidInputError(
      'METRIC_GRANULARITY',
      granularity,
      `one of ${METRIC_GRANULARITIES.join(', ')}`,
    );
  }
  const allowInstall = required(env, 'ALLOW_INSTALL');
  if (allowInstall !== 'true' && allowInstall !== 'false') {
    throw new InvalidInputError('ALLOW_INSTALL', allowInstall, 'true or false');
  }
  const tagKey = optional(env, 'TAG_KEY', STACK_PARAM_DEFAULTS.tagKey);
  const tagValue = optional(env, 'TAG_VALUE', STACK_PARAM_DEFAULTS.tagValue);
  for (const [name, value] of [
    ['TAG_KEY', tagKey],
    ['TAG_VALUE', tagValue],
  ] as const) {
    if (!TAG_PART.test(value))
      throw new InvalidInputError(name, value, 'an EC2 tag key/value (1-128 characters)');
  }
  const queueUrl = required(env, 'COLLECT_QUEUE_URL');
  if (!/^https?:\/\//.test(queueUrl))
    throw new InvalidInputError('COLLECT_QUEUE_URL', queueUrl, 'an SQS queue URL');
  const claimsTableName = required(env, 'CLAIMS_TABLE_NAME');
  if (!TABLE_NAME.test(claimsTableName))
    throw new InvalidInputError(
      'CLAIMS_TABLE_NAME',
      claimsTableName,
      'a DynamoDB table name: 3-255 letters, digits, _ - and .',
    );
  const resources = parseResourceList(required(env, 'DEFAULT_RESOURCES'), 'DEFAULT_RESOURCES');
  const pluginName = env.PLUGIN_NAME;
  const parameterPath = parseParameterPath(
    optional(env, 'RESOURCES_PARAMETER_PATH', STACK_PARAM_DEFAULTS.resourcesParameterPath),
    'RESOURCES_PARAMETER_PATH',
  );
  const defaultParameter = optional(env, 'DEFAULT_RESOURCES_PARAMETER', '');
  const maintenanceUntil = optional(env, 'MAINTENANCE_UNTIL', '');
  // The format only: whether the window is open, ended or too far ahead depends on the round's clock.
  if (maintenanceUntil !== '') parseMaintenanceUntil(maintenanceUntil, 'MAINTENANCE_UNTIL', null);
  return {
    stage: required(env, 'STAGE'),
    logGroupName: required(env, 'LOG_GROUP_NAME'),
    documentName: required(env, 'DOCUMENT_NAME'),
    collectQueueUrl: queueUrl,
    claimsTableName,
    tagKey,
    tagValue,
    metricGranularity: granularity as MetricGranularity,
    defaults: {
      resources: resources.map((r) => r.target).join(','),
      count: parseCount(required(env, 'DEFAULT_COUNT'), 'DEFAULT_COUNT'),
      intervalSec: parseIntervalSec(required(env, 'DEFAULT_INTERVAL_SEC'), 'DEFAULT_INTERVAL_SEC'),
      latencyThresholdMs: parseLatencyThresholdMs(
        required(env, 'DEFAULT_LATENCY_THRESHOLD_MS'),
        'DEFAULT_LATENCY_THRESHOLD_MS',
      ),
      lossThresholdPct: parseLossThresholdPct(
        required(env, 'DEFAULT_LOSS_THRESHOLD_PCT'),
        'DEFAULT_LOSS_THRESHOLD_PCT',
      ),
      hops: parseHops(required(env, 'DEFAULT_HOPS'), 'DEFAULT_HOPS'),
      lossRule: parseLossRule(required(env, 'DEFAULT_LOSS_RULE'), 'DEFAULT_LOSS_RULE'),
      tcpPort: parseTcpPort(required(env, 'DEFAULT_TCP_PORT'), 'DEFAULT_TCP_PORT'),
      baselineFlag: parseBaselineFlag(
        optional(env, 'DEFAULT_BASELINE_FLAG', formatSwitch(DEFAULTS.baselineFlag)),
        'DEFAULT_BASELINE_FLAG',
      ),
      jitterThresholdMs: parseJitterThresholdMs(
        optional(env, 'DEFAULT_JITTER_THRESHOLD_MS', formatNumber(DEFAULTS.jitterThresholdMs)),
        'DEFAULT_JITTER_THRESHOLD_MS',
      ),
    },
    defaultResourcesParameter:
      defaultParameter === ''
        ? null
        : parseParameterName(defaultParameter, 'DEFAULT_RESOURCES_PARAMETER', parameterPath),
    resourcesParameterPath: parameterPath,
    resourcesMaxChars: parseBoundedNumber(
      'RESOURCES_MAX_CHARS',
      optional(env, 'RESOURCES_MAX_CHARS', String(RESOURCES_MAX_CHARS)),
      'integer',
      { min: RESOURCES_MIN_CHARS, max: RESOURCES_MAX_CHARS },
    ),
    logDir: parsePath(required(env, 'LOG_DIR'), 'LOG_DIR'),
    allowInstall: allowInstall === 'true',
    commandTimeoutSeconds: integerInRange(env, 'COMMAND_TIMEOUT_SECONDS', 30, 2_592_000),
    executionTimeoutSeconds: integerInRange(env, 'EXECUTION_TIMEOUT_SECONDS', 1, 172_800),
    metricsNamespace: optional(env, 'POWERTOOLS_METRICS_NAMESPACE', METRIC_NAMESPACE),
    serviceName: optional(env, 'POWERTOOLS_SERVICE_NAME', 'cloudconnexa-monitor'),
    pluginName: pluginName === undefined || pluginName === '' ? undefined : pluginName,
    maintenanceUntil: maintenanceUntil === '' ? null : maintenanceUntil,
  };
}
