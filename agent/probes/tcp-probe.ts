/**
 * TCP connect-time probe: for resources that drop ICMP but serve a TCP port,
 * the handshake time is the latency, and a missing answer is loss.
 */
import { isIP, Socket } from 'node:net';
import { errnoOrMessage } from '../../common/errno.ts';
import { InvalidInputError } from '../../common/errors.ts';

export interface ProbeSamples {
  method: 'tcp' | 'http';
  /**
   * One entry per attempt, in start order: the TCP connect time in
   * milliseconds (for http, of the request's own connection), or null when
   * the connection got no answer.
   */
  rttsMs: (number | null)[];
  /**
   * Method http only, one entry per attempt: milliseconds from starting the
   * request to its response headers, or null when no response came.
   */
  requestsMs?: (number | null)[];
  /** Why attempts got no answer, one line per distinct reason, e.g. `timeout after 1000 ms (3 of 10)`. */
  errors: string[];
}

/**
 * `rttMs`: the connection answered after that many milliseconds. An HTTP
 * attempt adds `requestMs` (response headers received) or `requestError`.
 */
export type AttemptOutcome = { rttMs: number; requestMs?: number; requestError?: string } | { error: string };

export function elapsedMs(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e6;
}

export const errorReason = errnoOrMessage;

/**
 * Starts attempt i at i * intervalMs after the first, without waiting for
 * earlier ones to finish: a slow or silent target must not stretch the
 * schedule to count * timeout, and evenly spaced starts are what makes the
 * loss figure comparable to mtr's.
 */
export async function runAttempts(
  method: ProbeSamples['method'],
  count: number,
  intervalMs: number,
  attempt: (index: number) => Promise<AttemptOutcome>,
): Promise<ProbeSamples> {
  const started: Promise<AttemptOutcome>[] = [];
  for (let index = 0; index < count; index++) {
    started.push(
      new Promise<AttemptOutcome>((resolve) => {
        setTimeout(() => {
          attempt(index).then(resolve, (error: unknown) => resolve({ error: errorReason(error) }));
        }, index * intervalMs);
      }),
    );
  }
  const outcomes = await Promise.all(started);
  const reasons = new Map<string, number>();
  const note = (reason: string): void => {
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  };
  const rttsMs = outcomes.map((outcome) => {
    if ('rttMs' in outcome) return outcome.rttMs;
    note(outcome.error);
    return null;
  });
  const errors = (): string[] => [...reasons].map(([reason, times]) => `${reason} (${times} of ${count})`);
  if (method === 'tcp') return { method, rttsMs, errors: errors() };
  const requestsMs = outcomes.map((outcome) => {
    if (!('rttMs' in outcome)) return null;
    if (outcome.requestError !== undefined) note(`no response: ${outcome.requestError}`);
    return outcome.requestMs ?? null;
  });
  return { method, rttsMs, requestsMs, errors: errors() };
}

export interface ScheduleOptions {
  count: number;
  intervalMs: number;
  timeoutMs: number;
}

export function validateSchedule(o: ScheduleOptions): void {
  if (!Number.isInteger(o.count) || o.count < 1) {
    throw new InvalidInputError('count', o.count, 'a whole number of at least 1');
  }
  if (!Number.isFinite(o.intervalMs) || o.intervalMs < 0) {
    throw new InvalidInputError('intervalMs', o.intervalMs, 'a number of milliseconds of at least 0');
  }
  if (!Number.isFinite(o.timeoutMs) || o.timeoutMs <= 0) {
    throw new InvalidInputError('timeoutMs', o.timeoutMs, 'a number of milliseconds above 0');
  }
}

export function validateAddress(address: string): void {
  if (isIP(address) === 0) {
    throw new InvalidInputError('address', address, 'an IP address literal (resolve the name first)');
  }
}

function connectOnce(address: string, port: number, timeoutMs: number): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let done = false;
    const start = process.hrtime.bigint();
    const finish = (outcome: AttemptOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => finish({ rttMs: elapsedMs(start) }));
    socket.once('error', (error) => {
      // A reset is the host (or a firewall next to it) answering: the round trip happened.
      if (errorReason(error) === 'ECONNREFUSED') finish({ rttMs: elapsedMs(start) });
      else finish({ error: errorReason(error) });
    });
    socket.connect({ host: address, port });
  });
}

export async function tcpProbe(o: {
  address: string;
  port: number;
  count: number;
  intervalMs: number;
  timeoutMs: number;
}): Promise<ProbeSamples> {
  validateAddress(o.address);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    throw new InvalidInputError('port', o.port, 'a whole number from 1 to 65535');
  }
  validateSchedule(o);
  return runAttempts('tcp', o.count, o.intervalMs, () => connectOnce(o.address, o.port, o.timeoutMs));
}
