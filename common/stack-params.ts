/**
 * Defaults of the stack's parameters (`--param="name=value"` on `serverless
 * deploy`/`package`, or a `params.<stage>` block in serverless.yml). This is
 * the one place they are written: serverless.yml reads them through
 * stack/params.cjs, the agent settings among them come from
 * common/settings.ts DEFAULTS, functions/config.ts and the SSM document fall
 * back to the same values, and a template test checks the README's table
 * against this module.
 *
 * Values are strings because most of them become Lambda environment variables
 * or CloudFormation properties.
 */

import { DEFAULTS, formatNumber, formatSwitch } from './settings.ts';
import { DEFAULT_STACK_RESOURCES } from './ssm-parameters.ts';

export const STACK_PARAM_DEFAULTS = {
  /** Enrollment: EC2 instances carrying this tag key with this value are checked. */
  tagKey: 'CloudConnexaMonitor',
  tagValue: 'enabled',
  /** How often a round runs (EventBridge schedule expression). */
  schedule: 'rate(5 minutes)',
  /** Alarm period in seconds; equal to the schedule so each period holds one round. */
  alarmPeriodSeconds: '300',
  /**
   * Alarm sensitivity, M of N: an alarm goes to ALARM when M (`...Datapoints`,
   * CloudFormation's DatapointsToAlarm) of the last N periods (`...Periods`,
   * EvaluationPeriods) breach. Checked at package time (stack/alarm-sensitivity.ts).
   */
  hostsFlaggedAlarmDatapoints: '2',
  hostsFlaggedAlarmPeriods: '3',
  worstHostLatencyAlarmDatapoints: '2',
  worstHostLatencyAlarmPeriods: '3',
  worstHostLossAlarmDatapoints: '2',
  worstHostLossAlarmPeriods: '3',
  tunnelsDownAlarmDatapoints: '2',
  tunnelsDownAlarmPeriods: '3',
  monitoringBlindAlarmDatapoints: '2',
  monitoringBlindAlarmPeriods: '3',
  dispatchFailingAlarmDatapoints: '1',
  dispatchFailingAlarmPeriods: '1',
  deadLetterQueueAlarmDatapoints: '1',
  deadLetterQueueAlarmPeriods: '1',
  notifierFailingAlarmDatapoints: '1',
  notifierFailingAlarmPeriods: '1',
  pathChangesAlarmDatapoints: '1',
  pathChangesAlarmPeriods: '1',
  latencyAnomalyAlarmDatapoints: '2',
  latencyAnomalyAlarmPeriods: '3',
  /**
   * A fleet-wide maintenance window: until this ISO-8601 time (with a zone, at
   * most 30 days ahead; functions/dispatch/maintenance.ts) every host is
   * measured and recorded but kept out of the flag alarms. Empty: none.
   */
  maintenanceUntil: '',
  /**
   * Resources every host checks unless its tags name others: comma-separated
   * IPs, host names or http(s) URLs. The loopback default only proves the
   * pipeline end to end. Lambda allows 4 KB of environment in all: use
   * resourcesParameter for a long list.
   */
  resources: DEFAULT_STACK_RESOURCES,
  /**
   * Name of an SSM Parameter Store parameter (String or StringList, under
   * resourcesParameterPath) holding the default resource list; when set it
   * replaces `resources`. Empty: none.
   */
  resourcesParameter: '',
  /**
   * Parameter Store path prefix that resource-list parameters (the stage
   * default and `<tagKey>:ResourcesParameter` tags) must live under; the
   * dispatcher may read only parameters below it. Starts and ends with `/`.
   */
  resourcesParameterPath: '/cloudconnexa/',
  /** Flag a resource when its latency (ms) through the first `hops` hops exceeds this. */
  latencyThresholdMs: formatNumber(DEFAULTS.latencyThresholdMs),
  /** Flag a resource when its loss (%) exceeds this. */
  lossThresholdPct: formatNumber(DEFAULTS.lossThresholdPct),
  /** Probes per resource and the seconds between them (a round takes about count x interval). */
  count: formatNumber(DEFAULTS.count),
  intervalSec: formatNumber(DEFAULTS.intervalSec),
  /** How many first hops (the CloudConnexa side) are checked for latency. */
  hops: formatNumber(DEFAULTS.hops),
  /** persistent: loss counts only when it persists to the last hop; any-hop: the old tool's rule. */
  lossRule: DEFAULTS.lossRule,
  /** TCP port used when a resource ignores ICMP. */
  tcpPort: formatNumber(DEFAULTS.tcpPort),
  /** on: hosts also flag latency far above the resource's own recent rounds (agent --baseline-flag). */
  baselineFlag: formatSwitch(DEFAULTS.baselineFlag),
  /** Flag a resource when its mean jitter (ms, mtr's Javg) exceeds this; 0 = off. */
  jitterThresholdMs: formatNumber(DEFAULTS.jitterThresholdMs),
  /** Directory on each host for the old tool's JSON report and MTR files. */
  logDir: DEFAULTS.logDir,
  /** 'true' lets the SSM document install node and mtr with apt-get/dnf/yum when missing. */
  allowInstall: 'false',
  /** Optional e-mail subscription to the alarm topic; '' creates none. */
  alarmEmail: '',
  /** 'true': an alarm when any host reports a path change (stack/history-alarms.ts). */
  pathChangeAlarm: 'false',
  /**
   * CloudWatch anomaly detection alarms on latency: '' none, or a
   * comma-separated list of `fleet` (the fleet's host latencies) and instance
   * ids (that host's HostLatencyMs); stack/history-alarms.ts.
   */
  latencyAnomalyAlarms: '',
  /**
   * Central log group. Its name is fixed by default so that the old tool's
   * metric filter and queries keep working, but only ONE stack per account and
   * region can own a given name: give every other stage its own.
   */
  logGroupName: 'CloudConnexa-Monitor-Logs',
  /**
   * 'true': the log group already exists (the old script's CloudWatch agent
   * created it on its first push): the stack uses it by name, creates no log
   * group and leaves its retention alone. 'false': the stack creates it.
   */
  adoptLogGroup: 'false',
  /** Days CloudWatch Logs keeps the functions' log groups, and the central one when the stack creates it. */
  logRetentionDays: '30',
  /**
   * Custom metrics written per host: fleet = none (fleet figures only,
   * cheapest); host = 3 per host; resource = host + 2 per resource per host.
   * The worst-host alarms need host or resource.
   */
  metricGranularity: 'host',
  /** SendCommand TimeoutSeconds: how long SSM tries to deliver the command (30..2592000). */
  commandTimeoutSeconds: '120',
  /** The document's timeoutSeconds: bounds one run on a host; keep it below the schedule interval. */
  executionTimeoutSeconds: '240',
  /** Collector concurrency cap (SQS event source maximumConcurrency, at least 2). */
  collectConcurrency: '5',
  // --- Monitor host (stack/monitor-host.ts): one EC2 instance that joins
  // CloudConnexa as a connector and is enrolled by the tag above. ---
  /** 'true' adds the monitor host to the stack; 'false' adds nothing. */
  monitorHost: 'false',
  /** SecureString parameter holding the connector token (required with monitorHost=true). */
  connectorTokenParameter: '',
  /** ARN of the customer managed KMS key encrypting that parameter; '' = the AWS managed key aws/ssm. */
  connectorTokenKmsKeyArn: '',
  /** Subnet and its VPC for the instance (required with monitorHost=true); it needs outbound internet access. */
  monitorHostSubnetId: '',
  monitorHostVpcId: '',
  /** Graviton (arm64) burstable: 2 vCPUs, 1 GiB, enough for OpenVPN 3, node and mtr. */
  monitorHostInstanceType: 't4g.micro',
  /** AWS's public parameter naming the current Ubuntu LTS image, resolved by EC2 when the instance launches. */
  monitorHostImageParameter:
    '/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id',
  /** 'true' when the connector routes a network's traffic (source/destination check off, IP forwarding on). */
  monitorHostRoutesTraffic: 'false',

  // --- Notifications (functions/notify, stack/notify.ts) ---
  /**
   * Name of an SSM Parameter Store SecureString holding a webhook URL the
   * notifier POSTs each notification to (JSON). The name only: the URL never
   * enters the template. '' sends none.
   */
  webhookUrlParameter: '',
  /** Slack delivery through AWS Chatbot (Amazon Q Developer in chat applications): both or neither. */
  slackWorkspaceId: '',
  slackChannelId: '',
  /** Microsoft Teams delivery through the same service: all three or none. */
  teamsTenantId: '',
  teamsTeamId: '',
  teamsChannelId: '',
} as const;

export type StackParamName = keyof typeof STACK_PARAM_DEFAULTS;

/**
 * Longest `resources` stage param. It becomes the DEFAULT_RESOURCES variable,
 * and Lambda allows 4 KB for all of a function's environment variables (keys
 * and values; Lambda quotas); the others take under 1 KB. Longer lists belong
 * in Parameter Store (`resourcesParameter`), checked at package time.
 */
export const STAGE_RESOURCES_MAX_CHARS = 3_000;
