/**
 * The one place where the agent starts child processes.
 *
 * - No shell: the file and its arguments go to execve as given, so no value can
 *   be interpreted as shell syntax.
 * - The child leads its own process group (`detached: true`), so a timeout can
 *   signal the whole group: mtr forks mtr-packet, and killing only mtr would
 *   leave the helper running (and holding our output pipes open).
 * - Every outcome is a resolved ProcessResult, never a rejection: callers map
 *   results to error codes, with the evidence (command, exit code, stderr).
 *
 * Because children live in their own groups, a signal to the agent does not
 * reach them: the entry point calls killAllProcessGroups() before it exits, so
 * no mtr outlives the agent.
 */
import { spawn } from 'node:child_process';
import { errnoOf } from '../../common/errno.ts';
import { KILL_GRACE_MS } from '../../common/round-budget.ts';
import type { ProcessResult, RunOptions, RunProcess } from './types.ts';

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
export { KILL_GRACE_MS };

class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  dropped = 0;
  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    const room = this.max - this.kept;
    if (room >= chunk.length) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
      return;
    }
    if (room > 0) {
      this.chunks.push(chunk.subarray(0, room));
      this.kept += room;
    }
    this.dropped += chunk.length - Math.max(room, 0);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** `env` entries override the agent's environment; an `undefined` value removes a variable. */
function childEnv(overrides: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (overrides === undefined) return env;
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** Signals the child's process group; the group may already be gone, which is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: every member has exited already.
  }
}

/** Process groups of children still running, for killAllProcessGroups(). */
const liveGroups = new Set<number>();

/** SIGKILLs every process group this module started that is still running. */
export function killAllProcessGroups(): void {
  for (const pid of liveGroups) signalGroup(pid, 'SIGKILL');
  liveGroups.clear();
}

/** Zombies not yet reaped by init count as alive: then the SIGKILL grace is waited out (harmless). */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const runProcess: RunProcess = (file, args, options: RunOptions) =>
  new Promise<ProcessResult>((resolve) => {
    const command = [file, ...args];
    const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const stdout = new CappedBuffer(max);
    const stderr = new CappedBuffer(max);
    const started = process.hrtime.bigint();
    let settled = false;
    let closed = false;
    let timedOut = false;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let timeoutTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const finish = (spawnError: string | null): void => {
      if (settled) return;
      settled = true;
      if (child?.pid !== undefined) liveGroups.delete(child.pid);
      if (timeoutTimer !== undefined) clearTimeout(timeoutTimer);
      if (killTimer !== undefined) clearTimeout(killTimer);
      let stderrText = stderr.text();
      for (const [name, buffer] of [
        ['stdout', stdout],
        ['stderr', stderr],
      ] as const) {
        if (buffer.dropped > 0) {
          stderrText += `\n[output capped: ${buffer.dropped} bytes of ${name} beyond ${max} dropped]\n`;
        }
      }
      resolve({
        command,
        exitCode: spawnError === null ? exitCode : null,
        signal: spawnError === null ? exitSignal : null,
        stdout: stdout.text(),
        stderr: stderrText,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        timedOut,
        spawnError,
      });
    };

    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: childEnv(options.env),
        cwd: options.cwd,
        windowsHide: true,
      });
    } catch (error) {
      // Synchronous failures (invalid argument types, bad cwd on some versions).
      stderr.push(Buffer.from(error instanceof Error ? error.message : String(error)));
      finish(errnoOf(error) ?? 'EUNKNOWN');
      return;
    }

    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

    child.on('error', (error) => {
      // Spawn failures (ENOENT, EACCES) arrive here with no pid; a running
      // child's errors (a failed kill) do not end the run.
      if (child.pid === undefined) finish(errnoOf(error) ?? 'EUNKNOWN');
    });
    child.on('exit', (code, signal) => {
      exitCode = code;
      exitSignal = signal;
    });
    // 'close' waits for the pipes too, so the output is complete. A leftover
    // group member that keeps a pipe open holds the run until the timeout,
    // which then kills it and reports timedOut.
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      const pid = child.pid;
      if (pid === undefined) return; // spawn failure: 'error' reports it.
      closed = true;
      exitCode = code;
      exitSignal = signal;
      // After a timeout, a group member that ignored SIGTERM may still run with
      // its pipes closed: wait for the SIGKILL before reporting.
      if (timedOut && killTimer !== undefined && groupAlive(pid)) return;
      finish(null);
    });

    const pid = child.pid;
    if (pid === undefined) return; // spawn failed; 'error' follows.
    liveGroups.add(pid);

    timeoutTimer = setTimeout(() => {
      timedOut = true;
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        killTimer = undefined;
        signalGroup(pid, 'SIGKILL');
        // 'close' may have fired already, while a member outlived SIGTERM.
        if (closed) finish(null);
      }, KILL_GRACE_MS);
    }, options.timeoutMs);
  });
