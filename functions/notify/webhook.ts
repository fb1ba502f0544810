/**
 * The optional generic webhook. Its URL is a secret (chat webhooks carry their
 * token in the path), so it lives only in an SSM Parameter Store SecureString
 * named by the `webhookUrlParameter` stage parameter: never in the template,
 * the environment or a log line. It is read at delivery time (GetParameter
 * WithDecryption) and the notifier logs the parameter's name, the attempts,
 * the HTTP status or the error code, and never the URL or an error message
 * that could quote it.
 *
 * Delivery runs after the e-mail was published and never throws: a failing
 * webhook cannot hold up or undo the e-mail. It is retried with exponential
 * backoff and full jitter by the AWS SDK's own retry strategy
 * (`ConfiguredRetryStrategy` of @smithy/core: attempt count and retry quota)
 * on a network error, a timeout, 408, 429 (honouring Retry-After) and 5xx;
 * another status is final. Every attempt has a timeout, and the whole delivery
 * a deadline: no wait starts that would end past it.
 *
 * The URL must be https (http only to a loopback address, which never leaves
 * the machine); redirects are not followed, so the body never goes elsewhere.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { errnoOf } from '../../common/errno.ts';
import { awsErrorName } from '../aws/aws-errors.ts';
import { Deadline } from './deadline.ts';
import type { WebhookPolicy } from './limits.ts';

export interface WebhookOutcome {
  delivered: boolean;
  attempts: number;
  /** The last HTTP status, if any answer came. */
  status: number | null;
  /** Why it failed, in words that never contain the URL. */
  reason: string | null;
  durationMs: number;
}

export interface WebhookPorts {
  /** The parameter's decrypted value. */
  readUrl(parameterName: string, signal: AbortSignal): Promise<string>;
  fetch: typeof fetch;
  now: () => number;
  /** A number in [0, 1) for the jitter. */
  random: () => number;
}

export function createSsmUrlReader(ssm: SSMClient): WebhookPorts['readUrl'] {
  return async (name, signal) => {
    const answer = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }), {
      abortSignal: signal,
    });
    return answer.Parameter?.Value ?? '';
  };
}

const LOOPBACK_HOST = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/** Whether the URL may carry the notification (see the module comment). Never echoes the URL. */
export function checkWebhookUrl(value: string): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return { ok: false, reason: 'the parameter does not hold a URL' };
  }
  if (url.protocol === 'https:') return { ok: true, url };
  if (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname)) return { ok: true, url };
  return { ok: false, reason: `the URL's scheme is ${url.protocol.replace(':', '')}: https is required` };
}

type AttemptResult =
  | { ok: true; status: number }
  | {
      ok: false;
      status: number | null;
      errorType: 'TRANSIENT' | 'THROTTLING' | null;
      reason: string;
      retryAfterMs: number | null;
    };

function retryAfterMs(header: string | null, now: number): number | null {
  if (header === null) return null;
  if (/^\d{1,6}$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - now) : null;
}

async function attempt(
  ports: WebhookPorts,
  url: URL,
  body: string,
  signal: AbortSignal,
): Promise<AttemptResult> {
  try {
    const response = await ports.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'cloudconnexa-monitor-notifier' },
      body,
      redirect: 'manual',
      signal,
    });
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, status };
    const retryable = status === 408 || status === 429 || status >= 500;
    return {
      ok: false,
      status,
      errorType: status === 429 ? 'THROTTLING' : retryable ? 'TRANSIENT' : null,
      reason: `HTTP ${status}`,
      retryAfterMs: retryAfterMs(response.headers.get('retry-after'), ports.now()),
    };
  } catch (error) {
    // Only a code or an error name: fetch's messages and causes can quote the URL.
    const name = error instanceof Error ? error.name : 'Error';
    const cause = error instanceof Error ? errnoOf(error.cause) : undefined;
    return {
      ok: false,
      status: null,
      errorType: 'TRANSIENT',
      reason: cause === undefined ? name : `${name} (${cause})`,
      retryAfterMs: null,
    };
  }
}

/**
 * POSTs `body` to the URL kept in `parameterName`; resolves with what
 * happened, never rejects. `deadline` is epoch ms.
 */
export async function deliverWebhook(
  body: string,
  parameterName: string,
  ports: WebhookPorts,
  policy: WebhookPolicy,
  deadline: number,
): Promise<WebhookOutcome> {
  const started = ports.now();
  const done = (o: Omit<WebhookOutcome, 'durationMs'>): WebhookOutcome => ({
    ...o,
    durationMs: ports.now() - started,
  });
  let raw: string;
  const read = new Deadline(Math.max(1, Math.min(policy.attemptTimeoutMs, deadline - started)));
  try {
    raw = await ports.readUrl(parameterName, read.signal);
  } catch (error) {
    return done({
      delivered: false,
      attempts: 0,
      status: null,
      reason: `the URL parameter could not be read: ${awsErrorName(error) ?? 'Error'}`,
    });
  } finally {
    read.clear();
  }
  const checked = checkWebhookUrl(raw);
  if (!checked.ok) return done({ delivered: false, attempts: 0, status: null, reason: checked.reason });

  let nextDelay = 0;
  const strategy = new ConfiguredRetryStrategy(policy.maxAttempts, () => nextDelay);
  let token = await strategy.acquireInitialRetryToken('webhook');
  let attempts = 0;
  let last: AttemptResult | null = null;
  for (;;) {
    const left = deadline - ports.now();
    if (left <= 0) break;
    attempts++;
    const limit = new Deadline(Math.min(policy.attemptTimeoutMs, left));
    last = await attempt(ports, checked.url, body, limit.signal).finally(() => limit.clear());
    if (last.ok) {
      strategy.recordSuccess(token);
      return done({ delivered: true, attempts, status: last.status, reason: null });
    }
    if (last.errorType === null) break;
    // Exponential backoff, full jitter; a Retry-After asks for at least its wait.
    const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempts - 1));
    const delay = Math.max(Math.floor(ports.random() * ceiling), last.retryAfterMs ?? 0);
    if (ports.now() + delay >= deadline) {
      return done({
        delivered: false,
        attempts,
        status: last.status,
        reason: `${last.reason}; no time left for another attempt before the deadline`,
      });
    }
    nextDelay = delay;
    try {
      token = await strategy.refreshRetryTokenForRetry(token, { errorType: last.errorType });
    } catch {
      return done({
        delivered: false,
        attempts,
        status: last.status,
        reason: `${last.reason}; attempts exhausted`,
      });
    }
  }
  return done({
    delivered: false,
    attempts,
    status: last !== null && !last.ok ? last.status : null,
    reason:
      last !== null && !last.ok ? `${last.reason}; deadline reached` : 'deadline reached before an attempt',
  });
}
