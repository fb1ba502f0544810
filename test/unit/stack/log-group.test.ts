/**
 * The central log group's part of the template on its own: what each
 * adoptLogGroup value declares, and the stage params it refuses at package time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEGACY_FILTER_PATTERN, LEGACY_METRIC, METRIC_NAMESPACE } from '../../../common/metric-names.ts';
import { planLogGroup } from '../../../stack/log-group.ts';

const LEGACY = { pattern: LEGACY_FILTER_PATTERN, namespace: METRIC_NAMESPACE, metric: LEGACY_METRIC };
const PARAMS = { logGroupName: 'CloudConnexa-Monitor-Logs', adoptLogGroup: 'false', logRetentionDays: '30' };

describe('planLogGroup', () => {
  it('creates a retained group with the retention and makes the filter and functions wait for it', () => {
    const plan = planLogGroup(PARAMS, LEGACY);
    const group = plan.fragment.Resources.MonitorLogGroup as Record<string, unknown>;
    assert.equal(group.Type, 'AWS::Logs::LogGroup');
    assert.equal(group.DeletionPolicy, 'Retain');
    assert.deepEqual(group.Properties, { LogGroupName: 'CloudConnexa-Monitor-Logs', RetentionInDays: 30 });
    assert.deepEqual((plan.fragment.Resources.LegacyMetricFilter as { DependsOn: string[] }).DependsOn, [
      'MonitorLogGroup',
    ]);
    assert.deepEqual(plan.dependsOn, ['MonitorLogGroup']);
  });

  it('adopting, declares no group, no retention and no dependency, and names the group in the filter', () => {
    const plan = planLogGroup({ ...PARAMS, adoptLogGroup: 'true', logRetentionDays: '7' }, LEGACY);
    assert.deepEqual(Object.keys(plan.fragment.Resources), ['LegacyMetricFilter']);
    const filter = plan.fragment.Resources.LegacyMetricFilter as Record<string, unknown>;
    assert.equal(filter.DependsOn, undefined);
    assert.equal((filter.Properties as { LogGroupName: string }).LogGroupName, 'CloudConnexa-Monitor-Logs');
    assert.ok(!JSON.stringify(plan).includes('RetentionInDays'));
    assert.deepEqual(plan.dependsOn, []);
  });

  const refused: [Partial<typeof PARAMS>, RegExp][] = [
    [{ adoptLogGroup: 'yes' }, /param adoptLogGroup "yes" is not allowed: true or false/],
    [{ adoptLogGroup: 'TRUE' }, /param adoptLogGroup/],
    [{ logGroupName: 'Logs with spaces' }, /param logGroupName "Logs with spaces" is not allowed/],
    [{ logGroupName: '' }, /param logGroupName/],
    [{ logRetentionDays: '31' }, /param logRetentionDays "31" is not allowed: one of the periods/],
    [{ logRetentionDays: '+30' }, /param logRetentionDays/],
  ];
  for (const [change, message] of refused) {
    it(`refuses ${JSON.stringify(change)} at package time`, () => {
      assert.throws(() => planLogGroup({ ...PARAMS, ...change }, LEGACY), message);
    });
  }
});
