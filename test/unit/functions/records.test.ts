/**
 * What the collector derives from a result document: the log records (seed
 * line, MTR text, result) and the host figures the metrics are made of. An
 * unmeasured resource must count the same way everywhere: flagged, 100 % loss.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import type { ResourceResult, ResultDocument } from '../../../common/result-schema.ts';
import { SEED_KEYS } from '../../../common/result-schema.ts';
import { buildInvocationRecords, type InvocationOutput } from '../../../functions/logs/records.ts';
import { createEmfMetrics, type HostMeasurement } from '../../../functions/metrics/emit-metrics.ts';
import { captureStdout, resultDocument } from './fixtures.ts';

const AT = Date.parse('2026-01-01T12:01:00Z');

function invocation(doc: ResultDocument): InvocationOutput {
  return {
    instanceId: 'i-0000000000000000a',
    commandId: 'cmd-1',
    roundId: 'r-1',
    status: 'Success',
    responseCode: 0,
    stdout: `${JSON.stringify(doc)}\n`,
    stderr: '',
  };
}

/** The round: db.corp.internal does not resolve, 127.0.0.2 is fine. */
function unresolvedRound(): ResultDocument {
  const base = resultDocument({ mtrId: '20260101120000' });
  const healthy = base.resources[0] as ResourceResult;
  const unresolved: ResourceResult = {
    ...healthy,
    target: 'db.corp.internal',
    address: null,
    hops: null,
    errors: [{ code: 'E_RESOLVE', message: 'could not resolve "db.corp.internal": EAI_AGAIN' }],
    ...unmeasuredJudgement({ code: 'E_RESOLVE', message: 'could not resolve "db.corp.internal": EAI_AGAIN' }),
  };
  return {
    ...base,
    resources: [unresolved, { ...healthy, target: '127.0.0.2', address: '127.0.0.2' }],
    summary: {
      resources: 2,
      flagged: 1,
      latencyFlag: false,
      lossFlag: true,
      worstLatencyMs: 20,
      worstLossPct: 100,
    },
    seed: {
      ...(base.seed as NonNullable<ResultDocument['seed']>),
      'RESOURCE(S)': ['db.corp.internal', '127.0.0.2'],
      LOSS_FLAG: '1',
      'HOP_LOSS_(%)': '100.0',
      'LATENCY_(ms)': '0.0',
      'MTR-ID_(YYYYMMDDHHMMSS)': '20260101120000',
    },
  };
}

interface Emf {
  [key: string]: unknown;
}

function emit(measurement: HostMeasurement): Emf[] {
  const metrics = createEmfMetrics({
    namespace: 'CloudConnexa',
    serviceName: 'svc',
    stage: 'prod',
    granularity: 'resource',
  });
  return captureStdout(() => {
    metrics.checked(measurement);
    metrics.flush();
  }).map((line) => JSON.parse(line) as Emf);
}

describe('buildInvocationRecords for a round with an unmeasured resource', () => {
  it('writes the seed line with LOSS_FLAG "1" in the old key order, no MTR-RESOURCE, the MTR-GATEWAY text, the result', () => {
    // Act
    const { events, outcome } = buildInvocationRecords(invocation(unresolvedRound()), 'rec-1', AT);
    // Assess
    assert.equal(outcome.kind, 'checked');
    const [seedLine, gatewayText, result, ...rest] = events.map((e) => e.message);
    assert.deepEqual(rest, []);
    const seed = JSON.parse(seedLine ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(seed), [...SEED_KEYS]);
    assert.equal(seed.LOSS_FLAG, '1');
    assert.match(gatewayText ?? '', /^GATEWAY MTR: 20260101120000 \(Hop, Avg, Loss%\)\n/);
    assert.equal(JSON.parse(result ?? '').record, 'result');
  });

  it('derives flagged and the worst loss from the resources, so host and resource metrics agree at 100 %', () => {
    // Prepare: a document whose summary understates the round (an agent before the flag rule said 0).
    const doc = unresolvedRound();
    doc.summary = { ...doc.summary, flagged: 0, lossFlag: false, worstLossPct: 0 };
    // Act
    const { outcome } = buildInvocationRecords(invocation(doc), 'rec-2', AT);
    assert.equal(outcome.kind, 'checked');
    const measurement = (outcome as { measurement: HostMeasurement }).measurement;
    const lines = emit(measurement);
    // Assess
    assert.deepEqual(measurement, {
      instanceId: 'i-0000000000000000a',
      flagged: true,
      worstLatencyMs: 20,
      worstLossPct: 100,
      resources: [
        { target: 'db.corp.internal', latencyMs: null, lossPct: 100 },
        { target: '127.0.0.2', latencyMs: 20, lossPct: 0 },
      ],
    });
    const fleet = lines.find((l) => 'HostsChecked' in l);
    const hostLine = lines.find((l) => 'HostLossPct' in l);
    const resourceLine = lines.find((l) => l.Resource === 'db.corp.internal');
    assert.deepEqual([fleet?.HostsFlagged, fleet?.WorstLossPct], [1, 100]);
    assert.deepEqual([hostLine?.HostFlagged, hostLine?.HostLossPct], [1, 100]);
    assert.equal(resourceLine?.ResourceLossPct, 100);
    assert.equal('ResourceLatencyMs' in (resourceLine ?? {}), false);
  });

  it('a clean round gives no MTR text and an unflagged host', () => {
    const { events, outcome } = buildInvocationRecords(invocation(resultDocument()), 'rec-3', AT);
    assert.equal(events.length, 2, 'seed line and result record');
    assert.equal((outcome as { measurement: HostMeasurement }).measurement.flagged, false);
  });
});
