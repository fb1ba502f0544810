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
  /**
   * Recent rounds the baseline is made of (3 hours of 5-minute rounds): every
   * round reads them back (history-store.ts), and each line read costs CPU
   * on every host every round (issue 10's goal: the history under 10 % more
   * per round; bench/history-cpu.ts); 36 medians as well as 48 for a path's
   * normal, and a new normal is learned in 90 minutes rather than two hours.
   */
  windowRounds: 36,
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
 * It runs for every resource of every round, mostly before the code is
 * compiled, where each step of a loop costs: the window is copied and sorted
 * natively (a typed array, a numeric sort), and the spread is found without
 * computing every deviation (medianDeviation).
 */
export function computeBaseline(earlier: readonly number[], latencyMs: number): Baseline | null {
  const all = new Float64Array(
    earlier.length > BASELINE_RULE.windowRounds ? earlier.slice(0, BASELINE_RULE.windowRounds) : earlier,
  ).sort();
  // Sorted, the values that are not finite and positive or zero sit at the ends (NaN last).
  let from = 0;
  let to = all.length;
  while (from < to && !((all[from] as number) >= 0)) from++;
  while (to > from && !((all[to - 1] as number) < Number.POSITIVE_INFINITY)) to--;
  if (to - from < BASELINE_RULE.minRounds) return null;
  const window = from === 0 && to === all.length ? all : all.subarray(from, to);
  const ms = median(window);
  const spreadMs = MAD_TO_SD * medianDeviation(window, ms);
  const deviationMs = latencyMs - ms;
  return {
    ms: round3(ms),
    spreadMs: round3(spreadMs),
    deviationMs: round3(deviationMs),
    far: deviationMs > baselineMargin(ms, spreadMs),
  };
}

/** The middle of `sorted` (ascending). */
function median(sorted: Float64Array): number {
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * The median of |value − m| over `sorted` (ascending, not empty), m its
 * median: the deviations of the values below m, taken downwards, and of
 * those from m on, taken upwards, are two ascending runs, so merging them
 * up to the middle finds the middle deviations, the same numbers sorting all
 * of them would (m − v is exactly −(v − m)), in half as many steps.
 */
export function medianDeviation(sorted: Float64Array, m: number): number {
  const n = sorted.length;
  let up = n >> 1;
  while (up > 0 && (sorted[up - 1] as number) >= m) up--;
  let down = up - 1;
  // The lower middle position; with an even count, the next one too.
  const k = (n - 1) >> 1;
  let lower = 0;
  for (let t = 0; t <= k + 1; t++) {
    const below = down >= 0 ? m - (sorted[down] as number) : Number.POSITIVE_INFINITY;
    const above = up < n ? (sorted[up] as number) - m : Number.POSITIVE_INFINITY;
    let deviation: number;
    if (below <= above) {
      deviation = below;
      down--;
    } else {
      deviation = above;
      up++;
    }
    if (t === k) {
      if (n % 2 === 1) return deviation;
      lower = deviation;
    } else if (t === k + 1) return (lower + deviation) / 2;
  }
  return lower;
}
