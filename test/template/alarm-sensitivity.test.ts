/**
 * The alarms' M of N stage params, the maintenance window param and the
 * maintenance dashboard widget, as `serverless package` writes them into the
 * CloudFormation template, and what packaging refuses.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DIMENSIONS, FLEET_METRICS, METRIC_NAMESPACE } from '../../common/metric-names.ts';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';
import {
  SENSITIVE_ALARMS,
  type SensitiveAlarm,
  sensitivityParamNames,
} from '../../stack/alarm-sensitivity.ts';
import { createPackager, dashboardWidgets, type RunResult, type Template } from './package-stack.ts';

const packager = createPackager('alarm-sensitivity');
const runId = randomBytes(4).toString('hex');
const ALARMS = Object.entries(SENSITIVE_ALARMS) as [SensitiveAlarm, { logicalId: string }][];
/** A distinct M of N per alarm: alarm i gets i+1 of i+4. */
const CUSTOM = Object.fromEntries(ALARMS.map(([alarm], i) => [alarm, { m: i + 1, n: i + 4 }]));

let defaults: Template;
let custom: Template;
let refused: Record<string, RunResult>;

function alarmProperties(template: Template, logicalId: string): Record<string, unknown> {
  const alarm = template.Resources[logicalId];
  assert.ok(alarm, `the template has ${logicalId}`);
  assert.equal(alarm.Type, 'AWS::CloudWatch::Alarm');
  return alarm.Properties;
}

describe('alarm sensitivity and maintenance in the packaged template', () => {
  before(async () => {
    const customParams = ALARMS.flatMap(([alarm]) => {
      const names = sensitivityParamNames(alarm);
      return [`${names.datapoints}=${CUSTOM[alarm]?.m}`, `${names.periods}=${CUSTOM[alarm]?.n}`];
    });
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const failing: [string, string[]][] = [
      ['mgtn', ['hostsFlaggedAlarmDatapoints=4', 'hostsFlaggedAlarmPeriods=3']],
      ['insights', ['worstHostLatencyAlarmPeriods=37']],
      ['period', ['alarmPeriodSeconds=90']],
      ['mformat', ['maintenanceUntil=2026-12-01 evening']],
      ['mfar', [`maintenanceUntil=${new Date(Date.now() + 40 * 86_400_000).toISOString()}`]],
    ];
    const [d, c, ...runs] = await Promise.all([
      packager.template(`sens-${runId}`, []),
      packager.template(`senc-${runId}`, [
        ...customParams,
        `maintenanceUntil=${soon}`,
        // The optional alarms (stack/history-alarms.ts), so that every alarm is declared.
        'pathChangeAlarm=true',
        'latencyAnomalyAlarms=fleet,i-0123456789abcdef0',
      ]),
      ...failing.map(([name, params]) => packager.run(`${name}-${runId}`, params)),
    ]);
    defaults = d as Template;
    custom = c as Template;
    refused = Object.fromEntries(failing.map(([name], i) => [name, runs[i] as RunResult]));
  });

  after(() => packager.cleanup());

  it('gives every alarm the M of N of its stage params, defaults from common/stack-params.ts', () => {
    const table = STACK_PARAM_DEFAULTS as Readonly<Record<string, string>>;
    for (const [alarm, { logicalId }] of ALARMS) {
      const names = sensitivityParamNames(alarm);
      // The optional alarms are not declared by default.
      if (defaults.Resources[logicalId] !== undefined) {
        const byDefault = alarmProperties(defaults, logicalId);
        assert.equal(Number(byDefault.DatapointsToAlarm), Number(table[names.datapoints]), `${logicalId} M`);
        assert.equal(Number(byDefault.EvaluationPeriods), Number(table[names.periods]), `${logicalId} N`);
      } else assert.ok(['pathChanges', 'latencyAnomaly'].includes(alarm), `${logicalId} is declared`);
      const set = alarmProperties(custom, logicalId);
      assert.equal(set.DatapointsToAlarm, CUSTOM[alarm]?.m, `${logicalId} M from ${names.datapoints}`);
      assert.equal(set.EvaluationPeriods, CUSTOM[alarm]?.n, `${logicalId} N from ${names.periods}`);
    }
  });

  it("tells the notifier the longest N, so its evidence reaches back over every alarm's window", () => {
    const env = (t: Template) => {
      const notify = t.Resources.NotifyLambdaFunction;
      assert.ok(notify, 'the template has the notifier');
      return (notify.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    };
    const table = STACK_PARAM_DEFAULTS as Readonly<Record<string, string>>;
    const defaultMax = Math.max(
      ...ALARMS.map(([alarm]) => Number(table[sensitivityParamNames(alarm).periods])),
    );
    assert.equal(Number(env(defaults).ALARM_MAX_PERIODS), defaultMax);
    const customMax = Math.max(...ALARMS.map(([alarm]) => CUSTOM[alarm]?.n ?? 0));
    assert.equal(Number(env(custom).ALARM_MAX_PERIODS), customMax);
  });

  it('gives every latency anomaly alarm the one M of N of latencyAnomalyAlarm*', () => {
    const anomaly = Object.entries(custom.Resources).filter(([id]) => /LatencyAnomaly.*Alarm$/.test(id));
    assert.equal(anomaly.length, 2, 'the fleet one and the host one');
    for (const [id, alarm] of anomaly) {
      assert.equal(alarm.Properties.DatapointsToAlarm, CUSTOM.latencyAnomaly?.m, id);
      assert.equal(alarm.Properties.EvaluationPeriods, CUSTOM.latencyAnomaly?.n, id);
      assert.match(
        String(alarm.Properties.AlarmDescription),
        new RegExp(`in ${CUSTOM.latencyAnomaly?.m} of the last ${CUSTOM.latencyAnomaly?.n} rounds`),
      );
    }
  });

  it('says M of N in the descriptions of the flag alarms, as set', () => {
    assert.match(
      String(alarmProperties(custom, 'HostsFlaggedAlarm').AlarmDescription),
      /\(not in maintenance\) was flagged for latency or loss in 1 of the last 4 rounds\.$/,
    );
    assert.match(
      String(alarmProperties(custom, 'WorstHostLatencyAlarm').AlarmDescription),
      /in 2 of the last 5 rounds/,
    );
    assert.match(
      String(alarmProperties(custom, 'WorstHostLossAlarm').AlarmDescription),
      /in 3 of the last 6 rounds/,
    );
  });

  it('fails packaging naming the param, the value and the allowed range', () => {
    const output = (name: string) => {
      const run = refused[name];
      assert.ok(run, name);
      assert.notEqual(run.code, 0, `${name} was packaged:\n${run.output}`);
      return run.output;
    };
    assert.match(
      output('mgtn'),
      /param hostsFlaggedAlarmDatapoints "4" is not allowed: a whole number from 1 to hostsFlaggedAlarmPeriods \(3\): M of N rounds needs M <= N/,
    );
    assert.match(
      output('insights'),
      /param worstHostLatencyAlarmPeriods "37" is not allowed: a whole number from 1 to 36: 36 periods of 300 s \(a Metrics Insights alarm evaluates at most 3 hours of data\)/,
    );
    assert.match(output('period'), /param alarmPeriodSeconds "90" is not allowed: a whole number of minutes/);
    assert.match(
      output('mformat'),
      /param maintenanceUntil "2026-12-01 evening" is not allowed: an ISO-8601 time with seconds and a time zone/,
    );
    assert.match(
      output('mfar'),
      /param maintenanceUntil ".*" is not allowed: .*at most 30 days ahead \(it is 40 days ahead\)/,
    );
  });

  it('hands the stage maintenance window to the functions', () => {
    for (const [template, expected] of [
      [defaults, ''],
      [custom, /^\d{4}-\d\d-\d\dT/],
    ] as const) {
      const dispatch = template.Resources.DispatchLambdaFunction?.Properties as {
        Environment: { Variables: Record<string, unknown> };
      };
      const value = String(dispatch.Environment.Variables.MAINTENANCE_UNTIL);
      if (typeof expected === 'string') assert.equal(value, expected);
      else assert.match(value, expected);
    }
  });

  it('shows the hosts in a maintenance window on the dashboard, per round', () => {
    const widget = dashboardWidgets(defaults).find((w) =>
      JSON.stringify(w.properties.metrics ?? []).includes(`"${FLEET_METRICS.hostsInMaintenance}"`),
    );
    assert.ok(widget, 'a widget shows HostsInMaintenance');
    assert.equal(widget.type, 'metric');
    assert.equal(widget.properties.stat, 'Sum', 'one data point per host in maintenance: read with Sum');
    assert.deepEqual(widget.properties.metrics, [
      [METRIC_NAMESPACE, FLEET_METRICS.hostsInMaintenance, DIMENSIONS.stage, `sens-${runId}`],
    ]);
    assert.match(String(widget.properties.title), /maintenance/i);
  });

  it('places no dashboard widget over another', () => {
    const boxes = dashboardWidgets(defaults).map((w) => ({ ...w, title: String(w.properties.title) }));
    for (const [i, a] of boxes.entries()) {
      assert.ok(a.x >= 0 && a.x + a.width <= 24, `${a.title} fits the 24-column grid`);
      for (const b of boxes.slice(i + 1)) {
        const apart =
          a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        assert.ok(apart, `"${a.title}" and "${b.title}" overlap`);
      }
    }
  });
});
