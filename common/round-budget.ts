/**
 * How long a round may take, derived from its settings: one model for the
 * agent (which refuses settings whose round could outlive its own lock), the
 * round lock (whose stale age must exceed the longest round allowed) and
 * dispatch (which refuses settings that SSM's execution timeout would cut).
 *
 * A path's worst case is every bounded step running to its limit in turn:
 * DNS resolution and the mtr run (each a child process: its timeout, SIGKILL
 * grace and output drain), then a TCP/HTTP fallback for a destination that
 * ignores ICMP. Paths run in waves of `concurrency`; gateway discovery runs
 * beside the first wave and its path joins a wave.
 */

/** mtr's `-G` (seconds to wait for the last replies); mtr's own default is 5, ours 2. */
export const MTR_GRACE_SEC = 2;
/** Hard timeout slack over mtr's own schedule: process start, mtr-packet start-up, JSON output. */
export const MTR_TIMEOUT_SLACK_MS = 15_000;
/** Time between SIGTERM and SIGKILL of a timed-out child's process group. */
export const KILL_GRACE_MS = 1_000;
/**
 * How long a child's output pipes may stay open once it has exited (or been
 * SIGKILLed): a descendant that left its process group (setsid, double fork)
 * can hold them open forever, so after this the pipes are closed from our side.
 * At most KILL_GRACE_MS, so a run that exits in time ends before one that is killed.
 */
export const OUTPUT_DRAIN_MS = 500;

/** The longest one child process run takes, whatever it and its descendants do. */
export function processWorstCaseMs(timeoutMs: number): number {
  return timeoutMs + KILL_GRACE_MS + OUTPUT_DRAIN_MS;
}
/** One DNS lookup (getaddrinfo, in a `getent` child) per named resource and round. */
export const RESOLVE_TIMEOUT_MS = 5_000;
/** `mtr --version` before the round starts. */
export const MTR_VERSION_TIMEOUT_MS = 5_000;
/** Gateway discovery in all its steps (openvpn3, journal, management interface, log). */
export const GATEWAY_DISCOVERY_TIMEOUT_MS = 10_000;
/** Reading the log directory, writing files, rotation: generous, they take milliseconds. */
const FILES_MS = 10_000;

/**
 * Taking over a stale round lock goes through a second lock
 * (agent/files/lock.ts) that a live process holds for microseconds; one older
 * than this was left by a process that died or hangs, and is taken over in turn.
 */
export const LOCK_TAKEOVER_STALE_MS = 10_000;
/**
 * The longest a round waits for another's takeover of a stale lock before it
 * reports busy: two takeovers that each run to their stale age.
 */
export const LOCK_TAKEOVER_WAIT_MS = 2 * LOCK_TAKEOVER_STALE_MS;

/** The longest round any settings may produce; a lock older than LOCK_STALE_AFTER_MS is taken over. */
export const MAX_ROUND_MS = 3_600_000;
/**
 * Strictly above MAX_ROUND_MS: a round still within its worst case can never
 * have its lock taken for stale by the next one.
 */
export const LOCK_STALE_AFTER_MS = MAX_ROUND_MS + 15 * 60_000;

/**
 * One TCP connect or HTTP request of the fallback: an answer 20 times slower
 * than the latency threshold is as good as lost; the 1..5 s bounds keep a dead
 * resource from stretching the round.
 */
export function fallbackAttemptTimeoutMs(latencyThresholdMs: number): number {
  return Math.max(1_000, Math.min(5_000, latencyThresholdMs * 20));
}

export interface BudgetSettings {
  count: number;
  intervalSec: number;
  latencyThresholdMs: number;
  concurrency: number;
}

/** mtr's own schedule: `count` cycles `intervalSec` apart, then the grace time. */
export function mtrExpectedMs(s: Pick<BudgetSettings, 'count' | 'intervalSec'>): number {
  return Math.ceil((s.count * s.intervalSec + MTR_GRACE_SEC) * 1000);
}

/** The hard timeout after which an mtr run (its whole process group) is killed. */
export function mtrTimeoutMs(s: Pick<BudgetSettings, 'count' | 'intervalSec'>): number {
  return mtrExpectedMs(s) + MTR_TIMEOUT_SLACK_MS;
}

/** Attempts start `intervalSec` apart; the last one ends at most one attempt timeout after its start. */
export function fallbackWorstCaseMs(s: Omit<BudgetSettings, 'concurrency'>): number {
  return Math.ceil((s.count - 1) * s.intervalSec * 1000) + fallbackAttemptTimeoutMs(s.latencyThresholdMs);
}

export function pathWorstCaseMs(s: Omit<BudgetSettings, 'concurrency'>): number {
  return (
    processWorstCaseMs(RESOLVE_TIMEOUT_MS) + processWorstCaseMs(mtrTimeoutMs(s)) + fallbackWorstCaseMs(s)
  );
}

/** `paths`: resources plus one for the gateway. */
export function roundWorstCaseMs(s: BudgetSettings, paths: number): number {
  const waves = Math.max(1, Math.ceil(paths / Math.max(1, s.concurrency)));
  return (
    LOCK_TAKEOVER_WAIT_MS +
    MTR_VERSION_TIMEOUT_MS +
    GATEWAY_DISCOVERY_TIMEOUT_MS +
    waves * pathWorstCaseMs(s) +
    FILES_MS
  );
}

/** What a healthy round takes (every destination answers ICMP): for progress and the first collection. */
export function roundExpectedMs(s: BudgetSettings, paths: number): number {
  const waves = Math.max(1, Math.ceil(paths / Math.max(1, s.concurrency)));
  return waves * mtrExpectedMs(s);
}
