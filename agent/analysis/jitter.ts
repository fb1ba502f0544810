/**
 * Jitter: how much a path's round trip varies from one probe to the next,
 * which voice, video and interactive sessions through the tunnel feel even
 * when the average is fine.
 *
 * The figure is mtr's mean jitter (`-o M`, `Javg` in `--json`), the same in
 * mtr 0.92 to 0.96 (traviscross/mtr ui/net.c net_process_ping): for each reply
 * received, in order, its jitter is the absolute difference between its round
 * trip and the previous reply's (0 for the first reply), and Javg is the mean
 * of those over the replies. For n replies that is
 * `sum(|rtt[i] - rtt[i-1]|, i = 2..n) / n`: like RFC 3550's interarrival
 * jitter it looks at consecutive differences, but as a plain mean, not a
 * running estimate, and lost probes are skipped (the next reply is compared
 * with the last one that came back). mtr's other jitter fields are not used:
 * `Jttr` (`J`) is only the last difference, `Jmax` (`X`) the largest one, and
 * `Jint` (`I`) prints RFC 1889's estimator still scaled by 16.
 *
 * A destination measured by TCP/HTTP instead (it ignores ICMP) gets the same
 * formula over its attempts' connect times in start order, so one threshold
 * means the same whatever the method.
 */
import type { PathThresholds } from './analyse-path.ts';

/**
 * mtr's Javg over `rttsMs`, unrounded (null entries are lost attempts,
 * skipped); null when nothing answered.
 */
export function meanJitterMs(rttsMs: readonly (number | null)[]): number | null {
  const answered = rttsMs.filter((rtt): rtt is number => rtt !== null);
  if (answered.length === 0) return null;
  let sum = 0;
  for (let i = 1; i < answered.length; i++) sum += Math.abs((answered[i] ?? 0) - (answered[i - 1] ?? 0));
  return sum / answered.length;
}

/** Above a jitter threshold that is set (0 is off). */
export function isJitterAbove(
  jitterMs: number | null,
  thresholds: Pick<PathThresholds, 'jitterThresholdMs'>,
): boolean {
  return thresholds.jitterThresholdMs > 0 && jitterMs !== null && jitterMs > thresholds.jitterThresholdMs;
}
