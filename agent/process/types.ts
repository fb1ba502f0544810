/** The typed outcome of running a child process: every exit is a value, never an exception. */
export interface ProcessResult {
  command: string[];
  /** Exit code, or null when the process was killed by a signal, never started, or had not exited when the run ended. */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** True when the process was killed because it ran past `timeoutMs`. */
  timedOut: boolean;
  /** True when the caller's `signal` stopped the run. */
  aborted: boolean;
  /**
   * True when stdout or stderr was still open when the run ended: held by a
   * descendant that left the process group (setsid, a double fork), out of
   * reach of the group kill. The pipes were closed from this side; output
   * after that point is lost, and stderr says so.
   */
  outputLeftOpen: boolean;
  /** errno code when the process could not be started (`ENOENT`, `EACCES`), else null. */
  spawnError: string | null;
}

export interface RunOptions {
  /** Milliseconds until the process group gets SIGTERM, then SIGKILL after KILL_GRACE_MS. */
  timeoutMs: number;
  /**
   * Variables the child gets, by name, on top of the controlled base (PATH
   * and the C locale, see child-env.ts). Nothing else of the agent's own
   * environment reaches a child: list every variable it needs.
   */
  env?: Readonly<Record<string, string>>;
  /** Working directory; `/` when not given, so no program resolves a relative name against a directory someone else controls. */
  cwd?: string;
  /** Output beyond this many bytes per stream is dropped (the result says so in stderr). */
  maxOutputBytes?: number;
  /** Written to the child's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Stops the run early, like a timeout (SIGTERM, then SIGKILL); the result says `aborted`. */
  signal?: AbortSignal;
}

export type RunProcess = (
  file: string,
  args: readonly string[],
  options: RunOptions,
) => Promise<ProcessResult>;
