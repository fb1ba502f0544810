/**
 * The tunnel in the fleet: a result record keeps the document's `tunnel` and
 * names the one cause (`cause`) when the tunnel explains the flags; the
 * resources stay flagged; TunnelsDown is one data point per checked host and
 * round (1 down or reconnecting, 0 otherwise, none for a document without a
 * tunnel), whatever a host puts in its measurement.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLEET_METRICS } from '../../../common/metric-names.ts';
import type { ResultDocument, TunnelResult } from '../../../common/result-schema.ts';
import {
  buildInvocationRecords,
  type InvocationOutput,
  outcomeOfRecordLine,
} from '../../../functions/logs/records.ts';
import { createEmfMetrics, type HostMeasurement } from '../../../functions/metrics/emit-metrics.ts';
import { captureStdout, resultDocument } from './fixtures.ts';

const AT = Date.parse('2026-01-01T12:01:00Z');
const DOWN: TunnelResult = {
  state: 'down',
  source: 'openvpn2-log',
  detail: '2026-01-01 11:58:00 SIGTERM[hard,] received, process exiting',
  since: '2026-01-01T11:58:00.000Z',
  reconnects: null,
  bytesIn: null,
  bytesOut: null,
  explains: true,
};

function invocation(doc: ResultDocument, instanceId = 'i-0000000000000000a'): InvocationOutput {
  return {
    instanceId,
    commandId: 'cmd-1',
    roundId: 'r-1',
    status: 'Success',
    responseCode: 0,
    stdout: `${JSON.stringify(doc)}\n`,
    stderr: '',
    sentResources: doc.resources.map((r) => r.target),
  };
}

function fleetLines(measurements: HostMeasurement[]): Record<string, unknown>[] {
  const metrics = createEmfMetrics({
    namespace: 'CloudConnexa',
    serviceName: 'svc',
    stage: 'prod',
    granularity: 'host',
  });
  return captureStdout(() => {
    for (const m of measurements) metrics.checked(m);
    metrics.flush();
  })
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => !('InstanceId' in line));
}

/** Every TunnelsDown value over the fleet lines (a line holds one value or an array of them). */
function tunnelsDownValues(lines: Record<string, unknown>[]): number[] {
  return lines.flatMap((line) => {
    const raw = line[FLEET_METRICS.tunnelsDown];
    if (raw === undefined) return [];
    return (Array.isArray(raw) ? raw : [raw]).map(Number);
  });
}

describe('result records and TunnelsDown', () => {
  it('names the one cause in the record when the tunnel explains the flags, and keeps the resources flagged', () => {
    // Prepare: a flagged round whose tunnel was down.
    const doc = resultDocument({ tunnel: DOWN }, true);
    // Act
    const { events, outcome } = buildInvocationRecords(invocation(doc), 'rec-1', AT);
    // Assess
    const record = JSON.parse(events.at(-1)?.message ?? '') as Record<string, unknown>;
    assert.equal(record.record, 'result');
    assert.equal(
      record.cause,
      'tunnel down since 2026-01-01T11:58:00.000Z (openvpn2-log: 2026-01-01 11:58:00 SIGTERM[hard,] received, process exiting)',
    );
    assert.deepEqual(record.tunnel, DOWN);
    assert.equal((record.summary as { flagged: number }).flagged, 1);
    assert.equal(JSON.parse(events[0]?.message ?? '').LOSS_FLAG, '1', 'the old seed line still flags');
    assert.equal(outcome.kind, 'checked');
    const measurement = (outcome as { measurement: HostMeasurement }).measurement;
    assert.equal(measurement.flagged, true);
    assert.equal(measurement.tunnelDown, true);
  });

  it('gives no cause when the tunnel is up or explains nothing, and none for a document without a tunnel', () => {
    const up: TunnelResult = { ...DOWN, state: 'up', source: 'openvpn3', explains: false, bytesIn: 5 };
    const cases: Array<[string, ResultDocument, boolean | undefined]> = [
      ['up and flagged', resultDocument({ tunnel: up }, true), false],
      ['down, nothing flagged', resultDocument({ tunnel: { ...DOWN, explains: false } }), true],
      ['an older agent (no tunnel)', resultDocument(), undefined],
      ['tunnel null', resultDocument({ tunnel: null }), undefined],
    ];
    for (const [name, doc, tunnelDown] of cases) {
      const { events, outcome } = buildInvocationRecords(invocation(doc), 'rec-2', AT);
      const record = JSON.parse(events.at(-1)?.message ?? '') as Record<string, unknown>;
      assert.equal('cause' in record, false, name);
      assert.equal((outcome as { measurement: HostMeasurement }).measurement.tunnelDown, tunnelDown, name);
    }
  });

  it('reads TunnelsDown back from a record line the same way (a collector that finds its record already written)', () => {
    const reconnecting: TunnelResult = { ...DOWN, state: 'reconnecting', source: 'openvpn2-management' };
    const { events } = buildInvocationRecords(
      invocation(resultDocument({ tunnel: reconnecting }, true)),
      'rec-3',
      AT,
    );
    const outcome = outcomeOfRecordLine('i-0000000000000000a', events.at(-1)?.message ?? '', ['10.0.0.1']);
    assert.equal(outcome.kind, 'checked');
    assert.equal((outcome as { measurement: HostMeasurement }).measurement.tunnelDown, true);
  });

  it('emits one TunnelsDown data point per checked host with a tunnel: 1 down or reconnecting, 0 up or unknown', () => {
    // Prepare: five hosts; one older agent without a tunnel.
    const states: Array<TunnelResult['state'] | null> = ['down', 'reconnecting', 'up', 'unknown', null];
    const measurements = states.map((state, i) => {
      const doc = resultDocument(state === null ? {} : { tunnel: { ...DOWN, state, explains: false } });
      const { outcome } = buildInvocationRecords(
        invocation(doc, `i-${String(i).padStart(17, '0')}`),
        'r',
        AT,
      );
      return (outcome as { measurement: HostMeasurement }).measurement;
    });
    // Act
    const values = tunnelsDownValues(fleetLines(measurements));
    // Assess
    assert.deepEqual(values, [1, 1, 0, 0]);
  });

  it('emits nothing for a measurement whose tunnelDown is not a boolean (a hostile or broken value)', () => {
    const base: HostMeasurement = {
      instanceId: 'i-0000000000000000b',
      flagged: false,
      worstLatencyMs: 1,
      worstLossPct: 0,
      pathChanges: 0,
      resources: [{ target: '10.0.0.1', latencyMs: 1, lossPct: 0, jitterMs: null }],
      worstJitterMs: null,
    };
    const hostile = [1, 'yes', {}, Number.NaN, null].map(
      (value) => ({ ...base, tunnelDown: value }) as unknown as HostMeasurement,
    );
    const lines = fleetLines(hostile);
    assert.deepEqual(tunnelsDownValues(lines), []);
    assert.equal(
      lines.reduce((n, l) => n + [l[FLEET_METRICS.hostsChecked]].flat().length, 0),
      5,
    );
  });
});
