import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitResult, serializeResult } from '../../../agent/round/fit-result.ts';
import { unmeasuredJudgement } from '../../../common/flag-rule.ts';
import {
  type Hop,
  RESULT_SCHEMA,
  type ResourceResult,
  type ResultDocument,
} from '../../../common/result-schema.ts';

const hop = (ttl: number): Hop => ({
  ttl,
  host: `10.20.${ttl}.1`,
  lossPct: 0,
  sent: 25,
  lastMs: 1.234,
  avgMs: 1.234,
  bestMs: 1.1,
  worstMs: 2.2,
  stdevMs: 0.1,
});

const resource = (target: string, flagged: boolean): ResourceResult => ({
  target,
  address: target,
  method: 'icmp',
  latencyMs: flagged ? 120 : 3,
  latencyBasis: 'icmp-echo',
  requestMs: null,
  lossPct: 0,
  latencyFlag: flagged,
  lossFlag: false,
  verdict: flagged ? 'latency' : 'ok',
  unmeasured: null,
  trouble: null,
  hops: Array.from({ length: 30 }, (_, i) => hop(i + 1)),
  errors: [],
  durationMs: 1000,
});

function documentWith(resources: ResourceResult[]): ResultDocument {
  return {
    schema: RESULT_SCHEMA,
    agentVersion: 'test',
    hostname: 'h',
    outcome: 'completed',
    error: null,
    mtrId: '0',
    startedAt: '',
    finishedAt: '',
    timings: { totalMs: 0, probesMs: 0, gatewayDiscoveryMs: 0 },
    settings: null,
    summary: {
      resources: resources.length,
      flagged: 0,
      latencyFlag: false,
      lossFlag: false,
      worstLatencyMs: null,
      worstLossPct: null,
    },
    resources,
    gateway: {
      ip: '203.0.113.9',
      source: 'option',
      latencyMs: 9,
      lossPct: 0,
      hops: [hop(1), hop(2)],
      errors: [],
    },
    seed: null,
    files: [],
    warnings: [],
    truncated: null,
  };
}

describe('fitting the result document into the SSM output limit', () => {
  it('leaves a document that fits untouched', () => {
    const doc = documentWith([resource('10.0.0.1', false)]);
    assert.equal(fitResult(doc), doc);
  });

  it('drops hop lists of unflagged resources first, keeps flagged evidence, and says so', () => {
    const resources = Array.from({ length: 50 }, (_, i) => resource(`10.0.${i}.1`, i === 7));
    const doc = documentWith(resources);
    assert.ok(serializeResult(doc).length > 24_000, 'the fixture must overflow');

    const fitted = fitResult(doc);

    assert.ok(serializeResult(fitted).length <= 24_000);
    assert.notEqual(fitted.resources[7]?.hops, null, 'the flagged resource keeps its path');
    assert.ok((fitted.truncated?.hopsDroppedFor.length ?? 0) > 0);
    assert.ok(!fitted.truncated?.hopsDroppedFor.includes('10.0.7.1'));
    assert.ok(fitted.warnings.some((w) => w.includes('hop lists dropped')));
    assert.equal(fitted.resources.length, 50, 'every resource is still reported');
    assert.notEqual(doc.resources[0]?.hops, null, 'the input document is not modified');
  });

  it('stays under the limit with 50 URL resources of 512 characters, clipping texts and saying so', () => {
    const url = (i: number) =>
      `https://intranet.corp.example/${String(i).padStart(3, '0')}/${'a'.repeat(470)}`;
    const resources = Array.from({ length: 50 }, (_, i) => ({
      ...resource(url(i), i % 2 === 0),
      address: `10.0.0.${i}`,
      errors: [{ code: 'E_PROBE' as const, message: `tcp probe to 10.0.0.${i}: ${'timeout '.repeat(40)}` }],
    }));
    const doc = documentWith(resources);
    doc.seed = {
      HOSTNAME: 'h',
      'RESOURCE(S)': resources.map((r) => r.target),
      GATEWAY_IP: 'N/A',
      LATENCY_FLAG: '1',
      'LATENCY_(ms)': '120.0',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '0.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': '20260101000000',
    };
    doc.warnings = resources.map((r) => `${r.target}: something to say`);

    const fitted = fitResult(doc);

    assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
    assert.equal(fitted.resources.length, 50);
    assert.deepEqual(
      fitted.resources.map((r) => [r.latencyFlag, r.verdict]),
      resources.map((r) => [r.latencyFlag, r.verdict]),
      'every verdict survives',
    );
    assert.equal(fitted.truncated?.textShortened, true);
    assert.match(fitted.resources[0]?.target ?? '', /…\(504 chars\)$/);
    assert.ok(fitted.warnings.some((w) => w.includes('texts longer than')));
  });

  it('50 unresolvable URL resources: every one stays unmeasured, flagged and with its reason, details clipped', () => {
    // Prepare: 50 names of 512 characters that did not resolve; each error quotes its name.
    const url = (i: number) => `https://db${i}.corp.example/${'b'.repeat(480)}`;
    const resources = Array.from({ length: 50 }, (_, i): ResourceResult => {
      const message = `could not resolve "${url(i)}": EAI_AGAIN`;
      return {
        ...resource(url(i), false),
        address: null,
        hops: null,
        errors: [{ code: 'E_RESOLVE', message }],
        ...unmeasuredJudgement({ code: 'E_RESOLVE', message }),
      };
    });
    const doc = documentWith(resources);
    assert.ok(serializeResult(doc).length > 24_000, 'the fixture must overflow');
    // Act
    const fitted = fitResult(doc);
    // Assess
    assert.ok(serializeResult(fitted).length <= 24_000, `${serializeResult(fitted).length} characters`);
    assert.deepEqual(
      fitted.resources.map((r) => [r.verdict, r.lossFlag, r.lossPct, r.unmeasured?.reason]),
      resources.map(() => ['unmeasured', true, 100, 'dns']),
    );
    assert.ok(fitted.resources.every((r) => (r.unmeasured?.detail.length ?? 0) <= 200));
    assert.equal(doc.resources[0]?.unmeasured?.detail.length, 536, 'the input document is not modified');
  });
});
