/**
 * HTTP(S) probe: time from starting a HEAD request to receiving the response
 * headers, for resources that only answer on a web port. Connects to the
 * address resolved once for the round, so DNS is not queried per attempt.
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
    const start = process.hrtime.bigint();
    const request = (secure ? https : http).request(options, (response) => {
      finish({ rttMs: elapsedMs(start) });
      response.resume();
    });
    const finish = (outcome: AttemptOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      request.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    request.on('error', (error) => finish({ error: errorReason(error) }));
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
