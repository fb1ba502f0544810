/**
 * A resource's latency against its own normal on this host: the baseline is
 * made of the latencies of its recent rounds (the history store), robustly,
 * so that the rounds of an incident do not drag it along at once. Pure.
 *
 * - Window: the last BASELINE_RULE.windowRounds rounds that measured the
 *   resource's latency by the same basis as this round (an ICMP echo is not
 *   compared with a TCP handshake); none before minRounds such rounds exist.
 * - `ms`: their median. `spreadMs`: 1.4826 × their median absolute deviation,
 *   which estimates the standard deviation of well-behaved latencies and is
 *   not moved by a few outliers.
 * - Far above it: latency − ms > max(spreads × spreadMs, floorMs,
 *   floorFraction × ms). The spread term is the statistics; the floors keep a
 *   very steady path (a LAN hop at 0.2 ± 0.01 ms) from being called abnormal
 *   for a few milliseconds, or a long path for a few percent.
 * The median follows a lasting change once it fills half the window, so a new
 * normal stops being far after about windowRounds / 2 rounds.
 */
import type { Baseline } from '../../common/result-schema.ts';
import { round3 } from '../analysis/analyse-path.ts';

export const BASELINE_RULE = {
  /** Recent rounds the baseline is made of (4 hours of 5-minute rounds). */
  windowRounds: 48,
  /** Rounds needed before there is a baseline at all. */
  minRounds: 10,
  /** Spreads above the median that count as far. */
  spreads: 4,
  /** ... but never less than this many milliseconds ... */
  floorMs: 5,
  /** ... nor less than this fraction of the baseline. */
  floorFraction: 0.2,
} as const;

/** MAD × this estimates the standard deviation of normally distributed values. */
const MAD_TO_SD = 1.4826;

/** How far above `ms` a latency must be to count as far (milliseconds). */
export function baselineMargin(ms: number, spreadMs: number): number {
  return Math.max(BASELINE_RULE.spreads * spreadMs, BASELINE_RULE.floorMs, BASELINE_RULE.floorFraction * ms);
}

/**
 * `earlier`: latencies (ms) of earlier rounds, newest first, measured by the
 * same basis as `latencyMs`. Null while fewer than BASELINE_RULE.minRounds exist.
 */
export function computeBaseline(earlier: readonly number[], latencyMs: number): Baseline | null {
  const window = earlier.slice(0, BASELINE_RULE.windowRounds).filter((ms) => Number.isFinite(ms) && ms >= 0);
  if (window.length < BASELINE_RULE.minRounds) return null;
  const ms = median(window);
  const spreadMs = MAD_TO_SD * median(window.map((value) => Math.abs(value - ms)));
  const deviationMs = latencyMs - ms;
  return {
    ms: round3(ms),
    spreadMs: round3(spreadMs),
    deviationMs: round3(deviationMs),
    far: deviationMs > baselineMargin(ms, spreadMs),
  };
}

/** Sorted in a typed array: a numeric sort without a comparator call per step (a round sorts 100 windows). */
function median(values: readonly number[]): number {
  const sorted = new Float64Array(values).sort();
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
