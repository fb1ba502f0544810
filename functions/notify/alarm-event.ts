/**
 * Reads the EventBridge events CloudWatch sends when an alarm changes state
 * (source `aws.cloudwatch`; CloudWatch User Guide, "Alarm events and
 * EventBridge"):
 *
 * - `CloudWatch Alarm State Change`: `detail.alarmName`, `detail.state` and
 *   `detail.previousState` (`value` OK | ALARM | INSUFFICIENT_DATA, `reason`,
 *   `reasonData` (JSON text, optional), `timestamp` such as
 *   `2019-10-02T17:04:40.989+0000`: when the alarm entered that state),
 *   `detail.configuration` (`description`, `metrics[]` with `metricStat` or
 *   `expression`); `resources[0]` is the alarm's ARN.
 * - `CloudWatch Alarm Contributor State Change` (Metrics Insights alarms with
 *   GROUP BY, one event per time series): `detail.alarmContributor`
 *   (`id`, `attributes` such as `{ "InstanceId": "i-..." }`), `detail.state`
 *   without `reasonData`, and no `previousState`.
 *
 * Everything here comes from AWS, but it is read defensively all the same
 * (optional fields absent, types checked, text bounded): a malformed event is
 * an EventError naming what is missing, never a crash deeper in.
 */
import { InvalidInputError } from '../../common/errors.ts';
import type { AlarmState } from './alarm-kinds.ts';

export const STATE_CHANGE = 'CloudWatch Alarm State Change';
export const CONTRIBUTOR_STATE_CHANGE = 'CloudWatch Alarm Contributor State Change';

export interface AlarmChange {
  detailType: typeof STATE_CHANGE | typeof CONTRIBUTOR_STATE_CHANGE;
  /** EventBridge's event id (unique per event; the same on a retried delivery). */
  eventId: string;
  alarmName: string;
  /** arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>, when the event names it. */
  alarmArn: string | null;
  partition: string;
  region: string;
  account: string;
  state: AlarmState;
  /** CloudWatch's own words for the transition (bounded). */
  reason: string;
  /** When the alarm (or contributor) entered `state`, epoch ms. */
  at: number;
  previous: { state: AlarmState; at: number | null; reason: string } | null;
  contributor: { id: string; attributes: Record<string, string> } | null;
  description: string | null;
  /** Metric names the alarm reads (MetricStat names and names in expressions). */
  metricNames: string[];
  /** The alarm evaluates a Metrics Insights query with GROUP BY: a multi time series alarm. */
  grouped: boolean;
  /** The alarm's period in seconds (`metricStat.period` or a query's `period`), when the event gives one. */
  periodSeconds: number | null;
  /** The dimensions of the metrics it reads, e.g. `QueueName` for the dead-letter alarm. */
  dimensions: Record<string, string>;
}

const STATES: readonly AlarmState[] = ['OK', 'ALARM', 'INSUFFICIENT_DATA'];
/** CloudWatch state reasons are at most 1023 characters (AlarmContributor, MetricAlarm API reference). */
const MAX_REASON_CHARS = 1023;
const MAX_DESCRIPTION_CHARS = 1024;
/** Alarm names: 1-255 characters (PutMetricAlarm API reference). */
const MAX_ALARM_NAME_CHARS = 255;
const ALARM_ARN = /^arn:(aws[a-z-]*):cloudwatch:([a-z0-9-]+):(\d{12}):alarm:(.+)$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, max: number): string | null =>
  typeof v === 'string' ? (v.length <= max ? v : `${v.slice(0, max - 1)}…`) : null;

/**
 * CloudWatch writes `+0000` for the zone, which ECMAScript's date format does
 * not define; `+00:00` it does. Returns epoch ms, or null when not a time.
 */
export function parseAlarmTimestamp(value: unknown): number | null {
  if (typeof value !== 'string' || value.length > 40) return null;
  const normalised = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(normalised);
  return Number.isFinite(ms) ? ms : null;
}

function stateOf(v: unknown): AlarmState | null {
  return typeof v === 'string' && (STATES as readonly string[]).includes(v) ? (v as AlarmState) : null;
}

interface MetricsRead {
  names: string[];
  grouped: boolean;
  periodSeconds: number | null;
  dimensions: Record<string, string>;
}

function metricsOf(configuration: unknown): MetricsRead {
  const names = new Set<string>();
  const dimensions: Record<string, string> = {};
  let grouped = false;
  let periodSeconds: number | null = null;
  const metrics =
    isObject(configuration) && Array.isArray(configuration.metrics) ? configuration.metrics : [];
  for (const m of metrics.slice(0, 20)) {
    if (!isObject(m)) continue;
    const metricStat = isObject(m.metricStat) ? m.metricStat : null;
    const stat = isObject(metricStat?.metric) ? metricStat.metric : null;
    const name = text(stat?.name, 255);
    if (name !== null) names.add(name);
    if (isObject(stat?.dimensions)) {
      for (const [key, v] of Object.entries(stat.dimensions).slice(0, 30)) {
        const value = text(v, 1024);
        if (value !== null && key.length <= 255) dimensions[key] = value;
      }
    }
    const period = metricStat?.period ?? m.period;
    if (periodSeconds === null && typeof period === 'number' && Number.isInteger(period) && period > 0) {
      periodSeconds = period;
    }
    const expression = text(m.expression, 2048);
    if (expression !== null) {
      if (/\bGROUP\s+BY\b/i.test(expression)) grouped = true;
      // SELECT MAX(HostLatencyMs) FROM ...: the metric inside the aggregate.
      for (const match of expression.matchAll(/\b[A-Z]+\(\s*([A-Za-z][\w.-]{0,254})\s*\)/g)) {
        if (match[1] !== undefined) names.add(match[1]);
      }
    }
  }
  return { names: [...names], grouped, periodSeconds, dimensions };
}

/** Throws InvalidInputError naming the first field that is missing or malformed. */
export function parseAlarmEvent(event: unknown): AlarmChange {
  const fail = (field: string, value: unknown, allowed: string): never => {
    throw new InvalidInputError(`alarm event ${field}`, value, allowed);
  };
  if (!isObject(event)) return fail('', event, 'an EventBridge event object');
  const detailType = event['detail-type'];
  if (detailType !== STATE_CHANGE && detailType !== CONTRIBUTOR_STATE_CHANGE) {
    return fail('detail-type', detailType, `"${STATE_CHANGE}" or "${CONTRIBUTOR_STATE_CHANGE}"`);
  }
  const detail = event.detail;
  if (!isObject(detail)) return fail('detail', detail, 'an object');
  const resources = Array.isArray(event.resources) ? event.resources : [];
  const arnMatch = resources
    .map((r) => (typeof r === 'string' ? ALARM_ARN.exec(r) : null))
    .find((m): m is RegExpExecArray => m !== null);
  const alarmName = text(detail.alarmName, MAX_ALARM_NAME_CHARS) ?? arnMatch?.[4] ?? null;
  if (alarmName === null || alarmName === '')
    return fail('detail.alarmName', detail.alarmName, 'an alarm name');
  const state = isObject(detail.state) ? detail.state : null;
  const value = stateOf(state?.value);
  if (value === null) return fail('detail.state.value', state?.value, STATES.join(', '));
  const at = parseAlarmTimestamp(state?.timestamp) ?? parseAlarmTimestamp(event.time);
  if (at === null) return fail('detail.state.timestamp', state?.timestamp, 'an ISO 8601 time');
  const previousState = isObject(detail.previousState) ? detail.previousState : null;
  const previousValue = stateOf(previousState?.value);
  const contributor = isObject(detail.alarmContributor) ? detail.alarmContributor : null;
  const attributes: Record<string, string> = {};
  if (contributor !== null && isObject(contributor.attributes)) {
    for (const [key, v] of Object.entries(contributor.attributes).slice(0, 30)) {
      const attribute = text(v, 1024);
      if (attribute !== null && key.length <= 255) attributes[key] = attribute;
    }
  }
  const configuration = isObject(detail.configuration) ? detail.configuration : null;
  const metrics = metricsOf(configuration);
  return {
    detailType,
    eventId: text(event.id, 64) ?? '',
    alarmName,
    alarmArn: arnMatch?.[0] ?? null,
    partition: arnMatch?.[1] ?? 'aws',
    region: text(event.region, 32) ?? arnMatch?.[2] ?? '',
    account: text(event.account, 12) ?? arnMatch?.[3] ?? '',
    state: value,
    reason: text(state?.reason, MAX_REASON_CHARS) ?? '',
    at,
    previous:
      previousValue === null
        ? null
        : {
            state: previousValue,
            at: parseAlarmTimestamp(previousState?.timestamp),
            reason: text(previousState?.reason, MAX_REASON_CHARS) ?? '',
          },
    contributor: contributor === null ? null : { id: text(contributor.id, 1024) ?? '', attributes },
    description: text(configuration?.description, MAX_DESCRIPTION_CHARS),
    metricNames: metrics.names,
    grouped: metrics.grouped,
    periodSeconds: metrics.periodSeconds,
    dimensions: metrics.dimensions,
  };
}
