/**
 * Errors with stable codes. Each carries the evidence a support engineer needs
 * (the value, the command, its exit code and stderr) so that a result document
 * or a log record can explain a failure without a re-run.
 */

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
  /** The collector or dispatch could not write a host's records to CloudWatch Logs. */
  'E_LOG_WRITE',
  /** A collect job stopped retrying and went to the dead-letter queue. */
  'E_COLLECT_GAVE_UP',
  /** SSM refused a command for an instance (terminated, not registered); recorded blind. */
  'E_INSTANCE_REFUSED',
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
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
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
  constructor(field: string, value: unknown, allowed: string) {
    super('E_INVALID_INPUT', `${field} ${describeValue(value)} is not allowed: ${allowed}`);
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
  ) {
    super(code, message);
    this.path = path;
  }
}

/** Another round holds the lock. */
export class LockedError extends MonitorError {
  readonly lockPath: string;
  readonly holderPid: number | null;
  constructor(lockPath: string, holderPid: number | null) {
    super(
      'E_LOCKED',
      `another round is still running (lock ${lockPath}${holderPid === null ? '' : ` held by pid ${holderPid}`})`,
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
  ) {
    super(code, message);
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

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof MonitorError) return error.toInfo();
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'E_INTERNAL', message };
}

export function excerpt(text: string, max: number): string {
  const trimmed = text.trim();
  return trimmed.length <= max ? trimmed : `${trimmed.slice(0, max - 1)}…`;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...(${value.length} characters)` : value;
    return JSON.stringify(shown);
  }
  if (value === undefined) return '(missing)';
  return JSON.stringify(value) ?? String(value);
}
