/**
 * The optional path-change and anomaly alarms on their own: what each stage
 * param value declares, and the values refused at package time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLEET_METRICS, HOST_METRICS } from '../../../common/metric-names.ts';
import { STACK_PARAM_DEFAULTS } from '../../../common/stack-params.ts';
import {
  ANOMALY_LIMITS,
  anomalyAlarmNames,
  type HistoryAlarmParams,
  planHistoryAlarms,
} from '../../../stack/history-alarms.ts';

const PARAMS: HistoryAlarmParams = {
  service: 'cloudconnexa-monitor',
  stage: 'prod',
  pathChangeAlarm: STACK_PARAM_DEFAULTS.pathChangeAlarm,
  latencyAnomalyAlarms: STACK_PARAM_DEFAULTS.latencyAnomalyAlarms,
  alarmPeriodSeconds: STACK_PARAM_DEFAULTS.alarmPeriodSeconds,
  metricGranularity: STACK_PARAM_DEFAULTS.metricGranularity,
};

type Props = Record<string, unknown>;
const props = (resources: Record<string, unknown>, id: string): Props =>
  (resources[id] as { Properties: Props }).Properties;

describe('planHistoryAlarms', () => {
  it('declares nothing with the defaults', () => {
    assert.deepEqual(planHistoryAlarms(PARAMS).fragment, { Resources: {} });
  });

  it('pathChangeAlarm=true: one alarm on PathChanges, notified when a change happens', () => {
    const { Resources } = planHistoryAlarms({ ...PARAMS, pathChangeAlarm: 'true' }).fragment;
    assert.deepEqual(Object.keys(Resources), ['PathChangesAlarm']);
    const alarm = props(Resources, 'PathChangesAlarm');
    assert.equal(alarm.AlarmName, 'cloudconnexa-monitor-prod-path-changes');
    assert.equal(alarm.MetricName, FLEET_METRICS.pathChanges);
    assert.deepEqual([alarm.Statistic, alarm.Period, alarm.Threshold], ['Sum', 300, 0]);
  });

  it('latencyAnomalyAlarms: a detector and a band alarm for the fleet and for each host listed', () => {
    const ids = ['i-0123456789abcdef0', 'i-0abcdef1'];
    const { Resources } = planHistoryAlarms({
      ...PARAMS,
      latencyAnomalyAlarms: ` fleet, ${ids.join(' , ')}`,
    }).fragment;
    assert.deepEqual(Object.keys(Resources), [
      'FleetLatencyAnomalyDetector',
      'FleetLatencyAnomalyAlarm',
      'HostLatencyAnomaly0123456789abcdef0Detector',
      'HostLatencyAnomaly0123456789abcdef0Alarm',
      'HostLatencyAnomaly0abcdef1Detector',
      'HostLatencyAnomaly0abcdef1Alarm',
    ]);
    const detector = props(Resources, 'HostLatencyAnomaly0abcdef1Detector');
    assert.deepEqual(detector.SingleMetricAnomalyDetector, {
      Namespace: 'CloudConnexa',
      MetricName: HOST_METRICS.latencyMs,
      Dimensions: [
        { Name: 'Stage', Value: 'prod' },
        { Name: 'InstanceId', Value: 'i-0abcdef1' },
      ],
      Stat: 'Average',
    });
    const fleet = props(Resources, 'FleetLatencyAnomalyDetector');
    assert.equal((fleet.SingleMetricAnomalyDetector as Props).MetricName, FLEET_METRICS.worstLatencyMs);
    const alarm = props(Resources, 'HostLatencyAnomaly0abcdef1Alarm');
    assert.equal(alarm.AlarmName, 'cloudconnexa-monitor-prod_latency-anomaly-i-0abcdef1');
    assert.equal(
      props(Resources, 'FleetLatencyAnomalyAlarm').AlarmName,
      'cloudconnexa-monitor-prod_latency-anomaly-fleet',
    );
    assert.equal(alarm.ThresholdMetricId, 'band');
    // Routed by the notifier's anomaly rule (stack/notify.ts), never straight to the topic.
    assert.equal(alarm.AlarmActions, undefined);
    assert.equal(alarm.OKActions, undefined);
    // The names the notifier's rule and role are planned with: the same, from the same params.
    assert.deepEqual(
      anomalyAlarmNames({ ...PARAMS, latencyAnomalyAlarms: ` fleet, ${ids.join(' , ')}` }).sort(),
      Object.values(Resources)
        .flatMap((r) => {
          const name = (r as { Properties: Props }).Properties.AlarmName;
          return typeof name === 'string' ? [name] : [];
        })
        .sort(),
    );
  });

  const refused: [Partial<HistoryAlarmParams>, RegExp][] = [
    [{ pathChangeAlarm: 'yes' }, /param pathChangeAlarm "yes" is not allowed: true or false/],
    [{ latencyAnomalyAlarms: 'fleet,fleet' }, /param latencyAnomalyAlarms "fleet,fleet" is not allowed/],
    [{ latencyAnomalyAlarms: 'i-xyz' }, /param latencyAnomalyAlarms "i-xyz" is not allowed/],
    [{ latencyAnomalyAlarms: 'fleet;rm -rf' }, /param latencyAnomalyAlarms/],
    [{ latencyAnomalyAlarms: ',' }, /param latencyAnomalyAlarms/],
    [
      {
        latencyAnomalyAlarms: Array.from(
          { length: ANOMALY_LIMITS.maxInstances + 1 },
          (_, i) => `i-${i.toString(16).padStart(17, '0')}`,
        ).join(','),
      },
      /at most 20 ids/,
    ],
    [
      { metricGranularity: 'fleet', latencyAnomalyAlarms: 'i-0123456789abcdef0' },
      /instance ids only with metricGranularity host or resource/,
    ],
    [{ alarmPeriodSeconds: '5' }, /param alarmPeriodSeconds "5" is not allowed/],
  ];
  for (const [change, message] of refused) {
    it(`refuses ${JSON.stringify(change).slice(0, 80)}`, () => {
      assert.throws(() => planHistoryAlarms({ ...PARAMS, ...change }), message);
    });
  }

  it('accepts fleet alone at fleet granularity', () => {
    const plan = planHistoryAlarms({ ...PARAMS, metricGranularity: 'fleet', latencyAnomalyAlarms: 'fleet' });
    assert.equal(Object.keys(plan.fragment.Resources).length, 2);
  });
});
