/**
 * Turns a resource name into one IP address, once per round, so that mtr and
 * the TCP/HTTP probes all measure the same address and none of them queries DNS
 * again (mtr always gets `-n` and an IP literal).
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { errnoOrMessage } from '../../common/errno.ts';
import { InvalidInputError, MonitorError } from '../../common/errors.ts';
import { RESOLVE_TIMEOUT_MS } from '../../common/round-budget.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export const DEFAULT_RESOLVE_TIMEOUT_MS = RESOLVE_TIMEOUT_MS;

/**
 * IP literals come back unchanged (`[::1]` loses its brackets). Names go
 * through the system resolver (getaddrinfo: /etc/hosts, then DNS), in the
 * order the system returns them (`verbatim`), which is the address mtr itself
 * would have picked; Node 12 would otherwise put IPv4 first.
 *
 * getaddrinfo cannot be cancelled: on timeout the lookup keeps a libuv thread
 * until the resolver gives up, but the caller moves on.
 */
export async function resolveAddress(
  host: string,
  timeoutMs: number = DEFAULT_RESOLVE_TIMEOUT_MS,
): Promise<ResolvedAddress> {
  const trimmed = host.trim();
  if (trimmed === '') throw new InvalidInputError('host', host, 'a host name or an IP address');
  const literal = trimmed.startsWith('[') && trimmed.endsWith(']') ? trimmed.slice(1, -1) : trimmed;
  const literalFamily = isIP(literal);
  if (literalFamily === 4 || literalFamily === 6) return { address: literal, family: literalFamily };

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MonitorError('E_RESOLVE', `could not resolve "${host}": no answer within ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
  });
  try {
    const found = await Promise.race([dnsPromises.lookup(trimmed, { verbatim: true }), timeout]);
    if (found.family !== 4 && found.family !== 6) {
      throw new MonitorError(
        'E_RESOLVE',
        `could not resolve "${host}": unexpected address family ${found.family}`,
      );
    }
    return { address: found.address, family: found.family };
  } catch (error) {
    if (error instanceof MonitorError) throw error;
    throw new MonitorError('E_RESOLVE', `could not resolve "${host}": ${errnoOrMessage(error)}`);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
