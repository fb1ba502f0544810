/**
 * The one place where child processes are started, by the agent and by the
 * local fleet round alike.
 *
 * - No shell: the file and its arguments go to execve as given, so no value can
 *   be interpreted as shell syntax.
 * - The environment is built by child-env.ts from an allow-list: nothing the
 *   host sets (MTR_OPTIONS, LD_PRELOAD, a locale) changes what a child does.
 *   The working directory is `/` unless the caller names one.
 * - The child leads its own process group (`detached: true`), so a timeout can
 *   signal the whole group: mtr forks mtr-packet, and killing only mtr would
 *   leave the helper running (and holding our output pipes open).
 * - A run ends by `timeoutMs + KILL_GRACE_MS + OUTPUT_DRAIN_MS`
 *   (processWorstCaseMs), whatever the child's descendants do: one that left
 *   the group (setsid, a double fork) and holds stdout open cannot keep the run
 *   waiting; after the drain window the pipes are closed from this side and
 *   the result says `outputLeftOpen`. Whatever is left of the group when the
 *   run ends is SIGKILLed: nothing the run started outlives it in its group.
 * - Every outcome is a resolved ProcessResult, never a rejection: callers map
 *   results to error codes, with the evidence (command, exit code, stderr).
 *   Only invalid options (a programming error) reject, before anything starts.
 *
 * Because children live in their own groups, a signal to the agent does not
 * reach them: the entry point calls killAllProcessGroups() before it exits, so
 * no mtr outlives the agent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { errnoOf } from '../../common/errno.ts';
import { InvalidInputError } from '../../common/errors.ts';
import { KILL_GRACE_MS, OUTPUT_DRAIN_MS } from '../../common/round-budget.ts';
import { childEnvironment } from './child-env.ts';
import type { ProcessResult, RunOptions, RunProcess } from './types.ts';

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
export { KILL_GRACE_MS, OUTPUT_DRAIN_MS };

/** setTimeout's largest delay: a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

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

function checkOptions(options: RunOptions): void {
  const { timeoutMs, maxOutputBytes } = options;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0) || timeoutMs > MAX_TIMER_MS) {
    throw new InvalidInputError(
      'timeoutMs',
      timeoutMs,
      `a number of milliseconds above 0, at most ${MAX_TIMER_MS}`,
    );
  }
  if (maxOutputBytes !== undefined && !(Number.isInteger(maxOutputBytes) && maxOutputBytes >= 0)) {
    throw new InvalidInputError('maxOutputBytes', maxOutputBytes, 'a whole number of bytes of at least 0');
  }
}

/**
 * Runs `file` with `args` and resolves with what happened. Rejects only with
 * InvalidInputError for invalid options or environment variables, before
 * anything is started.
 */
export const runProcess: RunProcess = (file, args, options) => {
  let env: Record<string, string>;
  try {
    checkOptions(options);
    env = childEnvironment(process.env, options.env);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<ProcessResult>((resolve) => {
    const command = [file, ...args];
    const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const stdout = new CappedBuffer(max);
    const stderr = new CappedBuffer(max);
    const started = process.hrtime.bigint();
    const abortSignal = options.signal;
    let settled = false;
    let exited = false;
    let openStreams = 0;
    let timedOut = false;
    let aborted = false;
    let exitCode: number | null = null;
    let exitSignal: string | null = null;
    let deadlineTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    let child: ChildProcess | undefined;

    const finish = (spawnError: string | null): void => {
      if (settled) return;
      settled = true;
      for (const timer of [deadlineTimer, killTimer, drainTimer]) {
        if (timer !== undefined) clearTimeout(timer);
      }
      abortSignal?.removeEventListener('abort', onAbort);
      const pid = child?.pid;
      const leftOpen = spawnError === null && pid !== undefined && openStreams > 0;
      if (pid !== undefined) {
        liveGroups.delete(pid);
        // Leftovers of the group (a helper that ignored its parent's exit) die with the run.
        signalGroup(pid, 'SIGKILL');
      }
      if (leftOpen) {
        child?.stdout?.destroy();
        child?.stderr?.destroy();
      }
      let stderrText = stderr.text();
      for (const [name, buffer] of [
        ['stdout', stdout],
        ['stderr', stderr],
      ] as const) {
        if (buffer.dropped > 0) {
          stderrText += `\n[output capped: ${buffer.dropped} bytes of ${name} beyond ${max} dropped]\n`;
        }
      }
      if (leftOpen) {
        stderrText +=
          `\n[output still held open ${exited ? 'after the process exited' : 'after SIGKILL'}, ` +
          'by a process outside its process group (setsid or a double fork): stopped reading]\n';
      }
      resolve({
        command,
        exitCode: spawnError === null ? exitCode : null,
        signal: spawnError === null ? exitSignal : null,
        stdout: stdout.text(),
        stderr: stderrText,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        timedOut,
        aborted,
        outputLeftOpen: leftOpen,
        spawnError,
      });
    };

    /** Ends the run once the child has exited and its pipes are closed. */
    const finishIfDone = (): void => {
      if (settled || !exited || openStreams > 0) return;
      const pid = child?.pid;
      // After a timeout, a group member that ignored SIGTERM may still run with
      // its pipes closed: wait for the SIGKILL before reporting.
      if ((timedOut || aborted) && killTimer !== undefined && pid !== undefined && groupAlive(pid)) return;
      finish(null);
    };

    /** After the drain window, the run ends whether or not the pipes closed. */
    const drainThenFinish = (): void => {
      if (drainTimer !== undefined) clearTimeout(drainTimer);
      drainTimer = setTimeout(() => finish(null), OUTPUT_DRAIN_MS);
    };

    const stop = (reason: 'timeout' | 'abort'): void => {
      const pid = child?.pid;
      if (settled || timedOut || aborted || pid === undefined) return;
      if (reason === 'timeout') timedOut = true;
      else aborted = true;
      if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
      signalGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => {
        killTimer = undefined;
        signalGroup(pid, 'SIGKILL');
        if (exited && openStreams === 0) finish(null);
        else drainThenFinish();
      }, KILL_GRACE_MS);
    };

    function onAbort(): void {
      stop('abort');
    }

    if (abortSignal?.aborted === true) {
      aborted = true;
      finish(null);
      return;
    }

    try {
      child = spawn(file, args, {
        detached: true,
        stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env,
        cwd: options.cwd ?? '/',
        windowsHide: true,
      });
    } catch (error) {
      // Synchronous failures (invalid argument types, bad cwd on some versions).
      stderr.push(Buffer.from(error instanceof Error ? error.message : String(error)));
      finish(errnoOf(error) ?? 'EUNKNOWN');
      return;
    }
    const spawned = child;
    if (spawned.stdin !== null) {
      // A child that exits without reading its input must not fail the run with EPIPE.
      spawned.stdin.on('error', () => undefined);
      spawned.stdin.end(options.input);
    }

    for (const [stream, buffer] of [
      [spawned.stdout, stdout],
      [spawned.stderr, stderr],
    ] as const) {
      if (stream === null) continue;
      openStreams++;
      stream.on('data', (chunk: Buffer) => buffer.push(chunk));
      stream.on('error', () => undefined);
      stream.once('close', () => {
        openStreams--;
        finishIfDone();
      });
    }

    spawned.on('error', (error) => {
      // Spawn failures (ENOENT, EACCES) arrive here with no pid; a running
      // child's errors (a failed kill) do not end the run.
      if (spawned.pid === undefined) finish(errnoOf(error) ?? 'EUNKNOWN');
    });
    spawned.on('exit', (code, signal) => {
      exited = true;
      exitCode = code;
      exitSignal = signal;
      if (timedOut || aborted) {
        // The kill timer bounds the rest.
        finishIfDone();
        return;
      }
      if (deadlineTimer !== undefined) clearTimeout(deadlineTimer);
      if (openStreams > 0) {
        // Something still holds the pipes. A group member is killed after the
        // drain window; one outside the group cannot be, so the pipes are
        // closed from here one more window later.
        const pid = spawned.pid;
        drainTimer = setTimeout(() => {
          // An empty group (zombies hold no descriptors) means the holder is outside it.
          if (pid === undefined || !groupAlive(pid)) {
            finish(null);
            return;
          }
          signalGroup(pid, 'SIGKILL');
          drainThenFinish();
        }, OUTPUT_DRAIN_MS);
      }
      finishIfDone();
    });

    const pid = spawned.pid;
    if (pid === undefined) return; // spawn failed; 'error' follows.
    liveGroups.add(pid);
    deadlineTimer = setTimeout(() => stop('timeout'), options.timeoutMs);
    abortSignal?.addEventListener('abort', onAbort);
  });
};
