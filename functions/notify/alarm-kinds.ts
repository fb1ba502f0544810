/**
 * The stack's alarms as the notifier knows them: one row per alarm, keyed by
 * the part of its name after `<service>-<stage>-` (the names serverless.yml
 * gives them). The same table scopes the EventBridge rule and the notifier's
 * alarm-history permission to exactly these alarms (stack/notify.ts), so an
 * alarm of another stage or stack never reaches this notifier, and a template
 * test checks that every alarm the template declares is in it.
 *
 * Which state changes are notified (the alarms themselves have no SNS actions;
 * EventBridge delivers every transition, the notifier decides):
 * - ALARM, always;
 * - OK after ALARM, always: a recovery, with how long it lasted;
 * - OK after INSUFFICIENT_DATA, only for the monitoring-blind alarm, where it
 *   means rounds run (again); for the others it is a fresh stack's first
 *   evaluation and not news;
 * - INSUFFICIENT_DATA, only for the monitoring-blind alarm: no round ran.
 * The same holds for the latency anomaly alarms, which are named by a
 * pattern (LATENCY_ANOMALY_MARK), not a row: their model has no data for
 * weeks after a deploy, so their INSUFFICIENT_DATA is not news.
 * The Metrics Insights (GROUP BY InstanceId) alarms notify per contributor,
 * i.e. per host ("CloudWatch Alarm Contributor State Change"); their alarm-level
 * change only says how many contributors breached and is not notified again.
 */

export const ALARM_KINDS = [
  'hosts-flagged',
  'worst-host-latency',
  'worst-host-loss',
  'monitoring-blind',
  'dispatch-failing',
  'dead-letter',
  'tunnels-down',
  'path-changes',
  /** The optional latency anomaly detection alarms (stack/history-alarms.ts), named by LATENCY_ANOMALY_MARK. */
  'latency-anomaly',
  /** An alarm of this stack the table does not name (added later): notified with the flagged hosts. */
  'other',
] as const;

export type AlarmKind = (typeof ALARM_KINDS)[number];

export interface StackAlarm {
  kind: Exclude<AlarmKind, 'other' | 'latency-anomaly'>;
  /** The alarm's name is `<service>-<stage>-<suffix>`. */
  suffix: string;
  /** What the alarm means, for subjects and headlines (plain ASCII). */
  title: string;
  /** A Metrics Insights GROUP BY InstanceId alarm: each host is a contributor, notified on its own. */
  perHost: boolean;
  /** Whether INSUFFICIENT_DATA, and OK after it, are news for this alarm. */
  notifyNoData: boolean;
  /**
   * An event alarm (1 of 1 round: something happened) returns to OK the next
   * round whatever happens: its OK is not a recovery, and is not notified.
   */
  event?: boolean;
}

/**
 * Every alarm the stack routes through the notifier. `tunnels-down` and
 * `path-changes` are the TunnelsDown / PathChanges alarms of issue 10: listed
 * so that they are routed the day they are declared with these names (an
 * alarm ARN with no alarm behind it matches nothing).
 */
export const STACK_ALARMS: readonly StackAlarm[] = [
  {
    kind: 'hosts-flagged',
    suffix: 'hosts-flagged',
    title: 'hosts flagged for latency or loss',
    perHost: false,
    notifyNoData: false,
  },
  {
    kind: 'worst-host-latency',
    suffix: 'worst-host-latency',
    title: 'host latency above threshold',
    perHost: true,
    notifyNoData: false,
  },
  {
    kind: 'worst-host-loss',
    suffix: 'worst-host-loss',
    title: 'host loss above threshold',
    perHost: true,
    notifyNoData: false,
  },
  {
    kind: 'monitoring-blind',
    suffix: 'monitoring-blind',
    title: 'monitoring blind',
    perHost: false,
    notifyNoData: true,
  },
  {
    kind: 'dispatch-failing',
    suffix: 'dispatch-failing',
    title: 'dispatch failing',
    perHost: false,
    notifyNoData: false,
  },
  {
    kind: 'dead-letter',
    suffix: 'collect-dlq-not-empty',
    title: 'collection jobs in the dead-letter queue',
    perHost: false,
    notifyNoData: false,
  },
  {
    kind: 'tunnels-down',
    suffix: 'tunnels-down',
    title: 'tunnels down',
    perHost: false,
    notifyNoData: false,
  },
  {
    kind: 'path-changes',
    suffix: 'path-changes',
    title: 'paths changed',
    perHost: false,
    notifyNoData: false,
    event: true,
  },
];

/**
 * The notifier's own failure alarm. Its actions go to the topic directly and
 * it is never routed through the notifier: the plain alarm e-mail that still
 * arrives when the notifier is broken.
 */
export const NOTIFIER_FAILING_SUFFIX = 'notifier-failing';

export function alarmNamePrefix(service: string, stage: string): string {
  return `${service}-${stage}-`;
}

/**
 * The latency anomaly detection alarms (stack/history-alarms.ts), whose names
 * vary with the instances the stage param lists, are named
 * `<service>-<stage>_latency-anomaly-<target>` (`fleet`, or an instance id),
 * and routed by the prefix `<service>-<stage>_latency-anomaly-`
 * (stack/notify.ts). The `_` right after the stage is what scopes it: service
 * and stage names hold only letters, digits and `-` (osls validates both), so
 * no other stage's or service's alarm name can start with this stage's
 * prefix, its anomaly alarms included; a name equal to it would be this
 * stack's own (alarm names are unique per account and region).
 */
export const LATENCY_ANOMALY_MARK = '_latency-anomaly-';
/** The anomaly alarm on the fleet's typical host latency (its name's last part; others end in an instance id). */
export const FLEET_ANOMALY_TARGET = 'fleet';

/** `<service>-<stage>_latency-anomaly-`, from `<service>-<stage>-` (alarmNamePrefix). */
export function anomalyAlarmPrefix(namePrefix: string): string {
  return `${namePrefix.replace(/-$/, '')}${LATENCY_ANOMALY_MARK}`;
}

/** The anomaly alarm's name for `target`: FLEET_ANOMALY_TARGET or an instance id. */
export function anomalyAlarmName(service: string, stage: string, target: string): string {
  return `${anomalyAlarmPrefix(alarmNamePrefix(service, stage))}${target}`;
}

const LATENCY_ANOMALY: KnownAlarm = {
  kind: 'latency-anomaly',
  title: 'latency above its expected band',
  perHost: false,
  notifyNoData: false,
};

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export interface KnownAlarm {
  kind: AlarmKind;
  title: string;
  perHost: boolean;
  notifyNoData: boolean;
  event?: boolean;
}

/**
 * The row for an alarm name, or `other` when the name has the stack's prefix
 * but no row (an alarm added later): then the metrics it reads decide, as far
 * as their names tell (TunnelsDown, PathChanges), else it is shown with the
 * flagged hosts.
 */
export function classifyAlarm(alarmName: string, prefix: string, metricNames: readonly string[]): KnownAlarm {
  if (alarmName.startsWith(anomalyAlarmPrefix(prefix))) return LATENCY_ANOMALY;
  const suffix = alarmName.startsWith(prefix) ? alarmName.slice(prefix.length) : null;
  const row = STACK_ALARMS.find((a) => a.suffix === suffix);
  if (row !== undefined) return row;
  const reads = (word: RegExp) => metricNames.some((m) => word.test(m));
  const by = (kind: StackAlarm['kind']): KnownAlarm => {
    const known = STACK_ALARMS.find((a) => a.kind === kind);
    return {
      kind,
      title: known?.title ?? kind,
      perHost: false,
      notifyNoData: false,
      event: known?.event === true,
    };
  };
  if (reads(/tunnel/i)) return by('tunnels-down');
  if (reads(/path/i)) return by('path-changes');
  return { kind: 'other', title: 'alarm', perHost: false, notifyNoData: false };
}

/**
 * Whether a transition is notified (see the module comment). `if-alarm-before`:
 * an OK after INSUFFICIENT_DATA is a recovery only when the alarm was in ALARM
 * before the gap (ALARM, INSUFFICIENT_DATA, OK); the alarm history tells.
 */
export type NotifyDecision = { decision: 'notify' | 'skip' | 'if-alarm-before'; why: string };

export function shouldNotify(
  alarm: KnownAlarm,
  change: {
    state: AlarmState;
    previousState: AlarmState | null;
    contributor: boolean;
    groupedParent: boolean;
  },
): NotifyDecision {
  if (alarm.perHost && change.groupedParent && !change.contributor) {
    return {
      decision: 'skip',
      why: 'alarm-level change of a per-host alarm: each host is notified on its own',
    };
  }
  switch (change.state) {
    case 'ALARM':
      return { decision: 'notify', why: 'ALARM' };
    case 'INSUFFICIENT_DATA':
      return alarm.notifyNoData
        ? { decision: 'notify', why: 'no data is news for this alarm' }
        : { decision: 'skip', why: 'INSUFFICIENT_DATA is not notified for this alarm' };
    case 'OK':
      if (alarm.event === true) {
        return { decision: 'skip', why: 'an event alarm returns to OK by itself: not a recovery' };
      }
      if (change.contributor || change.previousState === 'ALARM')
        return { decision: 'notify', why: 'recovery' };
      if (alarm.notifyNoData) return { decision: 'notify', why: 'OK after no data is news for this alarm' };
      return {
        decision: 'if-alarm-before',
        why: `OK after ${change.previousState ?? 'an unknown state'}: a recovery only if ALARM came before`,
      };
  }
}
