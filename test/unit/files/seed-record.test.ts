import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSeedRecord } from '../../../agent/files/seed-record.ts';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import { type ResourceResult, SEED_KEYS } from '../../../common/result-schema.ts';
import { serializeSeedRecord } from '../../../common/seed-line.ts';

function resource(target: string, over: Partial<ResourceResult> = {}): ResourceResult {
  return {
    target,
    address: target,
    method: 'icmp',
    latencyMs: 10,
    latencyBasis: 'icmp-echo',
    requestMs: null,
    lossPct: 0,
    latencyFlag: false,
    lossFlag: false,
    verdict: 'ok',
    unmeasured: null,
    trouble: null,
    hops: [],
    errors: [],
    durationMs: 1000,
    jitterMs: 0.5,
    ...over,
  };
}

const settings = { latencyThresholdMs: 75, lossThresholdPct: 5, jitterThresholdMs: 0 };
const base = { hostname: 'ip-10-0-0-5', gatewayIp: '203.0.113.5', settings, mtrId: '20240105030405' };

describe('buildSeedRecord / serializeSeedRecord', () => {
  it('serializes the exact keys in the old order with string values and an array of resources', () => {
    const record = buildSeedRecord({ ...base, resources: [resource('10.0.0.1'), resource('db.internal')] });
    const line = serializeSeedRecord(record);
    assert.equal(line.includes('\n'), false);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), [...SEED_KEYS]);
    for (const key of SEED_KEYS) {
      if (key === 'RESOURCE(S)') assert.deepEqual(parsed[key], ['10.0.0.1', 'db.internal']);
      else assert.equal(typeof parsed[key], 'string', key);
    }
  });

  it('writes keys in SEED_KEYS order even when the record object was built in another order', () => {
    const record = buildSeedRecord({ ...base, resources: [resource('a.example')] });
    const shuffled = Object.fromEntries(Object.entries(record).reverse()) as typeof record;
    assert.deepEqual(Object.keys(JSON.parse(serializeSeedRecord(shuffled))), [...SEED_KEYS]);
  });

  it('a clean round: flags "0", MTR id "0", values of the last resource', () => {
    const record = buildSeedRecord({
      ...base,
      resources: [
        resource('a.example', { latencyMs: 40.26, lossPct: 2 }),
        resource('b.example', { latencyMs: 12.34 }),
      ],
    });
    assert.deepEqual(record, {
      HOSTNAME: 'ip-10-0-0-5',
      'RESOURCE(S)': ['a.example', 'b.example'],
      GATEWAY_IP: '203.0.113.5',
      LATENCY_FLAG: '0',
      'LATENCY_(ms)': '12.3',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '0.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': '0',
    });
  });

  it('a flagged round: the MTR id, the flags, and the values of the worst flagged resource', () => {
    const record = buildSeedRecord({
      ...base,
      resources: [
        resource('slow.example', { latencyMs: 150, latencyFlag: true }), // 2x the latency threshold
        resource('lossy.example', { latencyMs: 20, lossPct: 30, lossFlag: true }), // 6x the loss threshold
        resource('fine.example', { latencyMs: 5 }),
      ],
    });
    assert.equal(record.LATENCY_FLAG, '1');
    assert.equal(record.LOSS_FLAG, '1');
    assert.equal(record['LATENCY_(ms)'], '20.0');
    assert.equal(record['HOP_LOSS_(%)'], '30.0');
    assert.equal(record['MTR-ID_(YYYYMMDDHHMMSS)'], '20240105030405');
  });

  it('picks the resource with the larger latency excess when it outranks a loss excess', () => {
    const record = buildSeedRecord({
      ...base,
      resources: [
        resource('lossy.example', { latencyMs: 20, lossPct: 10, lossFlag: true }), // 2x
        resource('slow.example', { latencyMs: 300, latencyFlag: true }), // 4x
      ],
    });
    assert.equal(record['LATENCY_(ms)'], '300.0');
    assert.equal(record['HOP_LOSS_(%)'], '0.0');
    assert.equal(record.LOSS_FLAG, '1');
  });

  it('with a loss threshold of 0, any loss outranks any latency excess', () => {
    const record = buildSeedRecord({
      ...base,
      settings: { latencyThresholdMs: 0.5, lossThresholdPct: 0, jitterThresholdMs: 0 },
      resources: [
        resource('slow.example', { latencyMs: 900, latencyFlag: true }),
        resource('lossy.example', { latencyMs: 0.2, lossPct: 1, lossFlag: true }),
        resource('lossier.example', { latencyMs: 0.3, lossPct: 4, lossFlag: true }),
      ],
    });
    assert.equal(record['HOP_LOSS_(%)'], '4.0');
    assert.equal(record['LATENCY_(ms)'], '0.3');
    assert.equal(record['LATENCY_THRESHOLD_(ms)'], '0.5');
    assert.equal(record['LOSS_THRESHOLD_(%)'], '0');
  });

  it('an unreachable resource shows latency 0.0 and loss 100.0, and a missing gateway shows N/A', () => {
    const record = buildSeedRecord({
      ...base,
      gatewayIp: null,
      resources: [
        resource('dead.example', { latencyMs: null, lossPct: 100, lossFlag: true, verdict: 'unreachable' }),
      ],
    });
    assert.equal(record['LATENCY_(ms)'], '0.0');
    assert.equal(record['HOP_LOSS_(%)'], '100.0');
    assert.equal(record.GATEWAY_IP, 'N/A');
    assert.equal(record.LATENCY_FLAG, '0');
    assert.equal(record.LOSS_FLAG, '1');
  });

  it('prints measurements with one decimal like mtr and thresholds without trailing zeros', () => {
    const record = buildSeedRecord({
      ...base,
      settings: { latencyThresholdMs: 80.5, lossThresholdPct: 2.25, jitterThresholdMs: 0 },
      resources: [resource('a.example', { latencyMs: 0.049, lossPct: 33.333 })],
    });
    assert.equal(record['LATENCY_(ms)'], '0.0');
    assert.equal(record['HOP_LOSS_(%)'], '33.3');
    assert.equal(record['LATENCY_THRESHOLD_(ms)'], '80.5');
    assert.equal(record['LOSS_THRESHOLD_(%)'], '2.25');
  });

  it('rounds exact ties to even like the MTR file (80.25 reads 80.2, 0.75 reads 0.8)', () => {
    // Prepare
    const resources = [resource('a.example', { latencyMs: 80.25, lossPct: 12.25 })];
    // Act
    const record = buildSeedRecord({ ...base, resources });
    const parsed = JSON.parse(serializeSeedRecord(record)) as Record<string, unknown>;
    // Assess
    assert.equal(parsed['LATENCY_(ms)'], '80.2');
    assert.equal(parsed['HOP_LOSS_(%)'], '12.2');
    const up = buildSeedRecord({ ...base, resources: [resource('b.example', { latencyMs: 0.75 })] });
    assert.equal(up['LATENCY_(ms)'], '0.8');
  });

  it('an unmeasured resource (its name did not resolve) flags the line: LOSS_FLAG 1, HOP_LOSS 100.0', () => {
    // Prepare: the example, --resources db.corp.internal,127.0.0.2
    const dns = unmeasuredJudgement({
      code: 'E_RESOLVE',
      message: 'could not resolve "db.corp.internal": EAI_AGAIN',
    });
    const resources = [
      resource('db.corp.internal', { address: null, hops: null, ...dns }),
      resource('127.0.0.2', { latencyMs: 0.05 }),
    ];
    // Act
    const record = buildSeedRecord({ ...base, resources });
    // Assess
    assert.equal(record.LOSS_FLAG, '1');
    assert.equal(record.LATENCY_FLAG, '0');
    assert.equal(record['HOP_LOSS_(%)'], '100.0');
    assert.equal(record['LATENCY_(ms)'], '0.0');
    assert.equal(record['MTR-ID_(YYYYMMDDHHMMSS)'], base.mtrId);
  });

  it('an unmeasured resource outranks a slow one: loss 100 % is 20x the 5 % threshold', () => {
    const unmeasured = unmeasuredJudgement({ code: 'E_MTR_OUTPUT', message: 'mtr output is not valid JSON' });
    const record = buildSeedRecord({
      ...base,
      resources: [
        resource('slow.example', { latencyMs: 300, latencyFlag: true, verdict: 'latency' }),
        resource('garbled.example', { hops: null, ...unmeasured }),
      ],
    });
    assert.equal(record.LATENCY_FLAG, '1');
    assert.equal(record.LOSS_FLAG, '1');
    assert.equal(record['HOP_LOSS_(%)'], '100.0');
    assert.equal(record['LATENCY_(ms)'], '0.0');
  });

  it('an empty resource list gives 0.0 values and no flags rather than failing', () => {
    const record = buildSeedRecord({ ...base, resources: [] });
    assert.deepEqual(record['RESOURCE(S)'], []);
    assert.equal(record['LATENCY_(ms)'], '0.0');
    assert.equal(record['MTR-ID_(YYYYMMDDHHMMSS)'], '0');
  });
});

describe('buildSeedRecord with jitter (issue 10)', () => {
  const jitterOn = { ...settings, jitterThresholdMs: 10 };

  it('a round flagged for jitter alone sets LATENCY_FLAG "1" and the MTR id, keys and formats unchanged', () => {
    // Prepare: the average is fine (20 ms under 75); the jitter (30 ms) is above its threshold (10).
    const record = buildSeedRecord({
      ...base,
      settings: jitterOn,
      resources: [
        resource('calm.example', { latencyMs: 12 }),
        resource('voip.example', { latencyMs: 20, jitterMs: 30, verdict: 'jitter' }),
      ],
    });
    // Assess
    assert.deepEqual(Object.keys(record), [...SEED_KEYS], 'the old keys, no jitter key');
    assert.equal(record.LATENCY_FLAG, '1');
    assert.equal(record.LOSS_FLAG, '0');
    assert.equal(record['LATENCY_(ms)'], '20.0', 'the jittery resource is the one shown');
    assert.equal(record['LATENCY_THRESHOLD_(ms)'], '75');
    assert.equal(record['MTR-ID_(YYYYMMDDHHMMSS)'], base.mtrId);
  });

  it('shows the resource with the larger excess whichever threshold it is over', () => {
    const record = buildSeedRecord({
      ...base,
      settings: jitterOn,
      resources: [
        resource('slow.example', { latencyMs: 150, latencyFlag: true, verdict: 'latency' }), // 2x
        resource('jittery.example', { latencyMs: 30, jitterMs: 40, verdict: 'jitter' }), // 4x
      ],
    });
    assert.equal(record['LATENCY_(ms)'], '30.0');
  });

  it('reported jitter with the threshold off flags nothing', () => {
    const record = buildSeedRecord({
      ...base,
      resources: [resource('voip.example', { latencyMs: 20, jitterMs: 300 })],
    });
    assert.equal(record.LATENCY_FLAG, '0');
    assert.equal(record['MTR-ID_(YYYYMMDDHHMMSS)'], '0');
  });
});
