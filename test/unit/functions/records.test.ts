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
    sentResources: doc.resources.map((r) => r.target),
  };
}

/** The issue's round: db.corp.internal does not resolve, 127.0.0.2 is fine. */
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
      jitterFlag: false,
      worstJitterMs: 1.5,
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
        { target: 'db.corp.internal', latencyMs: null, lossPct: 100, jitterMs: null },
        { target: '127.0.0.2', latencyMs: 20, lossPct: 0, jitterMs: 1.5 },
      ],
      pathChanges: 0,
      worstJitterMs: 1.5,
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

describe('buildInvocationRecords with untrusted documents', () => {
  const long = (i: number) =>
    `https://intranet.corp.example/${'a'.repeat(470)}/${String(i).padStart(3, '0')}`;

  function recordsOf(events: { message: string }[]): Record<string, unknown>[] {
    return events
      .filter((e) => e.message.startsWith('{"record"'))
      .map((e) => JSON.parse(e.message) as Record<string, unknown>);
  }

  it('measures only the resources the host was sent, under the target as sent, and notes the rest', () => {
    // Prepare: the host reports one resource it was not sent, one twice, and leaves one out.
    const base = resultDocument();
    const r = base.resources[0] as ResourceResult;
    const doc: ResultDocument = {
      ...base,
      resources: [r, { ...r, target: 'evil.example' }, { ...r, latencyMs: 900 }],
      seed: {
        ...(base.seed as NonNullable<ResultDocument['seed']>),
        'RESOURCE(S)': ['10.0.0.1', 'evil.example'],
      },
    };
    // Act
    const { events, outcome } = buildInvocationRecords(
      { ...invocation(doc), sentResources: ['10.0.0.1', 'db.corp.internal'] },
      'rec-4',
      AT,
    );
    // Assess
    const record: Record<string, unknown> = recordsOf(events)[0] ?? {};
    assert.deepEqual(
      [record.resourcesNotSent, record.resourcesDuplicated, record.resourcesMissing],
      [['evil.example'], ['10.0.0.1'], ['db.corp.internal']],
    );
    assert.deepEqual((outcome as { measurement: HostMeasurement }).measurement.resources, [
      { target: '10.0.0.1', latencyMs: 20, lossPct: 0, jitterMs: 1.5 },
    ]);
  });

  it('matches targets the agent clipped to fit the SSM limit back to the full URLs sent', () => {
    // Prepare: 50 URLs of 512 characters; the agent clips them in the document (fit-result.ts).
    const sent = Array.from({ length: 50 }, (_, i) => long(i));
    const base = resultDocument();
    const r = base.resources[0] as ResourceResult;
    const clipped = sent.map((url) => `${url.slice(0, 60)}…(${url.length} chars)`);
    const doc: ResultDocument = {
      ...base,
      resources: clipped.map((target, i) => ({ ...r, target, latencyMs: i })),
      seed: { ...(base.seed as NonNullable<ResultDocument['seed']>), 'RESOURCE(S)': clipped },
    };
    // Act
    const { events, outcome } = buildInvocationRecords(
      { ...invocation(doc), sentResources: sent },
      'rec-5',
      AT,
    );
    // Assess: every URL shares its first 60 characters with the others; the length and order tell them apart.
    const measurement = (outcome as { measurement: HostMeasurement }).measurement;
    assert.deepEqual(
      measurement.resources.map((m) => [m.target, m.latencyMs]),
      sent.map((url, i) => [url, i]),
    );
    assert.equal('resourcesNotSent' in (recordsOf(events)[0] ?? {}), false);
  });

  it('without a list of what was sent, takes each reported target once', () => {
    const base = resultDocument();
    const r = base.resources[0] as ResourceResult;
    const doc = { ...base, resources: [r, { ...r, target: '10.0.0.2' }, r] };
    const { outcome } = buildInvocationRecords({ ...invocation(doc), sentResources: null }, 'rec-6', AT);
    assert.deepEqual(
      (outcome as { measurement: HostMeasurement }).measurement.resources.map((m) => m.target),
      ['10.0.0.1', '10.0.0.2'],
    );
  });

  it('keeps its own keys: the document cannot relabel, re-identify or add a legacy flag to the record', () => {
    const doc = {
      ...resultDocument(),
      record: 'blind',
      instanceId: 'i-other',
      status: 'Failed',
      LATENCY_FLAG: '1',
    };
    const { events } = buildInvocationRecords(invocation(doc as ResultDocument), 'rec-7', AT);
    const record: Record<string, unknown> = recordsOf(events)[0] ?? {};
    assert.deepEqual(
      [record.record, record.instanceId, record.status, record.recordId, 'LATENCY_FLAG' in record],
      ['result', 'i-0000000000000000a', 'Success', 'rec-7', false],
    );
  });

  it('turns a document the schema refuses into a failure record naming the first problems', () => {
    const doc = { ...resultDocument(), summary: {} };
    const { events, outcome } = buildInvocationRecords(
      invocation(doc as unknown as ResultDocument),
      'rec-8',
      AT,
    );
    assert.equal(outcome.kind, 'failed');
    const record: Record<string, unknown> = recordsOf(events)[0] ?? {};
    assert.equal(record.record, 'failure');
    assert.equal((record.error as { code: string }).code, 'E_RESULT_DOCUMENT');
    assert.deepEqual(
      (record.issues as { path: string }[]).map((i) => i.path),
      [
        'summary.resources',
        'summary.flagged',
        'summary.latencyFlag',
        'summary.lossFlag',
        'summary.worstLatencyMs',
      ],
    );
    assert.equal(events.length, 1, 'no seed line and no MTR text from a refused document');
  });

  it('never throws: a fault while building one host’s records becomes that host’s failure record', () => {
    // Prepare: a list of sent resources that throws when read stands in for any fault after parsing.
    const faulty = new Proxy([] as string[], {
      get() {
        throw new Error('simulated fault');
      },
    });
    // Act
    const { events, outcome } = buildInvocationRecords(
      { ...invocation(resultDocument()), sentResources: faulty },
      'rec-9',
      AT,
    );
    // Assess
    assert.equal(outcome.kind, 'failed');
    const record: Record<string, unknown> = recordsOf(events)[0] ?? {};
    assert.deepEqual([record.record, record.recordId], ['failure', 'rec-9']);
    assert.match(
      (record.error as { message: string }).message,
      /could not build this host's records: simulated fault/,
    );
  });
});

describe('buildInvocationRecords for a round with a path change', () => {
  /** Two resources sent, one not sent; the path of db.internal and of the one not sent changed. */
  function changedRound(): { doc: ResultDocument; sent: string[] } {
    const base = resultDocument();
    const healthy = base.resources[0] as ResourceResult;
    const change = {
      previousHops: ['10.81.0.1', '10.0.0.1'],
      hops: ['10.81.0.1', null, '10.0.0.9'],
      firstDifferentHop: 2,
    };
    const doc: ResultDocument = {
      ...base,
      resources: [
        { ...healthy, pathChange: null, baseline: { ms: 19.5, spreadMs: 0.5, deviationMs: 0.5, far: false } },
        { ...healthy, target: 'db.internal', address: '10.0.0.9', pathChange: change, baseline: null },
        { ...healthy, target: 'not.sent', address: '10.0.0.8', pathChange: change, baseline: null },
      ],
      seed: {
        ...(base.seed as NonNullable<ResultDocument['seed']>),
        'RESOURCE(S)': ['10.0.0.1', 'db.internal', 'not.sent'],
      },
    };
    return { doc, sent: ['10.0.0.1', 'db.internal'] };
  }

  it('writes a path-change record per resource sent whose path changed, before the result record', () => {
    // Prepare
    const { doc, sent } = changedRound();
    // Act
    const { events, outcome } = buildInvocationRecords(
      { ...invocation(doc), sentResources: sent },
      'rec-p',
      AT,
    );
    // Assess
    const messages = events.map((e) => e.message);
    const records = messages.map((m) => JSON.parse(m) as Record<string, unknown>);
    assert.deepEqual(
      records.map((r) => r.record ?? 'seed'),
      ['seed', 'path-change', 'result'],
    );
    assert.deepEqual(records[1], {
      record: 'path-change',
      instanceId: 'i-0000000000000000a',
      commandId: 'cmd-1',
      roundId: 'r-1',
      target: 'db.internal',
      address: '10.0.0.9',
      firstDifferentHop: 2,
      previousPath: '10.81.0.1 > 10.0.0.1',
      path: '10.81.0.1 > * > 10.0.0.9',
    });
    const result = records[2] as { resources: ResourceResult[]; resourcesNotSent: string[] };
    assert.deepEqual(
      result.resources.map((r) => [
        r.target,
        r.pathChange?.firstDifferentHop ?? null,
        r.baseline?.ms ?? null,
      ]),
      [
        ['10.0.0.1', null, 19.5],
        ['db.internal', 2, null],
        ['not.sent', 2, null],
      ],
      'the result record keeps every path change and baseline as reported',
    );
    assert.deepEqual(result.resourcesNotSent, ['not.sent']);
    const measurement = (outcome as { measurement: HostMeasurement }).measurement;
    assert.equal(measurement.pathChanges, 1, 'only the resources sent count');
    const fleet = emit(measurement).find((line) => 'HostsChecked' in line);
    assert.equal(fleet?.PathChanges, 1);
  });

  it('shows a path dropped to fit the SSM limit as "?"', () => {
    const { doc, sent } = changedRound();
    const dropped = doc.resources.map((r) => ({
      ...r,
      pathChange: r.pathChange == null ? r.pathChange : { ...r.pathChange, previousHops: null, hops: null },
    }));
    const { events } = buildInvocationRecords(
      { ...invocation({ ...doc, resources: dropped }), sentResources: sent },
      'rec-q',
      AT,
    );
    const change = events.map((e) => JSON.parse(e.message) as Record<string, unknown>)[1];
    assert.deepEqual([change?.record, change?.previousPath, change?.path], ['path-change', '?', '?']);
  });

  it('reads a document without path changes or baselines (an older agent) as none', () => {
    const { events, outcome } = buildInvocationRecords(invocation(resultDocument()), 'rec-r', AT);
    assert.equal(events.length, 2);
    assert.equal((outcome as { measurement: HostMeasurement }).measurement.pathChanges, 0);
  });
});
