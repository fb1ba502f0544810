import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { customMetricsPerHost, type MetricGranularity } from '../../../common/metric-names.ts';
import {
  createEmfMetrics,
  DIMENSION_VALUE_MAX_CHARS,
  dimensionValue,
  type HostMeasurement,
  metricValue,
} from '../../../functions/metrics/emit-metrics.ts';
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

/** A host outside any maintenance window, and one in a window (dispatch's decision). */
const OUTSIDE = { inMaintenance: false };
const IN_WINDOW = { inMaintenance: true };

// Host figures as measurementOf derives them from the resources (records.ts): the worst of them.
const host = (id: string, flagged: boolean): HostMeasurement => ({
  instanceId: id,
  flagged,
  worstLatencyMs: flagged ? 120 : 35,
  worstLossPct: flagged ? 100 : 0,
  resources: [
    { target: '10.0.0.1', latencyMs: flagged ? 120 : 20, lossPct: 0, jitterMs: flagged ? 14.5 : 0.25 },
    // The flagged host never reached db.internal: no latency or jitter to report.
    {
      target: 'db.internal',
      latencyMs: flagged ? null : 35,
      lossPct: flagged ? 100 : 0,
      jitterMs: flagged ? null : 0.75,
    },
  ],
  pathChanges: flagged ? 1 : 0,
  worstJitterMs: flagged ? 14.5 : 0.75,
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
    metrics.failed('i-3', OUTSIDE);
    metrics.blind('i-4', OUTSIDE);
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
    assert.deepEqual(line.PathChanges, [1, 0], 'one data point per checked host, 0 included');
    const units = Object.fromEntries((directive(line)?.Metrics ?? []).map((m) => [m.Name, m.Unit]));
    assert.equal(units.WorstLatencyMs, 'Milliseconds');
    assert.equal(units.WorstLossPct, 'Percent');
    assert.equal(units.PathChanges, 'Count');
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
    assert.equal(hostLines[0]?.HostJitterMs, 14.5);
    assert.equal(hostLines[1]?.HostJitterMs, 0.75);
    const units = Object.fromEntries(
      (directive(hostLines[0] as Emf)?.Metrics ?? []).map((m) => [m.Name, m.Unit]),
    );
    assert.equal(units.HostJitterMs, 'Milliseconds');
    assert.equal(
      lines.some((l) => 'ResourceLatencyMs' in l || 'ResourceJitterMs' in l),
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
    assert.equal('ResourceJitterMs' in (unreachable ?? {}), false, 'no jitter without an answer');
    const measured = resourceLines.find((l) => l.Resource === '10.0.0.1' && l.InstanceId === 'i-1');
    assert.equal(measured?.ResourceJitterMs, 14.5);
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
      metrics.failed('i-9', OUTSIDE);
      metrics.flush();
    }).map((l) => JSON.parse(l) as Emf);
    assert.equal(lines[0]?.HostsFailed, 1);
    assert.equal('HostsChecked' in (lines[0] ?? {}), false);
  });

  it('writes nothing an alarm reads for a host in a maintenance window, whatever its round: checked only, never failed, blind or misconfigured', () => {
    // Prepare
    const metrics = createEmfMetrics({
      namespace: 'CloudConnexa',
      serviceName: 'svc',
      stage: 'prod',
      granularity: 'resource',
    });
    // Act: every outcome a host in a window can have, beside one host outside it that failed.
    const lines = captureStdout(() => {
      metrics.checked({ ...host('i-1', true), inMaintenance: true, tunnelDown: true });
      metrics.failed('i-2', IN_WINDOW);
      metrics.blind('i-3', IN_WINDOW);
      metrics.misconfigured('i-4', IN_WINDOW);
      metrics.failed('i-5', OUTSIDE);
      metrics.flush();
    }).map((l) => JSON.parse(l) as Emf);
    // Assess: one fleet line (no per-host or per-resource line), the checked count and the other host's failure.
    assert.equal(lines.length, 1);
    const names = directive(lines[0] as Emf)
      ?.Metrics.map((m) => m.Name)
      .sort();
    assert.deepEqual(names, ['HostsChecked', 'HostsFailed']);
    assert.equal(lines[0]?.HostsChecked, 1);
    assert.equal(lines[0]?.HostsFailed, 1, 'only the host outside a window');
  });
});

describe('metrics from untrusted host figures', () => {
  const ms = { min: 0, max: Number.MAX_VALUE };
  const pct = { min: 0, max: 100 };

  it('keeps only values CloudWatch accepts: finite, in range, not too large; a tiny magnitude is 0', () => {
    assert.deepEqual(
      [Number.POSITIVE_INFINITY, Number.NaN, 1e300, -1, 1.2e108].map((v) => metricValue(v, ms)),
      [null, null, null, null, null],
    );
    assert.deepEqual(
      [0, 1e-200, 8.6e-109, 12.5, 1.1e108].map((v) => metricValue(v, ms)),
      [0, 0, 8.6e-109, 12.5, 1.1e108],
    );
    assert.deepEqual(
      [100, 100.5, -0.1].map((v) => metricValue(v, pct)),
      [100, null, null],
    );
  });

  it('makes dimension values CloudWatch accepts: printable ASCII, 1..1024 characters', () => {
    assert.equal(dimensionValue('https://wiki.corp/x?y=1'), 'https://wiki.corp/x?y=1');
    assert.equal(dimensionValue('https://wiki.corp/über'), 'https://wiki.corp/%C3%BCber');
    assert.equal(dimensionValue('db\u001b[31m\n'), 'db%1B[31m%0A');
    assert.equal(dimensionValue('   '), null);
    assert.equal(dimensionValue(''), null);
    const a = dimensionValue('ü'.repeat(2000)) ?? '';
    const b = dimensionValue(`${'ü'.repeat(1999)}x`) ?? '';
    assert.equal(a.length, DIMENSION_VALUE_MAX_CHARS);
    assert.match(a, /^[\x20-\x7e]+~[0-9a-f]{16}$/);
    assert.notEqual(a, b, 'two long values stay apart');
  });

  it('emits hostile figures as valid lines: bad values left out (never null), resources once each and at most 50', () => {
    // Prepare: what a measurement could hold if anything upstream let a hostile document through.
    const hostile: HostMeasurement = {
      instanceId: 'i-0000000000000000a',
      flagged: true,
      worstLatencyMs: Number.POSITIVE_INFINITY,
      worstLossPct: 250,
      pathChanges: 1.5,
      resources: [
        { target: 'db\u001b', latencyMs: 1e300, lossPct: 0, jitterMs: Number.NaN },
        { target: 'db\u001b', latencyMs: 5, lossPct: 0, jitterMs: 1 },
        { target: ' ', latencyMs: 5, lossPct: 0, jitterMs: 1 },
        ...Array.from({ length: 200 }, (_, i) => ({
          target: `r${i}`,
          latencyMs: 1,
          lossPct: 0,
          jitterMs: 1,
        })),
      ],
      worstJitterMs: -3,
    };
    // Act
    const lines = captureStdout(() => {
      const metrics = createEmfMetrics({
        namespace: 'CloudConnexa',
        serviceName: 'svc',
        stage: 'prod',
        granularity: 'resource',
      });
      metrics.checked(hostile);
      metrics.checked(host('i-0000000000000000b', false));
      metrics.flush();
    }).map((line) => JSON.parse(line) as Emf);
    // Assess
    const fleet = fleetLine(lines);
    assert.deepEqual(fleet?.HostsChecked, [1, 1]);
    assert.equal(fleet?.WorstLatencyMs, 35, 'only the honest host’s value');
    assert.equal(fleet?.WorstLossPct, 0);
    assert.equal(fleet?.PathChanges, 0, 'a count that is not a whole number is left out');
    const resources = lines.filter((l) => l.InstanceId === 'i-0000000000000000a' && 'Resource' in l);
    assert.equal(resources.length, 50);
    const db = resources.filter((l) => l.Resource === 'db%1B');
    assert.equal(db.length, 1);
    assert.equal('ResourceLatencyMs' in (db[0] ?? {}), false, 'the 1e300 latency is left out, the loss kept');
    assert.equal('ResourceJitterMs' in (db[0] ?? {}), false, 'the NaN jitter is left out');
    const hostLine = lines.find((l) => l.InstanceId === 'i-0000000000000000a' && 'HostFlagged' in l);
    assert.equal(hostLine?.HostFlagged, 1);
    assert.equal('HostJitterMs' in (hostLine ?? {}), false, 'the negative worst jitter is left out');
    assert.ok(lines.every((l) => !JSON.stringify(l).includes('null')));
  });

  it('drops a host line that cannot be built whole, and nothing of it reaches the next host’s line', () => {
    // Prepare: Powertools failing on one value stands in for any fault while building a line.
    const original = Metrics.prototype.addMetric;
    Metrics.prototype.addMetric = function (this: Metrics, name, unit, value, resolution) {
      if (value === 777) throw new RangeError('simulated fault');
      return original.call(this, name, unit, value, resolution);
    };
    const errors: string[] = [];
    const consoleError = console.error;
    console.error = (line: string) => errors.push(line);
    let lines: Emf[];
    try {
      // Act
      lines = captureStdout(() => {
        const metrics = createEmfMetrics({
          namespace: 'CloudConnexa',
          serviceName: 'svc',
          stage: 'prod',
          granularity: 'host',
        });
        metrics.checked({ ...host('i-a', true), worstLatencyMs: 777 });
        metrics.checked(host('i-b', false));
        metrics.flush();
      }).map((line) => JSON.parse(line) as Emf);
    } finally {
      Metrics.prototype.addMetric = original;
      console.error = consoleError;
    }
    // Assess
    const hostLines = lines.filter((l) => 'InstanceId' in l);
    assert.deepEqual(
      hostLines.map((l) => [l.InstanceId, l.HostLatencyMs, l.HostLossPct, l.HostFlagged]),
      [['i-b', 35, 0, 0]],
    );
    assert.deepEqual(fleetLine(lines)?.HostsChecked, [1, 1], 'the shared fleet line keeps every host');
    assert.equal(fleetLine(lines)?.WorstLatencyMs, 35);
    assert.equal(errors.length, 2, 'the fleet value and the host line of i-a, each logged');
    assert.match(errors[1] ?? '', /host i-a metrics dropped.*simulated fault/);
  });

  it('hands every line to `write`, however many hosts: no metric reaches 100 values in one line', () => {
    const written: string[] = [];
    const printed = captureStdout(() => {
      const metrics = createEmfMetrics({
        namespace: 'CloudConnexa',
        serviceName: 'svc',
        stage: 'prod',
        granularity: 'fleet',
        write: (line) => written.push(line),
      });
      for (let i = 0; i < 250; i++) metrics.checked(host(`i-${i}`, i % 5 === 0));
      metrics.failed('i-x', OUTSIDE);
      metrics.flush();
    });
    assert.deepEqual(printed, [], 'nothing printed past `write`');
    const lines = written.map((l) => JSON.parse(l) as Emf);
    const values = (name: string) => lines.flatMap((l) => (l[name] === undefined ? [] : [l[name]].flat()));
    assert.ok(lines.every((l) => [l.HostsChecked].flat().length < 100));
    assert.equal(values('HostsChecked').length, 250);
    assert.equal(values('HostsFlagged').filter((v) => v === 1).length, 50);
    assert.deepEqual(values('HostsFailed'), [1]);
  });
});
