import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BASELINE_RULE, baselineMargin, computeBaseline } from '../../../agent/history/baseline.ts';

/** `n` latencies around `ms`, spread evenly over ±`jitter` (newest first, as the store hands them). */
const around = (n: number, ms: number, jitter: number): number[] =>
  Array.from({ length: n }, (_, i) => ms + jitter * ((i % 5) - 2) * 0.5);

describe('baseline: a resource against its own recent rounds', () => {
  it('has no baseline before the minimum number of rounds', () => {
    assert.equal(computeBaseline(around(BASELINE_RULE.minRounds - 1, 20, 1), 20), null);
    assert.notEqual(computeBaseline(around(BASELINE_RULE.minRounds, 20, 1), 20), null);
  });

  it('states the median, a robust spread and how far this round is from it', () => {
    // Prepare: 20 ± 1 ms: MAD 0.5 ms, spread 1.4826 × 0.5.
    const earlier = around(20, 20, 1);
    // Act
    const baseline = computeBaseline(earlier, 23.5);
    // Assess
    assert.deepEqual(baseline, { ms: 20, spreadMs: 0.741, deviationMs: 3.5, far: false });
    assert.equal(computeBaseline(earlier, 18.25)?.deviationMs, -1.75, 'faster than usual is negative');
  });

  it('calls a round far only past max(4 spreads, 5 ms, 20 % of the baseline)', () => {
    // Steady LAN path: 0.2 ms with almost no spread; the 5 ms floor decides.
    const lan = around(30, 0.2, 0.02);
    assert.equal(computeBaseline(lan, 5.1)?.far, false);
    assert.equal(computeBaseline(lan, 5.3)?.far, true);
    // Long steady path: 100 ms; 20 % (20 ms) decides.
    const wan = around(30, 100, 1);
    assert.equal(computeBaseline(wan, 119)?.far, false);
    assert.equal(computeBaseline(wan, 121)?.far, true);
    // Noisy path: 40 ± 10 ms (spread 7.4 ms), 4 spreads (29.7 ms) decide.
    const noisy = around(30, 40, 10);
    const margin = baselineMargin(40, 1.4826 * 5);
    assert.ok(Math.abs(margin - 4 * 1.4826 * 5) < 1e-9);
    assert.equal(computeBaseline(noisy, 40 + margin - 0.1)?.far, false);
    assert.equal(computeBaseline(noisy, 40 + margin + 0.1)?.far, true);
  });

  it('is not moved by a few outliers in the window', () => {
    // Prepare: 30 rounds at 10 ± 0.5 ms, 5 of them spikes of 300 ms.
    const earlier = around(30, 10, 0.5).map((ms, i) => (i % 6 === 0 ? 300 : ms));
    // Act
    const baseline = computeBaseline(earlier, 10);
    // Assess: the median and spread still describe the usual 10 ms.
    assert.ok(baseline !== null);
    assert.ok(Math.abs(baseline.ms - 10) <= 0.5, `median ${baseline.ms}`);
    assert.ok(baseline.spreadMs < 1, `spread ${baseline.spreadMs}`);
    assert.equal(computeBaseline(earlier, 30)?.far, true);
  });

  it('uses only the newest rounds of the window, so a lasting change becomes the new normal', () => {
    // Prepare: newest first, 30 rounds at 50 ms after 100 rounds at 10 ms.
    const earlier = [...around(30, 50, 0), ...around(100, 10, 1)];
    // Act
    const baseline = computeBaseline(earlier, 50);
    // Assess
    assert.equal(baseline?.ms, 50, 'more than half the window is at the new level');
    assert.equal(baseline?.far, false);
  });

  it('ignores values that are not latencies', () => {
    const earlier = [...around(12, 20, 1), Number.NaN, -1, Number.POSITIVE_INFINITY];
    assert.equal(computeBaseline(earlier, 20)?.ms, computeBaseline(around(12, 20, 1), 20)?.ms);
    const nine = [Number.NaN, -1, Number.POSITIVE_INFINITY, ...around(9, 20, 1)];
    assert.equal(computeBaseline(nine, 20), null, 'only 9 latencies');
  });

  it('gives the figures of its definition, computed the plain way, for any window', () => {
    // The definition: the first windowRounds values, the latencies among them, their median, 1.4826 × the
    // median of their absolute deviations from it (each median of a numerically sorted list).
    const median = (values: number[]): number => {
      const sorted = [...values].sort((a, b) => a - b);
      const h = sorted.length >> 1;
      return sorted.length % 2 === 1
        ? (sorted[h] as number)
        : ((sorted[h - 1] as number) + (sorted[h] as number)) / 2;
    };
    const round3 = (v: number): number => Math.round(v * 1000) / 1000;
    const definition = (earlier: number[], latencyMs: number) => {
      const window = earlier
        .slice(0, BASELINE_RULE.windowRounds)
        .filter((ms) => Number.isFinite(ms) && ms >= 0);
      if (window.length < BASELINE_RULE.minRounds) return null;
      const ms = median(window);
      const spreadMs = 1.4826 * median(window.map((v) => Math.abs(v - ms)));
      const deviationMs = latencyMs - ms;
      return {
        ms: round3(ms),
        spreadMs: round3(spreadMs),
        deviationMs: round3(deviationMs),
        far: deviationMs > baselineMargin(ms, spreadMs),
      };
    };
    // Deterministic windows of every length around the bounds, ties, spikes and values that are no latency.
    let seed = 7;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let trial = 0; trial < 2000; trial++) {
      const length = trial % 70;
      const earlier = Array.from({ length }, () => {
        const r = next();
        if (r < 0.03) return [Number.NaN, -1, Number.POSITIVE_INFINITY, -0][Math.floor(next() * 4)] as number;
        if (r < 0.3) return Math.round(next() * 4);
        return r < 0.35 ? 300 + next() * 100 : 10 + next() * 5;
      });
      const latencyMs = 5 + next() * 40;
      assert.deepEqual(
        computeBaseline(earlier, latencyMs),
        definition(earlier, latencyMs),
        JSON.stringify(earlier),
      );
    }
  });
});
