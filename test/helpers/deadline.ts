/**
 * Deadlines in tests, robust on a loaded machine. A deadline is a floor: a
 * timer never fires early, and a busy machine only makes things later. So a
 * test asserts that a wait lasted at least its deadline and that it ended
 * nearer the deadline than the outcome the test guards against (a stand-in's
 * own end, the next scheduled slot, attempts made one after another), never
 * that it ended within some absolute number of milliseconds. A test that
 * hangs is ended by the runner's --test-timeout (scripts/run-tests.mjs).
 */
import assert from 'node:assert/strict';

/** The mark between the outcome expected and the one guarded against. */
export function halfwayMs(expectedMs: number, alternativeMs: number): number {
  return (expectedMs + alternativeMs) / 2;
}

/**
 * Asserts that a wait of `elapsedMs` was ended by its `deadlineMs`: not before
 * it (1 ms for Date.now() rounding), and nearer it than `alternativeMs`, what
 * the wait would have lasted without the deadline (`alternative` says what that is).
 */
export function assertEndedByDeadline(
  elapsedMs: number,
  o: { deadlineMs: number; alternativeMs: number; alternative: string },
): void {
  assert.ok(
    elapsedMs >= o.deadlineMs - 1,
    `ended after ${elapsedMs} ms, before its ${o.deadlineMs} ms deadline`,
  );
  assert.ok(
    elapsedMs < halfwayMs(o.deadlineMs, o.alternativeMs),
    `ended after ${elapsedMs} ms: nearer ${o.alternative} (${o.alternativeMs} ms) than its ${o.deadlineMs} ms deadline`,
  );
}
