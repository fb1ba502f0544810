/**
 * Child processes for the lab: argument arrays only, never a shell. Results carry
 * the full evidence so a failed set-up explains itself in the test output.
 *
 * Every run goes through the agent's own runner (agent/process/run-process.ts),
 * so the lab gets what the agent gets: the child leads its own process group
 * and a timeout SIGTERMs, then SIGKILLs the whole group; a descendant that left
 * the group and holds the output pipes cannot keep the run from ending; output
 * is capped; and the environment is an explicit one, never this process's whole
 * environment (see `run`).
 */
import os from 'node:os';
import { runProcess } from '../../agent/process/run-process.ts';
import type { ProcessResult } from '../../agent/process/types.ts';
import { ProcessError } from '../../common/errors.ts';

export type { ProcessResult };

/** How long a lab command may run unless the caller says otherwise. */
export const DEFAULT_TIMEOUT_MS = 60_000;

export interface RunOptions {
  /** Written to the child's stdin, which is then closed (without it stdin is /dev/null). */
  input?: string;
  /** The child's process group gets SIGTERM after this long, then SIGKILL; default 60 s. */
  timeoutMs?: number;
  /**
   * Variables the child gets on top of the lab's base: PATH and the C locale
   * (agent/process/child-env.ts) and TMPDIR (where labs are registered, so the
   * lab's own command line finds them). Nothing else of this process's
   * environment reaches a child: name every variable it needs.
   */
  env?: Readonly<Record<string, string>>;
  /** Working directory; this process's own unless given (commands such as `node --import tsx` resolve from it). */
  cwd?: string;
  /** Output beyond this many bytes per stream is dropped, and stderr says so; default 1 MiB. */
  maxOutputBytes?: number;
}

/**
 * Runs a command to completion; never rejects for a non-zero exit, a timeout
 * (`timedOut`) or output left open (see `runChecked`). Rejects with ProcessError
 * (E_PROCESS) when the command cannot be started at all.
 */
export async function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  const result = await runProcess(command, args, {
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    env: { TMPDIR: os.tmpdir(), ...options.env },
    cwd: options.cwd ?? process.cwd(),
    ...(options.input === undefined ? {} : { input: options.input }),
    ...(options.maxOutputBytes === undefined ? {} : { maxOutputBytes: options.maxOutputBytes }),
  });
  if (result.spawnError !== null) {
    throw new ProcessError('E_PROCESS', `cannot start ${command}: ${result.spawnError}`, {
      command: result.command,
      exitCode: null,
      signal: null,
      stderr: result.stderr,
    });
  }
  return result;
}

/** Runs a command and throws a ProcessError with its stderr unless it exits 0. */
export async function runChecked(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  const result = await run(command, args, options);
  if (result.exitCode !== 0) {
    const how = result.timedOut
      ? `timed out after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`
      : `exited with ${result.exitCode ?? result.signal}`;
    throw new ProcessError(
      result.timedOut ? 'E_PROCESS_TIMEOUT' : 'E_PROCESS',
      `${result.command.join(' ')} ${how}`,
      {
        command: result.command,
        exitCode: result.exitCode,
        signal: result.signal,
        stderr: result.stderr || result.stdout,
      },
    );
  }
  return result;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means it exists but belongs to someone else: still alive
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves once every pid is gone. */
export async function terminate(pids: readonly number[], graceMs = 1500): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(20);
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
  const killDeadline = Date.now() + 2000;
  while (pids.some(isAlive) && Date.now() < killDeadline) await sleep(20);
}
