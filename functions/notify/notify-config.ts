/**
 * The notifier's configuration, read once from the environment serverless.yml
 * sets (the provider's variables and the function's own), each value checked
 * so that a bad one fails the first invocation naming the variable.
 *
 * The function adds only two variables to the provider's (the topic and the
 * webhook parameter's name): Lambda allows 4 KB of environment per function,
 * and the provider's already carry a stage resource list of up to 3,000
 * characters. The rest follows from names the stack gives (checked by a
 * template test): `POWERTOOLS_SERVICE_NAME` is `<service>-<stage>`, which is
 * also the dashboard's name and the prefix of the alarms' names, and the
 * dispatch function's log group is `/aws/lambda/<service>-<stage>-dispatch`.
 * The alarm period and the dead-letter queue's name come with each alarm event.
 */
import { InvalidInputError } from '../../common/errors.ts';
import {
  parseBoundedNumber,
  parseHops,
  parseLatencyThresholdMs,
  parseLossThresholdPct,
} from '../../common/settings.ts';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';
import { parseParameterName } from '../dispatch/resource-parameters.ts';

export interface NotifyConfig {
  stage: string;
  region: string;
  topicArn: string;
  /** `<service>-<stage>-`: the stack's alarm names start with it (alarm-kinds.ts). */
  alarmNamePrefix: string;
  monitorLogGroup: string;
  dispatchLogGroup: string;
  dashboardName: string;
  /** The SecureString holding the webhook URL (never the URL itself); null: no webhook. */
  webhookParameter: string | null;
  /** The alarms' period when an event does not say (the stage default). */
  defaultPeriodSeconds: number;
  /** SSM delivery and run limits: a round's records keep arriving this long after it starts. */
  commandTimeoutSeconds: number;
  executionTimeoutSeconds: number;
  /**
   * The most periods any of the stack's alarms evaluates (the M of N stage
   * params, stack/alarm-sensitivity.ts): how far back the evidence may lie.
   */
  evaluationPeriods: number;
  /** The stage's thresholds (the worst-host alarms compare every host with these). */
  thresholds: { latencyMs: number; lossPct: number; hops: number };
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (value === undefined || value === '') {
    throw new InvalidInputError(
      name,
      env[name],
      `environment variable ${name} must be set (see serverless.yml)`,
    );
  }
  return value;
}

function optional(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? null : value;
}

const integer = (env: Env, name: string, min: number, max: number): number =>
  parseBoundedNumber(name, required(env, name), 'integer', { min, max });

export function loadNotifyConfig(env: Env = process.env): NotifyConfig {
  const topicArn = required(env, 'ALARM_TOPIC_ARN');
  if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(topicArn)) {
    throw new InvalidInputError('ALARM_TOPIC_ARN', topicArn, 'an SNS topic ARN');
  }
  const serviceStage = required(env, 'POWERTOOLS_SERVICE_NAME');
  if (!/^[A-Za-z0-9-]{1,200}$/.test(serviceStage)) {
    throw new InvalidInputError(
      'POWERTOOLS_SERVICE_NAME',
      serviceStage,
      '<service>-<stage>: letters, digits and -',
    );
  }
  const webhook = optional(env, 'WEBHOOK_URL_PARAMETER');
  return {
    stage: required(env, 'STAGE'),
    region: required(env, 'AWS_REGION'),
    topicArn,
    alarmNamePrefix: `${serviceStage}-`,
    monitorLogGroup: required(env, 'LOG_GROUP_NAME'),
    dispatchLogGroup: `/aws/lambda/${serviceStage}-dispatch`,
    dashboardName: serviceStage,
    webhookParameter: webhook === null ? null : parseParameterName(webhook, 'WEBHOOK_URL_PARAMETER', '/'),
    defaultPeriodSeconds: parseBoundedNumber(
      'alarmPeriodSeconds default',
      STACK_PARAM_DEFAULTS.alarmPeriodSeconds,
      'integer',
      { min: 10, max: 86_400 },
    ),
    commandTimeoutSeconds: integer(env, 'COMMAND_TIMEOUT_SECONDS', 30, 2_592_000),
    executionTimeoutSeconds: integer(env, 'EXECUTION_TIMEOUT_SECONDS', 1, 172_800),
    evaluationPeriods:
      optional(env, 'ALARM_MAX_PERIODS') === null
        ? DEFAULT_EVALUATION_PERIODS
        : integer(env, 'ALARM_MAX_PERIODS', 1, 1_440),
    thresholds: {
      latencyMs: parseLatencyThresholdMs(
        required(env, 'DEFAULT_LATENCY_THRESHOLD_MS'),
        'DEFAULT_LATENCY_THRESHOLD_MS',
      ),
      lossPct: parseLossThresholdPct(
        required(env, 'DEFAULT_LOSS_THRESHOLD_PCT'),
        'DEFAULT_LOSS_THRESHOLD_PCT',
      ),
      hops: parseHops(required(env, 'DEFAULT_HOPS'), 'DEFAULT_HOPS'),
    },
  };
}

/** The alarms' default N (common/stack-params.ts), when the environment does not say. */
export const DEFAULT_EVALUATION_PERIODS = 3;

/** The alarms evaluate N periods; a round's last records land command + execution timeout after it starts. */
export function lookbackMs(
  periodSeconds: number,
  config: Pick<NotifyConfig, 'commandTimeoutSeconds' | 'executionTimeoutSeconds' | 'evaluationPeriods'>,
): number {
  return (
    (config.evaluationPeriods * periodSeconds +
      config.commandTimeoutSeconds +
      config.executionTimeoutSeconds) *
    1000
  );
}
