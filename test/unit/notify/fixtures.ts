/**
 * What the notifier's tests feed it: alarm events shaped like CloudWatch's
 * (CloudWatch User Guide, "Alarm events and EventBridge"), log groups filled
 * with the records the real collector and dispatch code write
 * (functions/logs/records.ts), and a FilterLogEvents stand-in behind
 * aws-sdk-client-mock that filters them the way CloudWatch does for the
 * notifier's patterns (test/helpers/filter-pattern.ts), paginating with nextToken.
 */
import {
  type CloudWatchLogsClient,
  FilterLogEventsCommand,
  type FilterLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { ResourceResult, ResultDocument } from '../../../common/result-schema.ts';
import type { MaintenanceNote } from '../../../functions/dispatch/maintenance.ts';
import type { LogEvent } from '../../../functions/logs/log-writer.ts';
import {
  buildDispatchRecord,
  buildInvocationRecords,
  maintenanceFields,
} from '../../../functions/logs/records.ts';
import type { NotifyConfig } from '../../../functions/notify/notify-config.ts';
import { filterPatternMatches } from '../../helpers/filter-pattern.ts';
import { resultDocument } from '../functions/fixtures.ts';

export const REGION = 'eu-west-1';
export const ACCOUNT = '123456789012';
export const STAGE = 'prod';
export const PREFIX = `cloudconnexa-monitor-${STAGE}-`;
export const MONITOR_GROUP = 'CloudConnexa-Monitor-Logs';
export const DISPATCH_GROUP = `/aws/lambda/cloudconnexa-monitor-${STAGE}-dispatch`;
export const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:cloudconnexa-monitor-${STAGE}-AlarmTopic-ABC`;
export const DLQ_NAME = 'cloudconnexa-monitor-prod-CollectDeadLetterQueue-XYZ';
export const PERIOD_MS = 300_000;

export function notifyConfig(overrides: Partial<NotifyConfig> = {}): NotifyConfig {
  return {
    stage: STAGE,
    region: REGION,
    topicArn: TOPIC,
    alarmNamePrefix: PREFIX,
    monitorLogGroup: MONITOR_GROUP,
    dispatchLogGroup: DISPATCH_GROUP,
    dashboardName: `cloudconnexa-monitor-${STAGE}`,
    webhookParameter: null,
    defaultPeriodSeconds: 300,
    commandTimeoutSeconds: 120,
    executionTimeoutSeconds: 240,
    evaluationPeriods: 3,
    thresholds: { latencyMs: 75, lossPct: 5, hops: 3 },
    ...overrides,
  };
}

export function instance(n: number): string {
  return `i-${n.toString(16).padStart(17, '0')}`;
}

/** `2026-11-26T17:05:00Z` -> `20261126T170500Z-<tag>`, as dispatch names rounds. */
export function roundIdAt(ms: number, tag = '04cddcfb'): string {
  return `${new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}-${tag}`;
}

/** CloudWatch's timestamp form: `2026-11-26T17:11:12.123+0000`. */
export function cwTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

// ------------------------------------------------------------------ events

type State = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

interface MetricSpec {
  metricStat?: { name: string; namespace: string; dimensions: Record<string, string>; stat: string };
  expression?: string;
}

const FLEET = (name: string): MetricSpec => ({
  metricStat: { name, namespace: 'CloudConnexa', dimensions: { Stage: STAGE }, stat: 'Sum' },
});

/** The metrics each stack alarm reads, as its events' `configuration` lists them. */
export const ALARM_METRICS: Record<string, MetricSpec[]> = {
  'hosts-flagged': [FLEET('HostsFlagged')],
  'worst-host-latency': [
    {
      expression: `SELECT MAX(HostLatencyMs) FROM CloudConnexa WHERE Stage = '${STAGE}' GROUP BY InstanceId ORDER BY MAX() DESC LIMIT 100`,
    },
  ],
  'worst-host-loss': [
    {
      expression: `SELECT MAX(HostLossPct) FROM CloudConnexa WHERE Stage = '${STAGE}' GROUP BY InstanceId ORDER BY MAX() DESC LIMIT 100`,
    },
  ],
  'monitoring-blind': [
    { expression: 'IF(enrolled > 0, FILL(failed, 0) + FILL(unreachable, 0), 0)' },
    FLEET('HostsEnrolled'),
    FLEET('HostsFailed'),
  ],
  'dispatch-failing': [
    {
      metricStat: {
        name: 'Errors',
        namespace: 'AWS/Lambda',
        dimensions: { FunctionName: `cloudconnexa-monitor-${STAGE}-dispatch` },
        stat: 'Sum',
      },
    },
  ],
  'collect-dlq-not-empty': [
    {
      metricStat: {
        name: 'ApproximateNumberOfMessagesVisible',
        namespace: 'AWS/SQS',
        dimensions: { QueueName: DLQ_NAME },
        stat: 'Maximum',
      },
    },
  ],
  'tunnels-down': [FLEET('TunnelsDown')],
  'path-changes': [FLEET('PathChanges')],
  // The latency anomaly alarms (stack/history-alarms.ts): the latency, then its band.
  'latency-anomaly-fleet': [
    {
      metricStat: {
        name: 'WorstLatencyMs',
        namespace: 'CloudConnexa',
        dimensions: { Stage: STAGE },
        stat: 'Average',
      },
    },
    { expression: 'ANOMALY_DETECTION_BAND(m0, 3)' },
  ],
  'latency-anomaly-host': [
    {
      metricStat: {
        name: 'HostLatencyMs',
        namespace: 'CloudConnexa',
        dimensions: { Stage: STAGE, InstanceId: instance(3) },
        stat: 'Average',
      },
    },
    { expression: 'ANOMALY_DETECTION_BAND(m0, 3)' },
  ],
};

/** The host the fixture's host latency anomaly alarm watches (ALARM_METRICS['latency-anomaly-host']). */
export const ANOMALY_HOST = instance(3);

/** The anomaly alarms' names, as stack/history-alarms.ts gives them. */
export const ANOMALY_ALARM = {
  fleet: `cloudconnexa-monitor-${STAGE}_latency-anomaly-fleet`,
  host: `cloudconnexa-monitor-${STAGE}_latency-anomaly-${instance(3)}`,
};

function configuration(suffix: string, description: string) {
  return {
    description,
    metrics: (ALARM_METRICS[suffix] ?? [FLEET('Unknown')]).map((m, i) =>
      m.expression !== undefined
        ? { id: `e${i}`, expression: m.expression, returnData: i === 0, period: 300 }
        : {
            id: `m${i}`,
            metricStat: {
              metric: {
                dimensions: m.metricStat?.dimensions,
                name: m.metricStat?.name,
                namespace: m.metricStat?.namespace,
              },
              period: 300,
              stat: m.metricStat?.stat,
            },
            returnData: i === 0,
          },
    ),
  };
}

const alarmArn = (name: string) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`;

/** "CloudWatch Alarm State Change" for the stack alarm `<prefix><suffix>`. */
export function stateChange(
  suffix: string,
  state: State,
  at: number,
  previous: { state: State; at: number } = {
    state: state === 'ALARM' ? 'OK' : 'ALARM',
    at: at - 25 * 60_000,
  },
  options: { reason?: string; description?: string; name?: string } = {},
) {
  const name = options.name ?? `${PREFIX}${suffix}`;
  return {
    version: '0',
    id: `c4c1c1c9-6542-e61b-6ef0-${at.toString(16).padStart(12, '0').slice(-12)}`,
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time: new Date(at).toISOString().replace(/\.\d+Z$/, 'Z'),
    region: REGION,
    resources: [alarmArn(name)],
    detail: {
      alarmName: name,
      configuration: configuration(suffix, options.description ?? `The ${suffix} alarm of the test stack.`),
      previousState: {
        reason: 'Threshold Crossed: earlier',
        reasonData: '{"version":"1.0"}',
        timestamp: cwTime(previous.at),
        value: previous.state,
      },
      state: {
        reason:
          options.reason ??
          `Threshold Crossed: 2 out of the last 3 datapoints [1.0 (26/11/26 17:05:00)] was greater than the threshold (0.0) (minimum 2 datapoints for OK -> ALARM transition).`,
        reasonData: '{"version":"1.0","queryDate":"2026-11-26T17:11:12.985+0000","threshold":0.0}',
        timestamp: cwTime(at),
        value: state,
      },
    },
  };
}

/** "CloudWatch Alarm Contributor State Change": one host of a GROUP BY InstanceId alarm. */
export function contributorChange(suffix: string, state: 'OK' | 'ALARM', at: number, instanceId: string) {
  const name = `${PREFIX}${suffix}`;
  return {
    version: '0',
    id: `6d226bbc-07f0-9a31-3359-${at.toString(16).padStart(12, '0').slice(-12)}`,
    'detail-type': 'CloudWatch Alarm Contributor State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time: new Date(at).toISOString().replace(/\.\d+Z$/, 'Z'),
    region: REGION,
    resources: [alarmArn(name)],
    detail: {
      alarmName: name,
      alarmContributor: { id: `c${instanceId.slice(-15)}`, attributes: { InstanceId: instanceId } },
      state: {
        value: state,
        reason:
          state === 'ALARM'
            ? 'Threshold Crossed: 1 datapoint was greater than the threshold (75.0). The most recent datapoint which crossed the threshold: [120.4 (26/11/26 17:05:00)].'
            : 'Threshold Crossed: no datapoint was greater than the threshold (75.0).',
        timestamp: cwTime(at),
      },
      configuration: configuration(suffix, `The ${suffix} alarm of the test stack.`),
    },
  };
}

// ------------------------------------------------------------------ records

/** A flagged round on one host: `target` slow at the resource side, 30 % loss. */
export function flaggedDocument(
  options: {
    hostname?: string;
    targets?: string[];
    latencyMs?: number;
    lossPct?: number;
    side?: 'tunnel' | 'resource';
  } = {},
): ResultDocument {
  const base = resultDocument({ hostname: options.hostname ?? 'connector-1' }, true);
  const template = base.resources[0] as ResourceResult;
  const targets = options.targets ?? ['10.0.0.1'];
  const latencyMs = options.latencyMs ?? 120;
  const lossPct = options.lossPct ?? 30;
  const resources: ResourceResult[] = targets.map((target, i) => ({
    ...template,
    target,
    address: target,
    latencyMs: i === 0 ? latencyMs : 20,
    lossPct: i === 0 ? lossPct : 0,
    latencyFlag: i === 0 && latencyMs > 75,
    lossFlag: i === 0 && lossPct > 5,
    verdict:
      i !== 0 ? 'ok' : latencyMs > 75 && lossPct > 5 ? 'latency+loss' : latencyMs > 75 ? 'latency' : 'loss',
    trouble:
      i === 0
        ? {
            kind: 'latency',
            hop: options.side === 'tunnel' ? 1 : 2,
            host: options.side === 'tunnel' ? '10.81.0.1' : '10.0.0.1',
            side: options.side ?? 'resource',
          }
        : null,
  }));
  const flagged = resources.filter((r) => r.latencyFlag || r.lossFlag);
  return {
    ...base,
    settings: {
      count: 10,
      intervalSec: 1,
      latencyThresholdMs: 75,
      lossThresholdPct: 5,
      hops: 3,
      lossRule: 'persistent',
      tcpPort: 443,
      concurrency: 51,
      jitterThresholdMs: 0,
    },
    resources,
    summary: {
      resources: resources.length,
      flagged: flagged.length,
      latencyFlag: resources.some((r) => r.latencyFlag),
      lossFlag: resources.some((r) => r.lossFlag),
      worstLatencyMs: Math.max(...resources.map((r) => r.latencyMs ?? 0)),
      worstLossPct: Math.max(...resources.map((r) => r.lossPct)),
      jitterFlag: false,
      worstJitterMs: null,
    },
    seed:
      base.seed === null
        ? null
        : {
            ...base.seed,
            'RESOURCE(S)': targets,
            LATENCY_FLAG: resources.some((r) => r.latencyFlag) ? '1' : '0',
            LOSS_FLAG: resources.some((r) => r.lossFlag) ? '1' : '0',
          },
  };
}

export function cleanDocument(hostname = 'connector-1'): ResultDocument {
  return resultDocument({ hostname, settings: flaggedDocument().settings }, false);
}

export interface HostRound {
  instanceId: string;
  doc?: ResultDocument;
  /** Failed invocation (no document). */
  failed?: { status: string; stderr: string };
  blind?: string;
  /** Dispatch could not send it the command (SendCommand failed): the error's message. */
  dispatchFailed?: string;
  /** Issue 10's optional fields, added to the result record as the extended schema will keep them. */
  tunnel?: unknown;
  pathChanges?: Record<string, unknown>;
  /** Dispatch's maintenance decision for the host, as the collect job carries it to the collector. */
  maintenance?: MaintenanceNote;
}

/** The log events one host's round leaves in its stream: seed, MTR text and result, or a failure / blind record. */
export function hostRoundEvents(roundId: string, at: number, host: HostRound): LogEvent[] {
  if (host.blind !== undefined) {
    return buildDispatchRecord(
      'blind',
      {
        instanceId: host.instanceId,
        roundId,
        status: 'Unreachable',
        pingStatus: 'ConnectionLost',
        lastPingAt: null,
        message: host.blind,
        ...maintenanceFields(host.maintenance),
      },
      at,
    );
  }
  if (host.dispatchFailed !== undefined) {
    return buildDispatchRecord(
      'dispatch-failed',
      {
        instanceId: host.instanceId,
        roundId,
        status: 'SendCommandFailed',
        errorName: 'ThrottlingException',
        error: { code: 'E_AWS', message: host.dispatchFailed },
        ...maintenanceFields(host.maintenance),
      },
      at,
    );
  }
  const doc = host.doc;
  const { events } = buildInvocationRecords(
    {
      instanceId: host.instanceId,
      commandId: 'cmd-1',
      roundId,
      status: host.failed?.status ?? 'Success',
      responseCode: host.failed === undefined ? 0 : 1,
      stdout: doc === undefined ? '' : `${JSON.stringify(doc)}\n`,
      stderr: host.failed?.stderr ?? '',
      sentResources: doc?.resources.map((r) => r.target) ?? null,
      maintenance: host.maintenance ?? null,
    },
    `${roundId}/${host.instanceId}`,
    at,
  );
  if (host.tunnel === undefined && host.pathChanges === undefined) return events;
  return events.map((e) => {
    if (!e.message.startsWith('{"record":"result"')) return e;
    const record = JSON.parse(e.message) as Record<string, unknown> & {
      resources: Record<string, unknown>[];
    };
    if (host.tunnel !== undefined) record.tunnel = host.tunnel;
    for (const r of record.resources) {
      const change = host.pathChanges?.[String(r.target)];
      r.pathChange = change ?? null;
    }
    return { ...e, message: JSON.stringify(record) };
  });
}

// ------------------------------------------------------------------ the fake log groups

export interface StoredEvent {
  stream: string;
  timestamp: number;
  message: string;
}

/** Log groups answering FilterLogEvents like CloudWatch (time window, streams, pattern, pages of `limit`). */
export class FakeLogGroups {
  readonly groups = new Map<string, StoredEvent[]>();
  readonly calls: FilterLogEventsCommandInput[] = [];

  add(group: string, stream: string, events: readonly LogEvent[]): void {
    const list = this.groups.get(group) ?? [];
    for (const e of events) list.push({ stream, timestamp: e.timestamp, message: e.message });
    this.groups.set(group, list);
  }

  /** A whole round written by the collector: each host's events at `at + i` seconds. */
  addRound(roundId: string, at: number, hosts: readonly HostRound[]): void {
    hosts.forEach((h, i) => {
      this.add(MONITOR_GROUP, h.instanceId, hostRoundEvents(roundId, at + i * 1000, h));
    });
  }

  filter(input: FilterLogEventsCommandInput): { events: StoredEvent[]; nextToken?: string } {
    this.calls.push(input);
    const all = (this.groups.get(input.logGroupName ?? '') ?? [])
      .filter((e) => input.logStreamNames === undefined || input.logStreamNames.includes(e.stream))
      .filter(
        (e) =>
          (input.startTime === undefined || e.timestamp >= input.startTime) &&
          (input.endTime === undefined || e.timestamp <= input.endTime),
      )
      .filter(
        (e) => input.filterPattern === undefined || filterPatternMatches(input.filterPattern, e.message),
      )
      .sort((a, b) => a.timestamp - b.timestamp);
    const offset = input.nextToken === undefined ? 0 : Number(input.nextToken);
    const limit = input.limit ?? 10_000;
    const page = all.slice(offset, offset + limit);
    return offset + limit < all.length
      ? { events: page, nextToken: String(offset + limit) }
      : { events: page };
  }

  install(logs: AwsClientStub<CloudWatchLogsClient>): void {
    logs.on(FilterLogEventsCommand).callsFake((input: FilterLogEventsCommandInput) => {
      const { events, nextToken } = this.filter(input);
      return {
        events: events.map((e, i) => ({
          logStreamName: e.stream,
          timestamp: e.timestamp,
          message: e.message,
          eventId: String(i),
        })),
        ...(nextToken === undefined ? {} : { nextToken }),
      };
    });
  }
}
