/**
 * Runs mtr in JSON report mode towards one IP address and maps every way it can
 * fail to a stable error code with the evidence (command, exit code, stderr).
 * Parsing the JSON is someone else's job; this module only guarantees that a
 * returned string is mtr's non-empty JSON output.
 */
import { isIP } from 'node:net';
import { headOf } from '../../common/clip-text.ts';
import { InvalidInputError, ProcessError } from '../../common/errors.ts';
import { MTR_GRACE_SEC, MTR_TIMEOUT_SLACK_MS, MTR_VERSION_TIMEOUT_MS } from '../../common/round-budget.ts';
import { runProcess } from '../process/run-process.ts';
import type { ProcessResult, RunProcess } from '../process/types.ts';

export interface MtrRunOptions {
  /** An IP literal: names are resolved before, once, so mtr never queries DNS. */
  address: string;
  family: 4 | 6;
  /** Cycles (`-c`). */
  count: number;
  /** Seconds between cycles (`-i`); below 1 s mtr requires root. */
  intervalSec: number;
  /** Seconds to wait for the last replies (`-G`), default 2. */
  gracetimeSec?: number;
  /** Default: count * interval + grace + 15 s. */
  timeoutMs?: number;
  mtrBinary?: string;
  /** Variables for mtr beyond the controlled base (RunOptions.env); none in production. */
  env?: Readonly<Record<string, string>>;
}

export const MTR_MISSING_MESSAGE =
  'mtr was not found on PATH: install mtr-tiny (Debian/Ubuntu), mtr (RHEL, Amazon Linux)';

/**
 * mtr's own wording (0.92 to 0.96, ui/mtr.c, ui/cmdpipe.c, packet/*.c) when it
 * may not open raw sockets or may not use the requested settings.
 * 'Failure to start mtr-packet' also appears when mtr-packet is missing, but on
 * real hosts it nearly always means the helper lacks cap_net_raw / setuid.
 */
const PERMISSION_PATTERNS: readonly RegExp[] = [
  /Operation not permitted/i,
  /Permission denied/i,
  /Failure to open IPv[46] sockets/i,
  /non-root users cannot request an interval/i,
  /Failure to start mtr-packet/i,
  /mtr-packet did not answer the startup check/i,
  /Unable to drop elevated permissions/i,
  /Failed to drop capabilities/i,
  /should not run suid/i,
];

/**
 * The fields mtr prints per hop (`-o`, the same letters in 0.92 to 0.96,
 * traviscross/mtr ui/mtr.c data_fields): mtr's default `LS NABWV` (Loss%,
 * Snt, Last, Avg, Best, Wrst, StDev; the blank only spaces the text report)
 * and `M`, mean jitter (`Javg`, agent/analysis/jitter.ts). Named explicitly so
 * the report always holds what the reader (agent/mtr/parse-mtr-json.ts)
 * needs; mtr parses MTR_OPTIONS before its arguments, and the child
 * environment drops it anyway (agent/process/child-env.ts). No leading blank:
 * 0.92/0.93 would print a doubled comma.
 */
export const MTR_FIELDS = 'LSNABWVM';

export function buildMtrArgs(options: MtrRunOptions): string[] {
  const grace = options.gracetimeSec ?? MTR_GRACE_SEC;
  return [
    '-n',
    '--json',
    '-o',
    MTR_FIELDS,
    options.family === 6 ? '-6' : '-4',
    '-c',
    String(options.count),
    '-i',
    String(options.intervalSec),
    '-G',
    String(grace),
    '--',
    options.address,
  ];
}

function validate(options: MtrRunOptions): void {
  if (options.family !== 4 && options.family !== 6) {
    throw new InvalidInputError('family', options.family, '4 or 6');
  }
  if (isIP(options.address) !== options.family) {
    throw new InvalidInputError('address', options.address, `an IPv${options.family} address literal`);
  }
  if (!Number.isInteger(options.count) || options.count < 1) {
    throw new InvalidInputError('count', options.count, 'a whole number of at least 1');
  }
  if (!Number.isFinite(options.intervalSec) || options.intervalSec <= 0) {
    throw new InvalidInputError('intervalSec', options.intervalSec, 'a number of seconds above 0');
  }
  const grace = options.gracetimeSec;
  if (grace !== undefined && (!Number.isFinite(grace) || grace < 0)) {
    throw new InvalidInputError('gracetimeSec', grace, 'a number of seconds of at least 0');
  }
  const timeout = options.timeoutMs;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0)) {
    throw new InvalidInputError('timeoutMs', timeout, 'a number of milliseconds above 0');
  }
}

export function defaultMtrTimeoutMs(options: MtrRunOptions): number {
  const grace = options.gracetimeSec ?? MTR_GRACE_SEC;
  return Math.ceil((options.count * options.intervalSec + grace) * 1000) + MTR_TIMEOUT_SLACK_MS;
}

function evidence(result: ProcessResult): {
  command: string[];
  exitCode: number | null;
  signal: string | null;
  stderr: string;
} {
  return { command: result.command, exitCode: result.exitCode, signal: result.signal, stderr: result.stderr };
}

function firstLine(text: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return line ?? '';
}

function failureFromResult(result: ProcessResult, timeoutMs: number): ProcessError | null {
  const binary = result.command[0] ?? 'mtr';
  if (result.spawnError === 'ENOENT') {
    return new ProcessError(
      'E_MTR_MISSING',
      `${MTR_MISSING_MESSAGE} (looked for "${binary}")`,
      evidence(result),
    );
  }
  if (result.spawnError !== null) {
    return new ProcessError(
      result.spawnError === 'EACCES' ? 'E_MTR_PERMISSION' : 'E_MTR_FAILED',
      `could not start "${binary}": ${result.spawnError}`,
      evidence(result),
    );
  }
  if (result.timedOut) {
    return new ProcessError(
      'E_MTR_TIMEOUT',
      `mtr did not finish within ${timeoutMs} ms and was stopped: the path may be dropping probes for longer than expected, or mtr hung`,
      evidence(result),
    );
  }
  if (result.exitCode !== 0) {
    const how =
      result.exitCode === null
        ? `was killed by ${result.signal ?? 'a signal'}`
        : `exited with ${result.exitCode}`;
    const detail = firstLine(result.stderr);
    const detailText = detail === '' ? '' : `: ${detail}`;
    if (PERMISSION_PATTERNS.some((pattern) => pattern.test(result.stderr))) {
      return new ProcessError(
        'E_MTR_PERMISSION',
        `mtr ${how}, not permitted to probe${detailText}; run the agent as root or give mtr-packet cap_net_raw (setcap cap_net_raw+ep <path of mtr-packet>), and keep the interval at 1 s or more when not root`,
        evidence(result),
      );
    }
    return new ProcessError('E_MTR_FAILED', `mtr ${how}${detailText}`, evidence(result));
  }
  const stdout = result.stdout.trim();
  if (stdout === '') {
    const detail = firstLine(result.stderr);
    return new ProcessError(
      'E_MTR_OUTPUT',
      `mtr exited with 0 but printed no report${detail === '' ? '' : `: ${detail}`}`,
      evidence(result),
    );
  }
  // Text around the report (a wrapper's line on stdout) is the parser's to skip.
  if (!/^[ \t]*\{/m.test(stdout)) {
    return new ProcessError(
      'E_MTR_OUTPUT',
      `mtr printed something that is not a JSON report (is this mtr built without JSON support?): ${JSON.stringify(headOf(stdout, 80))}`,
      evidence(result),
    );
  }
  return null;
}

/** Runs mtr and returns its JSON report text; throws ProcessError (E_MTR_*) or InvalidInputError. */
export async function runMtr(options: MtrRunOptions, run: RunProcess = runProcess): Promise<string> {
  validate(options);
  const timeoutMs = options.timeoutMs ?? defaultMtrTimeoutMs(options);
  const result = await run(options.mtrBinary ?? 'mtr', buildMtrArgs(options), {
    timeoutMs,
    env: options.env,
  });
  const failure = failureFromResult(result, timeoutMs);
  if (failure !== null) throw failure;
  return result.stdout;
}

const VERSION_TIMEOUT_MS = MTR_VERSION_TIMEOUT_MS;

/** Confirms mtr can be started and returns its version (`mtr 0.95` -> `0.95`). */
export async function checkMtr(
  mtrBinary = 'mtr',
  run: RunProcess = runProcess,
): Promise<{ version: string }> {
  const result = await run(mtrBinary, ['--version'], { timeoutMs: VERSION_TIMEOUT_MS });
  if (result.spawnError === 'ENOENT') {
    throw new ProcessError(
      'E_MTR_MISSING',
      `${MTR_MISSING_MESSAGE} (looked for "${mtrBinary}")`,
      evidence(result),
    );
  }
  if (result.spawnError !== null || result.timedOut || result.exitCode !== 0) {
    const how =
      result.spawnError !== null
        ? `could not start: ${result.spawnError}`
        : result.timedOut
          ? `did not answer within ${VERSION_TIMEOUT_MS} ms`
          : `exited with ${result.exitCode ?? result.signal ?? 'an unknown status'}`;
    throw new ProcessError('E_MTR_FAILED', `"${mtrBinary} --version" ${how}`, evidence(result));
  }
  const line = firstLine(result.stdout);
  const match = /^mtr\s+(\S+)/i.exec(line);
  return { version: match?.[1] ?? line };
}
