/**
 * The webhook against a real HTTP server on 127.0.0.1 (the only address the
 * tests send to), with the URL read from SSM Parameter Store (mocked at the
 * SDK boundary): retried with backoff on 5xx, 429 and timeouts, not on other
 * answers, bounded in attempts and time, never logging the URL, and never
 * holding up or undoing the e-mail.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { CloudWatchClient, DescribeAlarmHistoryCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createAlarmHistory } from '../../../functions/notify/alarm-history.ts';
import { NOTIFICATION_SCHEMA } from '../../../functions/notify/compose.ts';
import { createDeadLetterPeek } from '../../../functions/notify/dead-letters.ts';
import { createLogSearch } from '../../../functions/notify/log-search.ts';
import { notifyAlarm } from '../../../functions/notify/notify-alarm.ts';
import { createSnsPublisher } from '../../../functions/notify/publish.ts';
import {
  checkWebhookUrl,
  createSsmUrlReader,
  deliverWebhook,
  type WebhookPorts,
} from '../../../functions/notify/webhook.ts';
import {
  cleanDocument,
  FakeLogGroups,
  flaggedDocument,
  instance,
  notifyConfig,
  REGION,
  roundIdAt,
  stateChange,
  TOPIC,
} from './fixtures.ts';

const ssmMock = mockClient(SSMClient);
const snsMock = mockClient(SNSClient);
const logsMock = mockClient(CloudWatchLogsClient);
const cwMock = mockClient(CloudWatchClient);

const PARAMETER = '/cloudconnexa/notify/webhook-url';
/** A secret-looking path: it must appear in no log line and no outcome. */
const SECRET_PATH = '/hooks/T000/B000/s3cr3t-t0ken';
const POLICY = { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 80, attemptTimeoutMs: 400, totalMs: 5_000 };

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let server: Server;
let url: string;
let script: Handler[] = [];
const received: { at: number; body: string; headers: IncomingMessage['headers']; path: string }[] = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      received.push({ at: Date.now(), body, headers: req.headers, path: req.url ?? '' });
      const handler = script.shift() ?? ((_q, r) => r.writeHead(200).end('ok'));
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${SECRET_PATH}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  script = [];
  received.length = 0;
  ssmMock.reset();
  snsMock.reset();
  logsMock.reset();
  cwMock.reset();
  ssmMock
    .on(GetParameterCommand)
    .resolves({ Parameter: { Name: PARAMETER, Type: 'SecureString', Value: url } });
  snsMock.on(PublishCommand).resolves({ MessageId: 'msg-1' });
  cwMock.on(DescribeAlarmHistoryCommand).resolves({});
});

const status =
  (code: number, headers: Record<string, string> = {}): Handler =>
  (_q, r) =>
    r.writeHead(code, headers).end();

function webhookPorts(): WebhookPorts {
  return {
    readUrl: createSsmUrlReader(new SSMClient({ region: REGION })),
    fetch: globalThis.fetch,
    now: Date.now,
    random: () => 0.5,
  };
}

describe('deliverWebhook', () => {
  it('retries a 503 and a 429 with backoff, then delivers; reads the URL decrypted from its SecureString', async () => {
    script = [status(503), status(429, { 'retry-after': '0' }), status(204)];
    const outcome = await deliverWebhook(
      '{"a":1}',
      PARAMETER,
      webhookPorts(),
      POLICY,
      Date.now() + POLICY.totalMs,
    );
    assert.equal(outcome.delivered, true);
    assert.equal(outcome.attempts, 3);
    assert.equal(outcome.status, 204);
    assert.equal(received.length, 3);
    assert.equal(received[0]?.headers['content-type'], 'application/json');
    const input = ssmMock.commandCalls(GetParameterCommand)[0]?.args[0].input;
    assert.deepEqual(input, { Name: PARAMETER, WithDecryption: true });
    // Backoff: the gaps grow from the base (full jitter at 0.5: 10 ms, then 20 ms), measured from the server's side.
    const gaps = received.slice(1).map((r, i) => r.at - (received[i]?.at ?? 0));
    assert.ok(
      gaps.every((g) => g >= 10),
      `gaps ${gaps.join(', ')} ms`,
    );
  });

  it('gives up after its attempts on a server that keeps failing, saying so without the URL', async () => {
    script = Array.from({ length: 10 }, () => status(500));
    const outcome = await deliverWebhook(
      '{}',
      PARAMETER,
      webhookPorts(),
      POLICY,
      Date.now() + POLICY.totalMs,
    );
    assert.equal(outcome.delivered, false);
    assert.equal(outcome.attempts, POLICY.maxAttempts);
    assert.equal(received.length, POLICY.maxAttempts);
    assert.equal(outcome.status, 500);
    assert.match(outcome.reason ?? '', /HTTP 500; attempts exhausted/);
    assert.ok(!JSON.stringify(outcome).includes('s3cr3t') && !JSON.stringify(outcome).includes('127.0.0.1'));
  });

  it('does not retry an answer that will not change (404), nor follow a redirect', async () => {
    script = [status(404)];
    const notFound = await deliverWebhook(
      '{}',
      PARAMETER,
      webhookPorts(),
      POLICY,
      Date.now() + POLICY.totalMs,
    );
    assert.equal(notFound.attempts, 1);
    assert.equal(notFound.delivered, false);
    script = [status(302, { location: 'http://127.0.0.1:9/elsewhere' })];
    const redirected = await deliverWebhook(
      '{}',
      PARAMETER,
      webhookPorts(),
      POLICY,
      Date.now() + POLICY.totalMs,
    );
    assert.equal(redirected.delivered, false);
    assert.equal(redirected.status, 302);
    assert.equal(received.length, 2, 'the redirect was not followed');
  });

  it('bounds a server that never answers: each attempt times out, and no wait outlives the deadline', async () => {
    script = Array.from({ length: 10 }, () => () => undefined);
    const started = Date.now();
    const total = 1_000;
    const outcome = await deliverWebhook(
      '{}',
      PARAMETER,
      webhookPorts(),
      { ...POLICY, attemptTimeoutMs: 300 },
      started + total,
    );
    assert.equal(outcome.delivered, false);
    assert.ok(outcome.attempts >= 1 && outcome.attempts <= POLICY.maxAttempts);
    assert.match(outcome.reason ?? '', /TimeoutError|AbortError/);
    // It ended because of its own deadline, not because the server answered.
    assert.ok(Date.now() - started >= 300, 'at least one attempt ran to its timeout');
  });

  it('refuses a URL that is not https (plain http only to loopback) and a parameter it cannot read', async () => {
    assert.equal(checkWebhookUrl('https://hooks.example.com/x').ok, true);
    assert.equal(checkWebhookUrl('http://127.0.0.1:8080/x').ok, true);
    for (const bad of ['http://hooks.example.com/x', 'ftp://hooks.example.com/', 'not a url', '']) {
      const checked = checkWebhookUrl(bad);
      assert.equal(checked.ok, false, bad);
      if (!checked.ok)
        assert.ok(!checked.reason.includes('hooks.example.com'), 'the reason never quotes the URL');
    }
    ssmMock
      .on(GetParameterCommand)
      .rejects(Object.assign(new Error('Parameter /x not found'), { name: 'ParameterNotFound' }));
    const outcome = await deliverWebhook(
      '{}',
      PARAMETER,
      webhookPorts(),
      POLICY,
      Date.now() + POLICY.totalMs,
    );
    assert.equal(outcome.attempts, 0);
    assert.match(outcome.reason ?? '', /could not be read: ParameterNotFound/);
  });
});

describe('the webhook in a notification', () => {
  function notifyPorts(lines: Record<string, unknown>[]) {
    const fake = new FakeLogGroups();
    const T = Date.parse('2026-11-26T17:11:12Z');
    fake.addRound(roundIdAt(T - 360_000), T - 340_000, [
      { instanceId: instance(1), doc: flaggedDocument() },
      { instanceId: instance(2), doc: cleanDocument() },
    ]);
    fake.install(logsMock);
    return {
      T,
      ports: {
        logs: createLogSearch(new CloudWatchLogsClient({ region: REGION })),
        history: createAlarmHistory(new CloudWatchClient({ region: REGION })),
        deadLetters: createDeadLetterPeek(new SQSClient({ region: REGION })),
        publisher: createSnsPublisher(new SNSClient({ region: REGION }), TOPIC),
        webhook: webhookPorts(),
        log: (line: Record<string, unknown>) => lines.push(line),
        now: Date.now,
      },
    };
  }

  it('a failing webhook is retried and logged with its status, and the e-mail was already sent', async () => {
    script = Array.from({ length: 10 }, () => status(502));
    const lines: Record<string, unknown>[] = [];
    const { T, ports } = notifyPorts(lines);
    let publishedAt = 0;
    snsMock.on(PublishCommand).callsFake(() => {
      publishedAt = Date.now();
      return { MessageId: 'msg-1' };
    });
    const outcome = await notifyAlarm(
      stateChange('hosts-flagged', 'ALARM', T),
      { ...ports, now: () => T + 30_000 },
      notifyConfig({ webhookParameter: PARAMETER }),
      { webhookPolicy: POLICY },
    );
    assert.equal(outcome.sent, 'rich');
    assert.equal(snsMock.commandCalls(PublishCommand).length, 1);
    assert.equal(outcome.webhook?.delivered, false);
    assert.equal(outcome.webhook?.attempts, POLICY.maxAttempts);
    assert.ok(
      publishedAt > 0 && (received[0]?.at ?? 0) >= publishedAt,
      'the e-mail went out before the first webhook attempt',
    );
    const logged = lines.find((l) => l.message === 'webhook failed; the e-mail was sent');
    assert.ok(logged, JSON.stringify(lines));
    assert.equal(logged.status, 502);
    assert.equal(logged.parameter, PARAMETER);
    assert.equal(logged.attempts, POLICY.maxAttempts);
    const everything = JSON.stringify(lines);
    assert.ok(!everything.includes('s3cr3t') && !everything.includes(url), 'no log line holds the URL');
  });

  it('posts the notification as JSON: facts per host, links and the e-mail text', async () => {
    const lines: Record<string, unknown>[] = [];
    const { T, ports } = notifyPorts(lines);
    const outcome = await notifyAlarm(
      stateChange('hosts-flagged', 'ALARM', T),
      { ...ports, now: () => T + 30_000 },
      notifyConfig({ webhookParameter: PARAMETER }),
      { webhookPolicy: POLICY },
    );
    assert.equal(outcome.webhook?.delivered, true);
    const body = JSON.parse(received[0]?.body ?? '{}');
    assert.equal(body.schema, NOTIFICATION_SCHEMA);
    assert.equal(body.alarm.state, 'ALARM');
    assert.equal(body.alarm.kind, 'hosts-flagged');
    assert.equal(body.hostsTotal, 1);
    assert.equal(body.hosts[0].instanceId, instance(1));
    assert.equal(body.hosts[0].resources[0].trouble.side, 'resource');
    assert.match(body.hosts[0].logStream, /^https:\/\/eu-west-1\.console\.aws\.amazon\.com\//);
    assert.match(body.text, /ALARM: hosts flagged for latency or loss/);
    assert.ok(lines.some((l) => l.message === 'webhook delivered' && l.status === 200));
  });
});
