import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../common/errors.ts';
import { STACK_PARAM_DEFAULTS } from '../../../common/stack-params.ts';
import {
  ALARM_WINDOW_MAX_SECONDS,
  INSIGHTS_ALARM_WINDOW_MAX_SECONDS,
  parseAlarmSensitivity,
  SENSITIVE_ALARMS,
  type SensitiveAlarm,
  sensitivityParamNames,
  sensitivityParams,
} from '../../../stack/alarm-sensitivity.ts';

const ALARMS = Object.keys(SENSITIVE_ALARMS) as SensitiveAlarm[];

function refusal(params: Record<string, string>): InvalidInputError {
  try {
    parseAlarmSensitivity(params);
  } catch (error) {
    assert.ok(error instanceof InvalidInputError, `an InvalidInputError, got ${String(error)}`);
    return error;
  }
  assert.fail(`${JSON.stringify(params)} was accepted`);
}

describe('parseAlarmSensitivity', () => {
  it('gives every alarm two params with a default in common/stack-params.ts', () => {
    for (const name of sensitivityParams())
      assert.ok(name in STACK_PARAM_DEFAULTS, `${name} has a default in common/stack-params.ts`);
    const parsed = parseAlarmSensitivity({});
    assert.deepEqual(parsed.hostsFlagged, { datapoints: 2, periods: 3, period: 300 });
    assert.deepEqual(parsed.dispatchFailing, { datapoints: 1, periods: 1, period: 300 });
    assert.deepEqual(parsed.deadLetterQueue, { datapoints: 1, periods: 1, period: 300 });
  });

  it('takes each alarm’s M of N from its own params', () => {
    for (const alarm of ALARMS) {
      const names = sensitivityParamNames(alarm);
      const parsed = parseAlarmSensitivity({ [names.datapoints]: '3', [names.periods]: '5' });
      assert.deepEqual({ ...parsed[alarm], period: 0 }, { datapoints: 3, periods: 5, period: 0 }, alarm);
      for (const other of ALARMS.filter((a) => a !== alarm))
        assert.notDeepEqual([parsed[other].datapoints, parsed[other].periods], [3, 5], other);
    }
  });

  it('refuses M greater than N, naming the param, the value and the range', () => {
    const error = refusal({ hostsFlaggedAlarmDatapoints: '4', hostsFlaggedAlarmPeriods: '3' });
    assert.equal(
      error.message,
      'param hostsFlaggedAlarmDatapoints "4" is not allowed: a whole number from 1 to hostsFlaggedAlarmPeriods (3): M of N rounds needs M <= N',
    );
  });

  for (const value of ['0', '-1', '2.5', 'three', '', ' 3', '1e1']) {
    it(`refuses N = ${JSON.stringify(value)}`, () => {
      const error = refusal({ monitoringBlindAlarmPeriods: value });
      assert.equal(error.field, 'param monitoringBlindAlarmPeriods');
      assert.match(error.message, /a whole number from 1 to 288: 288 periods of 300 s/);
    });
  }

  it('bounds N x period by one day for metric alarms and by 3 hours for Metrics Insights alarms', () => {
    const day = ALARM_WINDOW_MAX_SECONDS / 300;
    assert.equal(parseAlarmSensitivity({ hostsFlaggedAlarmPeriods: String(day) }).hostsFlagged.periods, day);
    const overDay = refusal({ hostsFlaggedAlarmPeriods: String(day + 1) });
    assert.match(overDay.message, /from 1 to 288: .*CloudWatch evaluates at most one day/);
    const hours = INSIGHTS_ALARM_WINDOW_MAX_SECONDS / 300;
    assert.equal(
      parseAlarmSensitivity({ worstHostLatencyAlarmPeriods: String(hours) }).worstHostLatency.periods,
      hours,
    );
    const overInsights = refusal({ worstHostLossAlarmPeriods: String(hours + 1) });
    assert.match(overInsights.message, /from 1 to 36: .*Metrics Insights alarm evaluates at most 3 hours/);
  });

  it('follows alarmPeriodSeconds, except the dead-letter queue alarm’s fixed 5 minutes', () => {
    const parsed = parseAlarmSensitivity({ alarmPeriodSeconds: '3600', hostsFlaggedAlarmPeriods: '24' });
    assert.equal(parsed.hostsFlagged.period, 3600);
    assert.equal(parsed.deadLetterQueue.period, 300);
    assert.match(refusal({ alarmPeriodSeconds: '3600', hostsFlaggedAlarmPeriods: '25' }).message, /1 to 24/);
    assert.match(
      refusal({ alarmPeriodSeconds: '7200' }).message,
      /worstHostLatencyAlarmPeriods "3" .*from 1 to 1/,
    );
  });

  for (const value of ['45', '90', '0', '86460', 'five']) {
    it(`refuses alarmPeriodSeconds ${JSON.stringify(value)}: whole minutes up to a day`, () => {
      const error = refusal({ alarmPeriodSeconds: value });
      assert.equal(error.field, 'param alarmPeriodSeconds');
      assert.match(error.message, /a whole number of minutes in seconds/);
    });
  }
});
