/**
 * The optional alarms on what the round history adds, decided at package time
 * by stage parameters (all off by default):
 *
 * - `pathChangeAlarm=true`: an alarm when any host reports a path change
 *   (`PathChanges`, Sum over one period above 0). A change is an event, not a
 *   state: the alarm notifies when it fires and returns to OK quietly.
 * - `latencyAnomalyAlarms`: CloudWatch anomaly detection (AWS's model, which
 *   learns hourly, daily and weekly patterns) on latency, as a comma-separated
 *   list of
 *   - `fleet`: the fleet's host latencies: `WorstLatencyMs` carries one data
 *     point per host-round, each host's latency (its worst resource, the value
 *     of `HostLatencyMs`), so its Average over a period is the fleet's typical
 *     host latency;
 *   - instance ids: that host's `HostLatencyMs` (needs metric granularity
 *     `host` or `resource`), at most ANOMALY_LIMITS.maxInstances of them, since
 *     each detector and alarm is a resource of its own and anomaly alarms are
 *     billed as three metrics.
 *   Each is an `AWS::CloudWatch::AnomalyDetector` and an `AWS::CloudWatch::Alarm`
 *   on `ANOMALY_DETECTION_BAND(m, ANOMALY_LIMITS.bandStdDevs)`, in ALARM when
 *   the latency is above the band in 2 of the last 3 periods. The model needs
 *   about two weeks of data to learn weekly patterns; until it has data the
 *   alarm stays INSUFFICIENT_DATA or OK. The alarms are named
 *   `<service>-<stage>_latency-anomaly-<fleet | instance id>`
 *   (functions/notify/alarm-kinds.ts anomalyAlarmName), which the notifier's
 *   second EventBridge rule matches by prefix (stack/notify.ts): they have no
 *   SNS actions, and are notified with the evidence like the others.
 *
 * A bad value fails `serverless package`, naming the param. serverless.yml
 * reaches this module through stack/history-alarms.cjs.
 */
import { InvalidInputError } from '../common/errors.ts';
import {
  DIMENSIONS,
  FLEET_METRICS,
  HOST_METRICS,
  METRIC_GRANULARITIES,
  METRIC_NAMESPACE,
} from '../common/metric-names.ts';
import { anomalyAlarmName, FLEET_ANOMALY_TARGET } from '../functions/notify/alarm-kinds.ts';
import type { Sensitivity } from './alarm-sensitivity.ts';

export const ANOMALY_LIMITS = {
  maxInstances: 20,
  /** Width of the band in standard deviations of the model (the console's default is 2). */
  bandStdDevs: 3,
} as const;

export interface HistoryAlarmParams {
  service: string;
  stage: string;
  pathChangeAlarm: string;
  latencyAnomalyAlarms: string;
  alarmPeriodSeconds: string;
  metricGranularity: string;
  /** M of N (stack/alarm-sensitivity.ts); defaults 1 of 1 (path changes) and 2 of 3 (anomaly). */
  pathChangesAlarm?: Pick<Sensitivity, 'datapoints' | 'periods'>;
  latencyAnomalyAlarm?: Pick<Sensitivity, 'datapoints' | 'periods'>;
}

export interface HistoryAlarmsPlan {
  fragment: { Resources: Record<string, unknown> };
}

const INSTANCE_ID = /^i-[0-9a-f]{8}([0-9a-f]{9})?$/;

function parseBoolean(value: string, field: string): boolean {
  if (value !== 'true' && value !== 'false') throw new InvalidInputError(field, value, 'true or false');
  return value === 'true';
}

/** `fleet` and/or instance ids; throws InvalidInputError naming the param. */
export function parseAnomalyTargets(
  value: string,
  granularity: string,
): { fleet: boolean; instances: string[] } {
  const field = 'param latencyAnomalyAlarms';
  const items = value === '' ? [] : value.split(',').map((item) => item.trim());
  const allowed = `empty (none), or a comma-separated list of "fleet" and EC2 instance ids (i-0123456789abcdef0), at most ${ANOMALY_LIMITS.maxInstances} ids, each once`;
  if (
    items.some((item) => item !== 'fleet' && !INSTANCE_ID.test(item)) ||
    new Set(items).size !== items.length
  ) {
    throw new InvalidInputError(field, value, allowed);
  }
  const instances = items.filter((item) => item !== 'fleet');
  if (instances.length > ANOMALY_LIMITS.maxInstances) throw new InvalidInputError(field, value, allowed);
  if (instances.length > 0 && granularity === 'fleet') {
    throw new InvalidInputError(
      field,
      value,
      'instance ids only with metricGranularity host or resource (HostLatencyMs is not written at fleet granularity); use "fleet" alone',
    );
  }
  return { fleet: items.includes('fleet'), instances };
}

function metric(name: string, dimensions: { Name: string; Value: string }[]) {
  return { Namespace: METRIC_NAMESPACE, MetricName: name, Dimensions: dimensions };
}

/** The detector and the alarm on its band for one latency metric. */
function anomalyPair(
  o: {
    detectorId: string;
    alarmName: string;
    description: string;
    period: number;
    sensitivity: Pick<Sensitivity, 'datapoints' | 'periods'>;
  },
  watched: ReturnType<typeof metric>,
): Record<string, unknown> {
  return {
    [`${o.detectorId}Detector`]: {
      Type: 'AWS::CloudWatch::AnomalyDetector',
      Properties: { SingleMetricAnomalyDetector: { ...watched, Stat: 'Average' } },
    },
    [`${o.detectorId}Alarm`]: {
      Type: 'AWS::CloudWatch::Alarm',
      DependsOn: [`${o.detectorId}Detector`],
      Properties: {
        AlarmName: o.alarmName,
        AlarmDescription: o.description,
        Metrics: [
          {
            Id: 'latency',
            MetricStat: { Metric: watched, Period: o.period, Stat: 'Average' },
            ReturnData: true,
          },
          {
            Id: 'band',
            Label: 'expected latency',
            Expression: `ANOMALY_DETECTION_BAND(latency, ${ANOMALY_LIMITS.bandStdDevs})`,
            ReturnData: true,
          },
        ],
        ThresholdMetricId: 'band',
        ComparisonOperator: 'GreaterThanUpperThreshold',
        EvaluationPeriods: o.sensitivity.periods,
        DatapointsToAlarm: o.sensitivity.datapoints,
        // No round, no data: the monitoring-blind alarm's business.
        TreatMissingData: 'notBreaching',
        // No actions: the notifier's anomaly rule (stack/notify.ts) routes its state changes.
      },
    },
  };
}

/**
 * The names of the latency anomaly alarms a stage declares (none when the
 * param is empty), for the notifier's rule and role (stack/notify.ts).
 * Throws InvalidInputError naming the param, as planHistoryAlarms does.
 */
export function anomalyAlarmNames(
  params: Pick<HistoryAlarmParams, 'service' | 'stage' | 'latencyAnomalyAlarms' | 'metricGranularity'>,
): string[] {
  const targets = parseAnomalyTargets(params.latencyAnomalyAlarms, params.metricGranularity);
  return [...(targets.fleet ? [FLEET_ANOMALY_TARGET] : []), ...targets.instances].map((target) =>
    anomalyAlarmName(params.service, params.stage, target),
  );
}

export function planHistoryAlarms(params: HistoryAlarmParams): HistoryAlarmsPlan {
  if (!(METRIC_GRANULARITIES as readonly string[]).includes(params.metricGranularity)) {
    throw new InvalidInputError(
      'param metricGranularity',
      params.metricGranularity,
      METRIC_GRANULARITIES.join(', '),
    );
  }
  const period = Number(params.alarmPeriodSeconds);
  if (!/^\d{2,5}$/.test(params.alarmPeriodSeconds) || period < 10) {
    throw new InvalidInputError(
      'param alarmPeriodSeconds',
      params.alarmPeriodSeconds,
      'whole seconds, 10 or more',
    );
  }
  const stage = [{ Name: DIMENSIONS.stage, Value: params.stage }];
  const prefix = `${params.service}-${params.stage}`;
  const resources: Record<string, unknown> = {};
  if (parseBoolean(params.pathChangeAlarm, 'param pathChangeAlarm')) {
    resources.PathChangesAlarm = {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${prefix}-path-changes`,
        AlarmDescription:
          'A host reported that the path to a resource changed (see the path-change records in the log group).',
        ...metric(FLEET_METRICS.pathChanges, stage),
        Statistic: 'Sum',
        Period: period,
        EvaluationPeriods: params.pathChangesAlarm?.periods ?? 1,
        DatapointsToAlarm: params.pathChangesAlarm?.datapoints ?? 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        // No actions: the notifier (stack/notify.ts) routes its state changes with the
        // path-change records as evidence.
      },
    };
  }
  const targets = parseAnomalyTargets(params.latencyAnomalyAlarms, params.metricGranularity);
  const sensitivity = params.latencyAnomalyAlarm ?? { datapoints: 2, periods: 3 };
  const rounds = `${sensitivity.datapoints} of the last ${sensitivity.periods} rounds`;
  if (targets.fleet) {
    Object.assign(
      resources,
      anomalyPair(
        {
          detectorId: 'FleetLatencyAnomaly',
          alarmName: anomalyAlarmName(params.service, params.stage, FLEET_ANOMALY_TARGET),
          description: `The fleet’s typical host latency (Average of WorstLatencyMs) is above the band CloudWatch anomaly detection expects, in ${rounds}.`,
          period,
          sensitivity,
        },
        metric(FLEET_METRICS.worstLatencyMs, stage),
      ),
    );
  }
  for (const instanceId of targets.instances) {
    Object.assign(
      resources,
      anomalyPair(
        {
          detectorId: `HostLatencyAnomaly${instanceId.slice(2)}`,
          alarmName: anomalyAlarmName(params.service, params.stage, instanceId),
          description: `The latency of ${instanceId} (HostLatencyMs) is above the band CloudWatch anomaly detection expects, in ${rounds}.`,
          period,
          sensitivity,
        },
        metric(HOST_METRICS.latencyMs, [...stage, { Name: DIMENSIONS.instanceId, Value: instanceId }]),
      ),
    );
  }
  return { fragment: { Resources: resources } };
}
