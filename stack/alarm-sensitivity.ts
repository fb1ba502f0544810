/**
 * Alarm sensitivity, M of N rounds, for each of the stack's alarms: an alarm
 * goes to ALARM when M (`<alarm>AlarmDatapoints`, CloudFormation's
 * DatapointsToAlarm) of its last N periods (`<alarm>AlarmPeriods`,
 * EvaluationPeriods) breach. Defaults are in common/stack-params.ts; this
 * module checks the stage params at package time (serverless.yml reaches it
 * through stack/alarm-sensitivity.cjs, each alarm's two properties as
 * `${file(./stack/alarm-sensitivity.cjs):<alarm>.datapoints|periods}`), so a
 * bad value fails `serverless package` naming the param, the value and what
 * is allowed, before CloudFormation would refuse it at deploy time.
 *
 * CloudWatch's limits (PutMetricAlarm; "Limits", Amazon CloudWatch User
 * Guide): 1 <= M <= N; N x period at most one day for a metric or metric math
 * alarm; at most 3 hours for an alarm on a Metrics Insights query, which can
 * only evaluate the latest 3 hours of data. Periods are whole minutes: the
 * stack's metrics have standard (1-minute) resolution, which Metrics Insights
 * also requires.
 */
import { InvalidInputError } from '../common/errors.ts';
import { STACK_PARAM_DEFAULTS } from '../common/stack-params.ts';

/** EvaluationPeriods x Period of a metric or metric math alarm (PutMetricAlarm). */
export const ALARM_WINDOW_MAX_SECONDS = 86_400;
/** A Metrics Insights alarm evaluates only the latest 3 hours of data. */
export const INSIGHTS_ALARM_WINDOW_MAX_SECONDS = 10_800;
/** The dead-letter queue alarm's period: SQS publishes its metrics every 5 minutes. */
export const DEAD_LETTER_QUEUE_ALARM_PERIOD_SECONDS = 300;
/** The notifier-failing alarm's period (stack/notify.ts): Lambda's Errors, per minute. */
export const NOTIFIER_FAILING_ALARM_PERIOD_SECONDS = 60;

/** The stack's alarms whose sensitivity is a stage param; the key prefixes both param names. */
export const SENSITIVE_ALARMS = {
  hostsFlagged: { logicalId: 'HostsFlaggedAlarm', period: 'alarmPeriodSeconds', insights: false },
  worstHostLatency: { logicalId: 'WorstHostLatencyAlarm', period: 'alarmPeriodSeconds', insights: true },
  worstHostLoss: { logicalId: 'WorstHostLossAlarm', period: 'alarmPeriodSeconds', insights: true },
  tunnelsDown: { logicalId: 'TunnelsDownAlarm', period: 'alarmPeriodSeconds', insights: false },
  monitoringBlind: { logicalId: 'MonitoringBlindAlarm', period: 'alarmPeriodSeconds', insights: false },
  dispatchFailing: { logicalId: 'DispatchFailingAlarm', period: 'alarmPeriodSeconds', insights: false },
  deadLetterQueue: {
    logicalId: 'DeadLetterQueueAlarm',
    period: DEAD_LETTER_QUEUE_ALARM_PERIOD_SECONDS,
    insights: false,
  },
  notifierFailing: {
    logicalId: 'NotifierFailingAlarm',
    period: NOTIFIER_FAILING_ALARM_PERIOD_SECONDS,
    insights: false,
  },
  // Optional (stack/history-alarms.ts): with pathChangeAlarm=true, and one per latencyAnomalyAlarms
  // target, all sharing one M of N (the fleet one's logical id is named here).
  pathChanges: { logicalId: 'PathChangesAlarm', period: 'alarmPeriodSeconds', insights: false },
  latencyAnomaly: { logicalId: 'FleetLatencyAnomalyAlarm', period: 'alarmPeriodSeconds', insights: false },
} as const satisfies Record<
  string,
  { logicalId: string; period: 'alarmPeriodSeconds' | number; insights: boolean }
>;

export type SensitiveAlarm = keyof typeof SENSITIVE_ALARMS;

export interface Sensitivity {
  datapoints: number;
  periods: number;
  /** The alarm's period in seconds. */
  period: number;
}

/** The two param names of an alarm, e.g. hostsFlaggedAlarmDatapoints / hostsFlaggedAlarmPeriods. */
export function sensitivityParamNames(alarm: SensitiveAlarm): { datapoints: string; periods: string } {
  return { datapoints: `${alarm}AlarmDatapoints`, periods: `${alarm}AlarmPeriods` };
}

/** Every param this module reads, for the package-time resolver. */
export function sensitivityParams(): string[] {
  return [
    'alarmPeriodSeconds',
    ...Object.keys(SENSITIVE_ALARMS).flatMap((alarm) =>
      Object.values(sensitivityParamNames(alarm as SensitiveAlarm)),
    ),
  ];
}

function wholeNumber(field: string, value: string, min: number, max: number, allowed: string): number {
  const number = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw new InvalidInputError(field, value, allowed);
  return number;
}

/** `alarmPeriodSeconds`: whole minutes, at most one day. */
export function parseAlarmPeriod(value: string): number {
  const field = 'param alarmPeriodSeconds';
  const allowed = `a whole number of minutes in seconds (60, 120, 300, ...), at most ${ALARM_WINDOW_MAX_SECONDS}`;
  const period = wholeNumber(field, value, 60, ALARM_WINDOW_MAX_SECONDS, allowed);
  if (period % 60 !== 0) throw new InvalidInputError(field, value, allowed);
  return period;
}

/**
 * Every alarm's M of N from the stage params (strings, as serverless resolves
 * them; a missing one takes its default). Throws InvalidInputError naming the
 * param, its value and the allowed range.
 */
export function parseAlarmSensitivity(
  params: Readonly<Record<string, string | undefined>>,
): Record<SensitiveAlarm, Sensitivity> {
  const defaults = STACK_PARAM_DEFAULTS as Readonly<Record<string, string>>;
  const read = (name: string): string => params[name] ?? defaults[name] ?? '';
  const alarmPeriod = parseAlarmPeriod(read('alarmPeriodSeconds'));
  const result = {} as Record<SensitiveAlarm, Sensitivity>;
  for (const [alarm, spec] of Object.entries(SENSITIVE_ALARMS) as [
    SensitiveAlarm,
    (typeof SENSITIVE_ALARMS)[SensitiveAlarm],
  ][]) {
    const names = sensitivityParamNames(alarm);
    const period = spec.period === 'alarmPeriodSeconds' ? alarmPeriod : spec.period;
    const windowMax = spec.insights ? INSIGHTS_ALARM_WINDOW_MAX_SECONDS : ALARM_WINDOW_MAX_SECONDS;
    const maxPeriods = Math.floor(windowMax / period);
    const why = spec.insights
      ? `a Metrics Insights alarm evaluates at most ${windowMax / 3600} hours of data`
      : 'CloudWatch evaluates at most one day';
    const periodsValue = read(names.periods);
    const periods = wholeNumber(
      `param ${names.periods}`,
      periodsValue,
      1,
      maxPeriods,
      `a whole number from 1 to ${maxPeriods}: ${maxPeriods} periods of ${period} s (${why})`,
    );
    const datapointsValue = read(names.datapoints);
    const datapoints = wholeNumber(
      `param ${names.datapoints}`,
      datapointsValue,
      1,
      periods,
      `a whole number from 1 to ${names.periods} (${periods}): M of N rounds needs M <= N`,
    );
    result[alarm] = { datapoints, periods, period };
  }
  return result;
}
