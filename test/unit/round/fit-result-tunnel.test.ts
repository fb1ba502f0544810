/**
 * The tunnel object survives every step of fitting the document into the SSM
 * output limit (agent/round/fit-result.ts): it is small and bounded, and the
 * largest round the settings allow still fits with the largest tunnel object
 * and its cause. Prints what the tunnel adds to a 50-resource round.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitResult, serializeResult } from '../../../agent/round/fit-result.ts';
import { tunnelDetail } from '../../../agent/tunnel/tunnel-result.ts';
import { RESULT_MAX_CHARS, TUNNEL_LIMITS } from '../../../common/result-contract.ts';
import type { Hop, ResourceResult, ResultDocument, TunnelResult } from '../../../common/result-schema.ts';
import { tunnelCause } from '../../../common/tunnel-rule.ts';
import { assertCollectorAccepts } from '../../helpers/collector-accepts.ts';
import { resultDocument } from '../functions/fixtures.ts';

/** The largest tunnel object: every counter at its bound, the longest escaped detail. */
const LARGEST: TunnelResult = {
  state: 'reconnecting',
  source: 'openvpn2-management',
  detail: tunnelDetail('\u001b'.repeat(TUNNEL_LIMITS.detailChars)),
  since: '2026-03-04T05:05:00.000Z',
  reconnects: TUNNEL_LIMITS.maxCount,
  bytesIn: TUNNEL_LIMITS.maxCount,
  bytesOut: TUNNEL_LIMITS.maxCount,
  explains: true,
};

const hop = (ttl: number): Hop => ({
  ttl,
  host: `2001:db8:ffff:ffff:ffff:ffff:ffff:${ttl.toString(16)}`,
  lossPct: 100,
  sent: 500,
  lastMs: null,
  avgMs: null,
  bestMs: null,
  worstMs: null,
  stdevMs: null,
  jitterMs: null,
});

/** 50 flagged URL resources of 512 characters on IPv6 addresses, with hops, errors and a warning each. */
function largestRound(tunnel: TunnelResult | undefined): ResultDocument {
  const base = resultDocument({}, true);
  const template = base.resources[0] as ResourceResult;
  const resources = Array.from({ length: 50 }, (_, i): ResourceResult => {
    const target = `https://intranet.corp.example/${String(i).padStart(3, '0')}/${'a'.repeat(470)}`;
    return {
      ...template,
      target,
      address: `2001:db8:ffff:ffff:ffff:ffff:ffff:${(0x1000 + i).toString(16)}`,
      method: null,
      latencyMs: null,
      latencyBasis: null,
      lossPct: 100,
      latencyFlag: false,
      lossFlag: true,
      verdict: 'unreachable',
      hops: Array.from({ length: 30 }, (_, k) => hop(k + 1)),
      errors: [{ code: 'E_PROBE', message: `no answer from ${target}: ${'x'.repeat(300)}` }],
    };
  });
  const warnings = resources.map((r) => `${r.target}: ${'w'.repeat(300)}`);
  if (tunnel !== undefined)
    warnings.unshift(`${tunnelCause(tunnel)}: the likely cause of the 50 flagged resource(s)`);
  return {
    ...base,
    resources,
    summary: {
      ...base.summary,
      resources: 50,
      flagged: 50,
      latencyFlag: false,
      lossFlag: true,
      worstLossPct: 100,
    },
    seed:
      base.seed === null
        ? null
        : { ...base.seed, 'RESOURCE(S)': resources.map((r) => r.target), LATENCY_FLAG: '0' },
    warnings,
    ...(tunnel === undefined ? {} : { tunnel }),
  };
}

describe('fitResult with the tunnel object', () => {
  it('keeps the tunnel whole in the largest round, and the document fits', () => {
    const doc = largestRound(LARGEST);
    assert.ok(serializeResult(doc).length > RESULT_MAX_CHARS, 'the fixture must overflow');
    const fitted = fitResult(doc);
    assert.ok(
      serializeResult(fitted).length <= RESULT_MAX_CHARS,
      `${serializeResult(fitted).length} characters`,
    );
    assert.deepEqual(fitted.tunnel, LARGEST);
    assertCollectorAccepts(fitted);
  });

  it('keeps the cause as the first warning while warnings are only clipped', () => {
    const doc = resultDocument({ tunnel: LARGEST }, true);
    doc.warnings = [
      tunnelCause(LARGEST),
      ...Array.from({ length: 40 }, (_, i) => `${i}: ${'w'.repeat(600)}`),
    ];
    const fitted = fitResult(doc);
    assert.ok(serializeResult(fitted).length <= RESULT_MAX_CHARS);
    assert.ok(
      fitted.warnings[0]?.startsWith('tunnel reconnecting since 2026-03-04T05:05:00.000Z'),
      fitted.warnings[0],
    );
  });

  it('reports what the tunnel adds to a 50-resource round', () => {
    const typical: TunnelResult = {
      state: 'up',
      source: 'openvpn3',
      detail: 'Connection, Client connected',
      since: '2026-03-04T05:00:00.000Z',
      reconnects: 0,
      bytesIn: 18_432_000,
      bytesOut: 5_123_400,
      explains: false,
    };
    const withoutTunnel = serializeResult(largestRound(undefined)).length;
    const added = (tunnel: TunnelResult) => serializeResult(largestRound(tunnel)).length - withoutTunnel;
    const typicalAdded =
      serializeResult({ ...largestRound(undefined), tunnel: typical }).length - withoutTunnel;
    process.stdout.write(
      `# tunnel adds ${typicalAdded} characters to a 50-resource round (tunnel up), ` +
        `${added(LARGEST)} at most (largest object and its cause warning), before fitting\n`,
    );
    assert.ok(typicalAdded < 250, `${typicalAdded}`);
    assert.ok(added(LARGEST) < 2 * TUNNEL_LIMITS.detailChars + 500, `${added(LARGEST)}`);
  });
});
