/**
 * Child processes for the lab: argument arrays only, never a shell. Results carry
 * the full evidence so a failed set-up explains itself in the test output.
 */
import { spawn } from 'node:child_process';
import { ProcessError } from '../../common/errors.ts';

export interface ProcessResult {
  command: string[];
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

export interface RunOptions {
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Killed with SIGKILL after this long; default 60 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command to completion; never rejects for a non-zero exit (see `runChecked`). */
export function run(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ProcessResult> {
  const argv = [command, ...args];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(
        new ProcessError('E_PROCESS', `cannot start ${command}: ${error.message}`, {
          command: argv,
          exitCode: null,
          signal: null,
          stderr: '',
        }),
      );
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      resolve({
        command: argv,
        exitCode,
        signal,
        stdout,
        stderr,
        durationMs: performance.now() - started,
        timedOut,
      });
    });
    // a child that exits before reading its input must not crash the lab with EPIPE
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
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
      ? `timed out after ${options.timeoutMs ?? 60_000} ms`
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
