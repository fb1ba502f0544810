/**
 * The old Bash script's probing procedure, for the speed comparison: for each
 * resource in turn, `mtr -r -n -c COUNT -o AL <target>`, then (when no latency
 * was flagged, the usual case) `ping -c COUNT <target>`, strictly one after the
 * other, inside the lab's host namespace.
 */
import type { Lab } from '../test/lab/lab.ts';

export interface OldScriptStep {
  target: string;
  mtrMs: number;
  pingMs: number;
  mtrExitCode: number | null;
  pingExitCode: number | null;
}

export interface OldScriptRun {
  steps: OldScriptStep[];
  totalMs: number;
}

/** The old script's per-resource commands (with `--` before the target, which both tools accept). */
export function oldScriptCommands(target: string, count: number): { mtr: string[]; ping: string[] } {
  return {
    mtr: ['-r', '-n', '-c', String(count), '-o', 'AL', '--', target],
    ping: ['-c', String(count), '--', target],
  };
}

/** One `mtr -r` run exactly as the old script started it: the yardstick for the agent's round time. */
export async function timeOneOldMtr(lab: Lab, target: string, count: number): Promise<number> {
  const started = performance.now();
  await lab.exec('host', 'mtr', oldScriptCommands(target, count).mtr, { timeoutMs: 600_000 });
  return performance.now() - started;
}

export async function runOldScriptProcedure(
  lab: Lab,
  targets: readonly string[],
  count: number,
): Promise<OldScriptRun> {
  const started = performance.now();
  const steps: OldScriptStep[] = [];
  for (const target of targets) {
    const commands = oldScriptCommands(target, count);
    const mtrStart = performance.now();
    const mtr = await lab.exec('host', 'mtr', commands.mtr, { timeoutMs: 600_000 });
    const pingStart = performance.now();
    const ping = await lab.exec('host', 'ping', commands.ping, { timeoutMs: 600_000 });
    steps.push({
      target,
      mtrMs: pingStart - mtrStart,
      pingMs: performance.now() - pingStart,
      mtrExitCode: mtr.exitCode,
      pingExitCode: ping.exitCode,
    });
  }
  return { steps, totalMs: performance.now() - started };
}
