/** The typed outcome of running a child process: every exit is a value, never an exception. */
export interface ProcessResult {
  command: string[];
  /** Exit code, or null when the process was killed by a signal or never started. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when the process was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
  /** errno code when the process could not be started (`ENOENT`, `EACCES`), else null. */
  spawnError: string | null;
}

export interface RunOptions {
  timeoutMs: number;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Output beyond this many bytes per stream is dropped (the result says so in stderr). */
  maxOutputBytes?: number;
}

export type RunProcess = (
  file: string,
  args: readonly string[],
  options: RunOptions,
) => Promise<ProcessResult>;
