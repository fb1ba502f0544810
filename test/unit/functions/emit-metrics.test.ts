import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { customMetricsPerHost, type MetricGranularity } from '../../../common/metric-names.ts';
import { createEmfMetrics, type HostMeasurement } from '../../../functions/metrics/emit-metrics.ts';
import { captureStdout } from './fixtures.ts';

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

// Host figures as measurementOf derives them from the resources (records.ts): the worst of them.
const host = (id: string, flagged: boolean): HostMeasurement => ({
  instanceId: id,
  flagged,
  worstLatencyMs: flagged ? 120 : 35,
  worstLossPct: flagged ? 100 : 0,
  resources: [
    { target: '10.0.0.1', latencyMs: flagged ? 120 : 20, lossPct: 0 },
    // The flagged host never reached db.internal: no latency to report.
    { target: 'db.internal', latencyMs: flagged ? null : 35, lossPct: flagged ? 100 : 0 },
  ],
});

function run(granularity: MetricGranularity): Emf[] {
  const metrics = createEmfMetrics({
    namespace: 'CloudConnexa',
    serviceName: 'svc',
    stage: 'prod',
    granularity,
  });
  return captureStdout(() => {
    metrics.checked(host('i-1', true));
    metrics.checked(host('i-2', false));
    metrics.failed('i-3');
    metrics.blind('i-4');
    metrics.zeroDispatchCounters({ blind: 1, misconfigured: 0 });
    metrics.flush();
  }).map((line) => JSON.parse(line) as Emf);
}

const directive = (emf: Emf) => emf._aws.CloudWatchMetrics[0];
const fleetLine = (lines: Emf[]) => lines.find((l) => directive(l)?.Dimensions[0]?.length === 1);

describe('createEmfMetrics', () => {
  it('prints fleet metrics under namespace CloudConnexa with the Stage dimension only (no service dimension)', () => {
    // Act
    const lines = run('fleet');
    // Assess
    assert.equal(lines.length, 1);
    const line = lines[0] as Emf;
    assert.equal(directive(line)?.Namespace, 'CloudConnexa');
    assert.deepEqual(directive(line)?.Dimensions, [['Stage']]);
    assert.equal(line.Stage, 'prod');
    assert.equal(line.service, undefined);
    assert.deepEqual(line.HostsChecked, [1, 1]);
    assert.deepEqual(line.HostsFlagged, [1, 0]);
    assert.equal(line.HostsFailed, 1);
    assert.equal(line.HostsBlind, 1);
    assert.equal(line.HostsMisconfigured, 0);
    assert.deepEqual(line.WorstLatencyMs, [120, 35]);
    assert.deepEqual(line.WorstLossPct, [100, 0]);
    const units = Object.fromEntries((directive(line)?.Metrics ?? []).map((m) => [m.Name, m.Unit]));
    assert.equal(units.WorstLatencyMs, 'Milliseconds');
    assert.equal(units.WorstLossPct, 'Percent');
  });

  it('adds one line per host with Stage and InstanceId at host granularity', () => {
    const lines = run('host');
    const hostLines = lines.filter((l) => directive(l)?.Dimensions[0]?.includes('InstanceId'));
    assert.equal(hostLines.length, 2);
    assert.deepEqual(directive(hostLines[0] as Emf)?.Dimensions, [['Stage', 'InstanceId']]);
    assert.equal(hostLines[0]?.InstanceId, 'i-1');
    assert.equal(hostLines[0]?.HostLatencyMs, 120);
    assert.equal(hostLines[0]?.HostLossPct, 100);
    assert.equal(hostLines[0]?.HostFlagged, 1);
    assert.equal(
      lines.some((l) => 'ResourceLatencyMs' in l),
      false,
    );
    assert.deepEqual(fleetLine(lines)?.HostsChecked, [1, 1]);
  });

  it('adds one line per host and resource at resource granularity, skipping a latency that was never measured', () => {
    const lines = run('resource');
    const resourceLines = lines.filter((l) => directive(l)?.Dimensions[0]?.includes('Resource'));
    assert.equal(resourceLines.length, 4);
    assert.deepEqual(directive(resourceLines[0] as Emf)?.Dimensions, [['Stage', 'InstanceId', 'Resource']]);
    const unreachable = resourceLines.find((l) => l.Resource === 'db.internal' && l.InstanceId === 'i-1');
    assert.equal(unreachable?.ResourceLossPct, 100);
    assert.equal('ResourceLatencyMs' in (unreachable ?? {}), false);
  });

  for (const granularity of ['fleet', 'host', 'resource'] as const) {
    it(`creates per host exactly the metrics customMetricsPerHost counts at ${granularity} granularity`, () => {
      const lines = run(granularity);
      const perHostNames = new Set<string>();
      for (const line of lines) {
        const d = directive(line);
        if (d === undefined || line.InstanceId !== 'i-2') continue;
        for (const m of d.Metrics) perHostNames.add(`${m.Name}/${String(line.Resource ?? '')}`);
      }
      assert.equal(perHostNames.size, customMetricsPerHost(granularity, 2));
    });
  }

  it('emits each fact under one name: a failed host is not also counted as checked', () => {
    const metrics = createEmfMetrics({
      namespace: 'CloudConnexa',
      serviceName: 'svc',
      stage: 'prod',
      granularity: 'fleet',
    });
    const lines = captureStdout(() => {
      metrics.failed('i-9');
      metrics.flush();
    }).map((l) => JSON.parse(l) as Emf);
    assert.equal(lines[0]?.HostsFailed, 1);
    assert.equal('HostsChecked' in (lines[0] ?? {}), false);
  });
});
