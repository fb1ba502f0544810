/**
 * Repeats rounds like the old cron job, minus its faults: rounds never
 * overlap (a slot that passes while a round runs is skipped, not queued), a
 * stop request ends the wait at once, and a round already running is allowed
 * to finish so its files are complete.
 */
import type { WatchOptions } from '../cli/resolve-options.ts';
import type { RoundDeps } from './round-deps.ts';
import { type RoundOutput, runRound } from './run-round.ts';

export interface WatchControl {
  /** Called after each round with its output. */
  emit: (output: RoundOutput, round: number) => void;
  /** Resolves after `ms`, or earlier when a stop is requested. */
  sleep: (ms: number) => Promise<void>;
  stopRequested: () => boolean;
}

export async function watchRounds(
  options: WatchOptions,
  deps: RoundDeps,
  control: WatchControl,
): Promise<number> {
  const periodMs = options.everyMinutes * 60_000;
  let round = 0;
  let lastExit = 0;
  while (!control.stopRequested()) {
    const started = deps.monotonicMs();
    round++;
    const output = await runRound(options, deps);
    lastExit = output.exitCode;
    control.emit(output, round);
    // Bad input never gets better by waiting; everything else (busy, mtr broken) may.
    if (output.document.outcome === 'invalid-input') return lastExit;
    // A bounded run reports how its last round went, like `check` would.
    if (options.rounds !== null && round >= options.rounds) return lastExit;
    const elapsed = deps.monotonicMs() - started;
    const wait = periodMs - (elapsed % periodMs);
    if (!control.stopRequested()) await control.sleep(wait);
  }
  // Stopped by a signal: a clean stop, whatever the last round found.
  return 0;
}
