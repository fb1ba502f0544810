/**
 * HTTP(S) probe for URL resources that only answer on a web port. Each attempt
 * is one HEAD request on a fresh connection to the address resolved once for
 * the round (DNS is not queried per attempt), and measures two things:
 * - the TCP connect time of that connection (SYN to SYN-ACK, or to the RST of
 *   a refused port): one network round trip, comparable with mtr's ICMP echo
 *   and judged against the latency threshold (agent/analysis/judge-fallback.ts);
 * - the request time, from starting the request to the response headers: TCP
 *   and TLS handshakes plus the server's time, reported but not judged.
 * An attempt whose connection got no answer is lost; one that connected but
 * got no response keeps its connect time and reports why in the errors.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { InvalidInputError } from '../../common/errors.ts';
import {
  type AttemptOutcome,
  elapsedMs,
  errorReason,
  type ProbeSamples,
  runAttempts,
  validateAddress,
  validateSchedule,
} from './tcp-probe.ts';

const USER_AGENT = 'cloudconnexa-resource-monitor';

function parseProbeUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError('url', url, 'an absolute http:// or https:// URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidInputError('url', url, 'an absolute http:// or https:// URL');
  }
  return parsed;
}

function requestOnce(url: URL, address: string, timeoutMs: number): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    const secure = url.protocol === 'https:';
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const options: https.RequestOptions = {
      method: 'HEAD',
      host: address,
      port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers: { Host: url.host, 'User-Agent': USER_AGENT, Connection: 'close' },
      // A fresh connection per attempt: a pooled one would hide the handshake
      // and make attempts unlike each other.
      agent: false,
    };
    if (secure) {
      // We measure the path to the user's own private resource, not its
      // certificate: internal services often use private CAs or self-signed
      // certificates, and a verification failure is not latency or loss.
      options.rejectUnauthorized = false;
      // SNI must be a name (RFC 6066); for an IP URL send none.
      if (isIP(hostname) === 0) options.servername = hostname;
    }
    let done = false;
    let connectMs: number | null = null;
    const start = process.hrtime.bigint();
    const request = (secure ? https : http).request(options, (response) => {
      finish({ rttMs: connectMs ?? elapsedMs(start), requestMs: elapsedMs(start) });
      response.resume();
    });
    request.on('socket', (socket) => {
      const connected = (): void => {
        if (connectMs === null) connectMs = elapsedMs(start);
      };
      // A TLS socket emits `connect` when its TCP connection is up, before the handshake.
      if (socket.connecting) socket.once('connect', connected);
      else if (!socket.destroyed) connected();
    });
    const finish = (outcome: AttemptOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request.destroy();
      resolve(outcome);
    };
    const fail = (reason: string): void => {
      // A refused port is the host (or a firewall next to it) answering: the round trip happened.
      if (connectMs === null && reason === 'ECONNREFUSED') connectMs = elapsedMs(start);
      finish(connectMs === null ? { error: reason } : { rttMs: connectMs, requestError: reason });
    };
    const timer = setTimeout(() => fail(`timeout after ${timeoutMs} ms`), timeoutMs);
    request.on('error', (error) => fail(errorReason(error)));
    request.end();
  });
}

export async function httpProbe(o: {
  url: string;
  address: string;
  count: number;
  intervalMs: number;
  timeoutMs: number;
}): Promise<ProbeSamples> {
  const url = parseProbeUrl(o.url);
  validateAddress(o.address);
  validateSchedule(o);
  return runAttempts('http', o.count, o.intervalMs, () => requestOnce(url, o.address, o.timeoutMs));
}
