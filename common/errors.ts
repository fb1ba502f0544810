/**
 * Errors with stable codes. Each carries the evidence a support engineer needs
 * (the value, the command, its exit code and stderr) so that a result document
 * or a log record can explain a failure without a re-run, and the error it
 * wraps as `cause` (for stack traces and debuggers; never serialised: what a
 * cause adds as evidence, such as an errno code, goes into the message).
 */
import { clipText, headOf } from './clip-text.ts';

/** Every error code; a result document naming another is rejected by the collector. */
export const ERROR_CODES = [
  'E_INVALID_INPUT',
  'E_CONFIG_FILE',
  'E_MTR_MISSING',
  'E_MTR_PERMISSION',
  'E_MTR_FAILED',
  'E_MTR_TIMEOUT',
  'E_MTR_OUTPUT',
  'E_RESOLVE',
  'E_LOG_DIR',
  'E_LOCKED',
  'E_PROCESS',
  'E_PROCESS_TIMEOUT',
  'E_GATEWAY',
  'E_PROBE',
  'E_RESULT_DOCUMENT',
  'E_NODE_MISSING',
  'E_SSM_AGENT_VERSION',
  'E_AGENT_INTEGRITY',
  /** A monitor host's bootstrap (stack/monitor-host-bootstrap.sh) has not finished or failed; the SSM script reports it. */
  'E_MONITOR_HOST_SETUP',
  /** The collector or dispatch could not write a host's records to CloudWatch Logs. */
  'E_LOG_WRITE',
  /** A collect job stopped retrying and went to the dead-letter queue. */
  'E_COLLECT_GAVE_UP',
  /** SSM refused a command for an instance (terminated, not registered); recorded blind. */
  'E_INSTANCE_REFUSED',
  /** `install`/`uninstall` cannot set up or remove the systemd units (no systemd, not root, systemctl failed). */
  'E_INSTALL',
  /** The history report's output file cannot be written (agent `report --html`). */
  'E_REPORT_FILE',
  'E_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Plain-data form of an error, as it appears in result documents and log records. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  command?: string[];
  exitCode?: number | null;
  signal?: string | null;
  stderr?: string;
}

export class MonitorError extends Error {
  readonly code: ErrorCode;
  /** `options.cause`: the caught error this one wraps. */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message);
    this.code = code;
    this.name = new.target.name;
    attachCause(this, options);
  }

  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}

/** A value the user gave (flag, config key, tag) that is not allowed. */
export class InvalidInputError extends MonitorError {
  readonly field: string;
  readonly value: unknown;
  readonly allowed: string;
  constructor(field: string, value: unknown, allowed: string, options?: ErrorOptions) {
    super('E_INVALID_INPUT', `${field} ${describeValue(value)} is not allowed: ${allowed}`, options);
    this.field = field;
    this.value = value;
    this.allowed = allowed;
  }
}

/** The host cannot run a round: a tool is missing or not permitted, a directory is not writable. */
export class EnvironmentError extends MonitorError {
  readonly path: string | undefined;
  constructor(
    code: Extract<
      ErrorCode,
      'E_MTR_MISSING' | 'E_MTR_PERMISSION' | 'E_LOG_DIR' | 'E_CONFIG_FILE' | 'E_REPORT_FILE'
    >,
    message: string,
    path?: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.path = path;
  }
}

/**
 * Another round holds the lock (`holderPid`: its pid, when known), or, with
 * `takingOver`, is still taking over a stale lock (`holderPid`: the pid of
 * the process taking over).
 */
export class LockedError extends MonitorError {
  readonly lockPath: string;
  readonly holderPid: number | null;
  constructor(lockPath: string, holderPid: number | null, o: { takingOver?: boolean } = {}) {
    const pid = holderPid === null ? '' : ` (pid ${holderPid})`;
    super(
      'E_LOCKED',
      o.takingOver === true
        ? `another round${pid} is still taking over the stale round lock ${lockPath}`
        : `another round is still running (lock ${lockPath}${holderPid === null ? '' : ` held by pid ${holderPid}`})`,
    );
    this.lockPath = lockPath;
    this.holderPid = holderPid;
  }
}

/** A child process failed; carries the full evidence. */
export class ProcessError extends MonitorError {
  readonly command: string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderr: string;
  constructor(
    code: ErrorCode,
    message: string,
    evidence: { command: string[]; exitCode: number | null; signal: string | null; stderr: string },
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.command = evidence.command;
    this.exitCode = evidence.exitCode;
    this.signal = evidence.signal;
    this.stderr = evidence.stderr;
  }

  override toInfo(): ErrorInfo {
    return {
      code: this.code,
      message: this.message,
      command: this.command,
      exitCode: this.exitCode,
      signal: this.signal,
      stderr: excerpt(this.stderr, 500),
    };
  }
}

/**
 * Sets `error.cause` from `options` as V8 does from Node.js 16.9 on: an own
 * property, not enumerable, so JSON.stringify and object spreads of an error
 * never carry it. Node.js 12 ignores Error's options argument, hence by hand;
 * for Error subclasses outside this hierarchy too.
 */
export function attachCause(error: Error, options: ErrorOptions | undefined): void {
  if (options === undefined || !('cause' in options)) return;
  Object.defineProperty(error, 'cause', {
    value: options.cause,
    writable: true,
    enumerable: false,
    configurable: true,
  });
}

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof MonitorError) return error.toInfo();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'E_INTERNAL', message };
}

/** `text` trimmed, and clipped to `max` characters with `…` (never half a character). */
export function excerpt(text: string, max: number): string {
  return clipText(text.trim(), max);
}

/**
 * A value that must not be repeated in a message (it may be a secret pasted
 * into the wrong place, e.g. a connector token given as a parameter name):
 * InvalidInputError shows `description` instead.
 */
export class HiddenValue {
  constructor(readonly description: string) {}
}

/**
 * A value as the user wrote it, for a source that hands it over parsed: a
 * JSON config file gives 1e999 as Infinity and 1e3 as 1000, but the value is
 * judged (common/settings.ts parseBoundedNumber) and shown by `text`, the
 * JSON text in the file. `value` is what JSON.parse made of it.
 */
export class WrittenValue {
  constructor(
    readonly text: string,
    readonly value: unknown,
  ) {}
}

/** Longest value a message repeats whole; a longer one is cut and its length given. */
const SHOWN_MAX = 60;

/**
 * The value as the message shows it: a string quoted as JSON, a WrittenValue
 * as written, a number as JavaScript writes it (Infinity, -0, NaN, where
 * JSON.stringify would write null or 0), anything else as JSON; at most
 * SHOWN_MAX characters of it.
 */
function describeValue(value: unknown): string {
  if (value instanceof HiddenValue) return `(${value.description})`;
  if (value === undefined) return '(missing)';
  const clip = (text: string) =>
    text.length > SHOWN_MAX ? `${headOf(text, SHOWN_MAX - 3)}...(${text.length} characters)` : text;
  if (typeof value === 'string') return JSON.stringify(clip(value));
  if (value instanceof WrittenValue) return clip(value.text);
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  return clip(JSON.stringify(value) ?? String(value));
}
