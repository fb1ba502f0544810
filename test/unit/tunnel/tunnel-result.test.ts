/**
 * The round's `tunnel` object from an observation and the previous round's
 * memory: counts since the last round on the first round, across resets,
 * session and source changes; when a state began; the detail escaped and
 * bounded. Every object built here is one the collector accepts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildTunnel, type TunnelMemory, tunnelDetail } from '../../../agent/tunnel/tunnel-result.ts';
import type { TunnelObservation } from '../../../agent/tunnel/tunnel-state.ts';
import { TUNNEL_LIMITS } from '../../../common/result-contract.ts';
import { parseResultDocument } from '../../../common/result-schema.ts';
import { resultDocument } from '../functions/fixtures.ts';

const ROUND = new Date('2026-03-04T05:10:00.000Z');
const EARLIER = '2026-03-04T05:05:00.000Z';

function openvpn3(session: string, bytesIn: number, bytesOut: number, reconnects: number): TunnelObservation {
  return {
    state: 'up',
    source: 'openvpn3',
    detail: 'Connection, Client connected',
    sinceMs: null,
    counterKey: `openvpn3 /net/openvpn/v3/sessions/${session}`,
    counters: { bytesIn, bytesOut, reconnects },
    history: null,
  };
}

/** What the previous round would have remembered of `seen`. */
function memoryOf(seen: TunnelObservation, since = EARLIER): TunnelMemory {
  return buildTunnel(seen, null, new Date(since)).memory;
}

/** The collector reads the tunnel back exactly as built. */
function accepted(tunnel: ReturnType<typeof buildTunnel>['tunnel']): void {
  const doc = resultDocument({ tunnel });
  assert.deepEqual(parseResultDocument(JSON.stringify(doc)).tunnel, tunnel);
}

describe('buildTunnel: counts since the last round', () => {
  it('has no counts on the first round, and keeps the counters for the next one', () => {
    const { tunnel, memory } = buildTunnel(openvpn3('a', 1000, 500, 2), null, ROUND);
    assert.deepEqual([tunnel.reconnects, tunnel.bytesIn, tunnel.bytesOut], [null, null, null]);
    assert.deepEqual(
      [memory.key, memory.bytesIn, memory.bytesOut, memory.reconnects],
      ['openvpn3 /net/openvpn/v3/sessions/a', 1000, 500, 2],
    );
    accepted(tunnel);
  });

  it('subtracts the previous counters of the same session', () => {
    const previous = memoryOf(openvpn3('a', 1000, 500, 2));
    const { tunnel } = buildTunnel(openvpn3('a', 4000, 900, 3), previous, ROUND);
    assert.deepEqual([tunnel.reconnects, tunnel.bytesIn, tunnel.bytesOut], [1, 3000, 400]);
    accepted(tunnel);
  });

  it('never counts backwards: a counter that went down (tunnel restarted) gives what it counted since', () => {
    const previous = memoryOf(openvpn3('a', 1000, 500, 2));
    const { tunnel } = buildTunnel(openvpn3('a', 300, 600, 0), previous, ROUND);
    assert.deepEqual([tunnel.reconnects, tunnel.bytesIn, tunnel.bytesOut], [0, 300, 100]);
    accepted(tunnel);
  });

  it('takes a new session of the same source as counters that started again', () => {
    const previous = memoryOf(openvpn3('a', 9_000_000, 500, 7));
    const { tunnel } = buildTunnel(openvpn3('b', 1200, 800, 0), previous, ROUND);
    assert.deepEqual([tunnel.reconnects, tunnel.bytesIn, tunnel.bytesOut], [0, 1200, 800]);
  });

  it('compares nothing across sources (the management interface last round, openvpn3 now)', () => {
    const management: TunnelObservation = {
      ...openvpn3('a', 10, 10, 0),
      source: 'openvpn2-management',
      counterKey: 'openvpn2-management 127.0.0.1:7505',
    };
    const { tunnel } = buildTunnel(openvpn3('a', 5000, 5000, 1), memoryOf(management), ROUND);
    assert.deepEqual([tunnel.reconnects, tunnel.bytesIn, tunnel.bytesOut], [null, null, null]);
  });

  it('counts OpenVPN 2 reconnects from the state history after the last round, and restarts its `status` counters', () => {
    const seen = (newest: number, restarts: number[], bytesIn: number): TunnelObservation => ({
      state: 'up',
      source: 'openvpn2-management',
      detail: 'CONNECTED SUCCESS',
      sinceMs: newest * 1000,
      counterKey: 'openvpn2-management 127.0.0.1:7505',
      counters: { bytesIn, bytesOut: bytesIn, reconnects: null },
      history: { newest, restarts: [100, ...restarts], reconnects: restarts },
    });
    const first = memoryOf(seen(200, [150], 50_000));
    assert.equal(first.mark, 200);
    // No restart since: the difference.
    const calm = buildTunnel(seen(200, [150], 80_000), first, ROUND).tunnel;
    assert.deepEqual([calm.reconnects, calm.bytesIn], [0, 30_000]);
    // Two reconnects since, the counters cleared by them and already past the old value.
    const busy = buildTunnel(seen(400, [150, 300, 350], 90_000), first, ROUND).tunnel;
    assert.deepEqual([busy.reconnects, busy.bytesIn], [2, 90_000]);
    assert.equal(busy.since, new Date(400_000).toISOString());
  });

  it('gives null for a counter the source could not read this round, and counts on once it can', () => {
    const previous = memoryOf(openvpn3('a', 1000, 500, 2));
    const blind: TunnelObservation = { ...openvpn3('a', 0, 0, 0), counters: null };
    const { tunnel, memory } = buildTunnel(blind, previous, ROUND);
    assert.deepEqual([tunnel.reconnects, tunnel.bytesIn, tunnel.bytesOut], [null, null, null]);
    assert.deepEqual([memory.bytesIn, memory.reconnects], [null, null]);
  });
});

describe('buildTunnel: since when', () => {
  it('keeps the first round that saw a state, and starts again when the state or source changes', () => {
    const up = openvpn3('a', 1, 1, 0);
    const first = memoryOf(up, EARLIER);
    assert.equal(buildTunnel(up, first, ROUND).tunnel.since, EARLIER);
    const down: TunnelObservation = { ...up, state: 'down', detail: 'Connection, Client disconnected' };
    assert.equal(buildTunnel(down, first, ROUND).tunnel.since, ROUND.toISOString());
    const tun: TunnelObservation = { ...up, source: 'tun-device', counterKey: null, counters: null };
    assert.equal(buildTunnel(tun, first, ROUND).tunnel.since, ROUND.toISOString());
  });

  it('takes the start the source gives, and none for an unknown state', () => {
    const given = { ...openvpn3('a', 1, 1, 0), sinceMs: Date.parse('2026-03-01T00:00:00Z') };
    assert.equal(buildTunnel(given, null, ROUND).tunnel.since, '2026-03-01T00:00:00.000Z');
    const unknown: TunnelObservation = { ...openvpn3('a', 1, 1, 0), state: 'unknown', source: null };
    assert.equal(buildTunnel(unknown, memoryOf(unknown), ROUND).tunnel.since, null);
  });
});

describe('tunnelDetail', () => {
  it('escapes control characters and bidirectional overrides, so the text shows what it is', () => {
    assert.equal(
      tunnelDetail('  Client\u001b[2J connected\r\n\u202eevil '),
      'Client\\x1b[2J connected\\x0d\\x0a\\u202eevil',
    );
  });

  it('stays within the limit after escaping, without cutting a surrogate pair', () => {
    for (const text of [
      '\u0007'.repeat(1000),
      'x'.repeat(5000),
      `${'a'.repeat(237)}😀😀😀`,
      `${'a'.repeat(238)}😀b`,
    ]) {
      const detail = tunnelDetail(text);
      assert.ok(detail.length <= TUNNEL_LIMITS.detailChars, `${detail.length}`);
      accepted({ ...buildTunnel(openvpn3('a', 1, 1, 0), null, ROUND).tunnel, detail });
    }
    // The pair would straddle the cut: it goes whole; one that fits stays.
    assert.equal(tunnelDetail(`${'a'.repeat(238)}😀b`), `${'a'.repeat(238)}…`);
    assert.equal(tunnelDetail(`${'a'.repeat(238)}😀`), `${'a'.repeat(238)}😀`);
  });
});
