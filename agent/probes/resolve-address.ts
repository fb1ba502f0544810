/**
 * Turns a resource name into one IP address, once per round, so that mtr and
 * the TCP/HTTP probes all measure the same address and none of them queries DNS
 * again (mtr always gets `-n` and an IP literal).
 *
 * The lookup runs in a child process, `getent ahosts` (glibc: getaddrinfo
 * through nsswitch, so /etc/hosts, DNS, systemd-resolved as configured), not
 * in the agent: getaddrinfo cannot be cancelled. In-process, a name whose DNS
 * server does not answer holds one of libuv's 4 pool threads until the system
 * resolver gives up (resolv.conf's timeout x attempts x servers, minutes at
 * worst); lookups and file operations queue behind it (with four such names,
 * one that /etc/hosts answers at once timed out unasked), and the process
 * cannot exit until it returns (libuv joins its threads at exit: a round that
 * took 5 s kept the agent alive 30 s). A child is killed at the deadline.
 * Hosts without getent (not glibc) fall back to the in-process lookup.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { errnoOrMessage } from '../../common/errno.ts';
import { excerpt, InvalidInputError, MonitorError } from '../../common/errors.ts';
import { RESOLVE_TIMEOUT_MS } from '../../common/round-budget.ts';
import { runProcess } from '../process/run-process.ts';
import type { RunProcess } from '../process/types.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export const DEFAULT_RESOLVE_TIMEOUT_MS = RESOLVE_TIMEOUT_MS;

/** getent's exit status when the key is not found (glibc nss/getent.c): any getaddrinfo failure. */
const GETENT_NOT_FOUND = 2;
/** One address per line and socket type; a name with hundreds of addresses stays far below this. */
const GETENT_MAX_OUTPUT_BYTES = 64 * 1024;
/**
 * Names reach here validated (common/settings.ts parseResource); this guard
 * only keeps what goes to getent's argv to one printable word that cannot
 * read as an option, whoever calls.
 */
const ONE_WORD = /^[^\s-][^\s]*$/;

function resolveError(host: string, why: string, cause?: unknown): MonitorError {
  return new MonitorError(
    'E_RESOLVE',
    `could not resolve "${host}": ${why}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The first address of `getent ahosts` output, lines `ADDRESS SOCKTYPE
 * [CANONNAME]` in getaddrinfo's order (RFC 6724 sorting, gai.conf).
 */
export function parseGetentAhosts(stdout: string): ResolvedAddress | null {
  for (const line of stdout.split('\n')) {
    const address = /^(\S+)\s+(?:STREAM|DGRAM|RAW)\b/.exec(line)?.[1];
    if (address === undefined) continue;
    const family = isIP(address);
    if (family === 4 || family === 6) return { address, family };
  }
  return null;
}

async function lookupWithGetent(
  host: string,
  name: string,
  timeoutMs: number,
  run: RunProcess,
): Promise<ResolvedAddress | 'no-getent'> {
  const result = await run('getent', ['ahosts', '--', name], {
    timeoutMs,
    maxOutputBytes: GETENT_MAX_OUTPUT_BYTES,
  });
  if (result.spawnError === 'ENOENT') return 'no-getent';
  if (result.spawnError !== null)
    throw resolveError(host, `getent could not be started: ${result.spawnError}`);
  if (result.timedOut) throw resolveError(host, `no answer within ${timeoutMs} ms`);
  if (result.exitCode === GETENT_NOT_FOUND) {
    throw resolveError(
      host,
      'the system resolver has no address for it (no such name, or the DNS server failed)',
    );
  }
  if (result.exitCode !== 0) {
    const how =
      result.exitCode === null
        ? `was killed by ${result.signal ?? 'a signal'}`
        : `exited with ${result.exitCode}`;
    const detail = excerpt(result.stderr, 200);
    throw resolveError(host, `getent ahosts ${how}${detail === '' ? '' : `: ${detail}`}`);
  }
  const found = parseGetentAhosts(result.stdout);
  if (found === null) {
    throw resolveError(
      host,
      `getent ahosts printed no address: ${JSON.stringify(excerpt(result.stdout, 80))}`,
    );
  }
  return found;
}

/** Node's own getaddrinfo, for hosts without getent: bounded for the round, not for the process (see above). */
async function lookupInProcess(host: string, name: string, timeoutMs: number): Promise<ResolvedAddress> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(resolveError(host, `no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const found = await Promise.race([dnsPromises.lookup(name, { verbatim: true }), timeout]);
    if (found.family !== 4 && found.family !== 6) {
      throw resolveError(host, `unexpected address family ${found.family}`);
    }
    return { address: found.address, family: found.family };
  } catch (error) {
    if (error instanceof MonitorError) throw error;
    throw resolveError(host, errnoOrMessage(error), error);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * IP literals come back unchanged (`[::1]` loses its brackets). Names go
 * through the system resolver and come back as its first address, the one mtr
 * itself would have picked. Rejects with MonitorError('E_RESOLVE') naming the
 * host and why, by `timeoutMs` (plus the child's kill grace) at the latest;
 * with InvalidInputError for a value that is not a host name.
 */
export async function resolveAddress(
  host: string,
  timeoutMs: number = DEFAULT_RESOLVE_TIMEOUT_MS,
  run: RunProcess = runProcess,
): Promise<ResolvedAddress> {
  const trimmed = host.trim();
  if (trimmed === '') throw new InvalidInputError('host', host, 'a host name or an IP address');
  const literal = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  const literalFamily = isIP(literal);
  if (literalFamily === 4 || literalFamily === 6) return { address: literal, family: literalFamily };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects.
  if (!ONE_WORD.test(trimmed) || /[\u0000-\u001f\u007f]/.test(trimmed)) {
    throw new InvalidInputError('host', host, 'a host name or an IP address');
  }

  const found = await lookupWithGetent(host, trimmed, timeoutMs, run);
  return found === 'no-getent' ? lookupInProcess(host, trimmed, timeoutMs) : found;
}
