/**
 * The tunnel state a history line may carry (`tn`): written when the round
 * knows it, read back, left out when not known, and a line with a state the
 * format does not have is skipped like any damaged line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeRound,
  encodeRound,
  HISTORY_TUNNEL_STATES,
  type HistoryRound,
} from '../../../agent/history/history-store.ts';

const round = (tunnel?: HistoryRound['tunnel']): HistoryRound => {
  const r: HistoryRound = {
    at: '2026-11-30T12:00:00.000Z',
    latencyThresholdMs: 75,
    lossThresholdPct: 5,
    resources: [
      {
        target: '10.20.0.5',
        address: '10.20.0.5',
        method: 'icmp',
        verdict: 'unreachable',
        latencyMs: null,
        lowMs: null,
        highMs: null,
        stdevMs: null,
        lossPct: 100,
        hops: null,
        trouble: null,
        pathChanged: false,
      },
    ],
  };
  if (tunnel !== undefined) r.tunnel = tunnel;
  return r;
};

describe('history store: the tunnel state of a round', () => {
  it('writes and reads back each state', () => {
    for (const state of HISTORY_TUNNEL_STATES) {
      const line = encodeRound(round(state));
      assert.ok(line.includes(`"tn":"${state}"`), line);
      assert.equal(decodeRound(line)?.round.tunnel, state);
    }
  });

  it('leaves `tn` out when the round does not know its tunnel, as rounds before it were written', () => {
    for (const r of [round(), round(null)]) {
      const line = encodeRound(r);
      assert.ok(!line.includes('"tn"'), line);
      assert.equal(decodeRound(line)?.round.tunnel, undefined);
    }
  });

  it('skips a line whose tunnel state is not one the format has', () => {
    const line = encodeRound(round('down'));
    for (const bad of ['"sideways"', '1', 'null', '["down"]']) {
      assert.equal(decodeRound(line.replace('"tn":"down"', `"tn":${bad}`)), null, bad);
    }
  });
});
