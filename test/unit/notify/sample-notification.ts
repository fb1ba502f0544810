/**
 * The sample notification the README shows, produced by the notifier itself:
 * a round the real collector code wrote (two connectors, one slow on the
 * CloudConnexa side, one losing packets at a resource whose path changed),
 * the hosts-flagged alarm's event, and the SNS Publish it leads to, all with
 * AWS mocked at the SDK boundary. readme-sample.test.ts checks the README
 * against it; `node --import tsx test/unit/notify/sample-notification.ts`
 * prints it.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { Hop, ResourceResult, ResultDocument } from '../../../common/result-schema.ts';
import { createAlarmHistory } from '../../../functions/notify/alarm-history.ts';
import { createDeadLetterPeek } from '../../../functions/notify/dead-letters.ts';
import { createLogSearch } from '../../../functions/notify/log-search.ts';
import { notifyAlarm } from '../../../functions/notify/notify-alarm.ts';
import { createSnsPublisher } from '../../../functions/notify/publish.ts';
import {
  FakeLogGroups,
  flaggedDocument,
  notifyConfig,
  REGION,
  roundIdAt,
  stateChange,
  TOPIC,
} from './fixtures.ts';

const T = Date.parse('2026-11-26T17:11:12Z');
const ROUND = T - 6 * 60_000;

const hop = (ttl: number, host: string | null, avgMs: number, lossPct = 0): Hop => ({
  ttl,
  host,
  lossPct,
  sent: 25,
  lastMs: host === null ? null : avgMs,
  avgMs: host === null ? null : avgMs,
  bestMs: host === null ? null : avgMs * 0.9,
  worstMs: host === null ? null : avgMs * 1.2,
  stdevMs: host === null ? null : 2.1,
  jitterMs: host === null ? null : 1.4,
});

function host(
  hostname: string,
  gatewayHops: Hop[],
  resources: (Partial<ResourceResult> & { target: string })[],
): ResultDocument {
  const base = flaggedDocument({ hostname, targets: resources.map((r) => r.target) });
  const template = base.resources[0] as ResourceResult;
  const all = resources.map((r) => ({ ...template, errors: [], durationMs: 25_000, ...r }));
  const flagged = all.filter((r) => r.latencyFlag || r.lossFlag);
  return {
    ...base,
    mtrId: '20261126170512',
    startedAt: new Date(ROUND + 1_000).toISOString(),
    finishedAt: new Date(ROUND + 27_000).toISOString(),
    resources: all,
    gateway: {
      ip: '203.0.113.10',
      source: 'openvpn3',
      latencyMs: gatewayHops.at(-1)?.avgMs ?? null,
      lossPct: 0,
      hops: gatewayHops,
      errors: [],
    },
    summary: {
      resources: all.length,
      flagged: flagged.length,
      latencyFlag: all.some((r) => r.latencyFlag),
      lossFlag: all.some((r) => r.lossFlag),
      worstLatencyMs: Math.max(...all.map((r) => r.latencyMs ?? 0)),
      worstLossPct: Math.max(...all.map((r) => r.lossPct)),
      jitterFlag: false,
      worstJitterMs: null,
    },
    seed:
      base.seed === null
        ? null
        : {
            ...base.seed,
            HOSTNAME: hostname,
            'RESOURCE(S)': all.map((r) => r.target),
            GATEWAY_IP: '203.0.113.10',
            LATENCY_FLAG: all.some((r) => r.latencyFlag) ? '1' : '0',
            LOSS_FLAG: all.some((r) => r.lossFlag) ? '1' : '0',
            'MTR-ID_(YYYYMMDDHHMMSS)': '20261126170512',
          },
  };
}

/** The fleet's latest round: what the collector wrote for it. */
function sampleRound(): FakeLogGroups {
  const gateway = [hop(1, '100.96.0.1', 181.2), hop(2, '203.0.113.10', 182.0)];
  const slow = host('connector-eu-1', gateway, [
    {
      target: 'db.corp.internal',
      address: '10.20.0.5',
      latencyMs: 182.4,
      lossPct: 0,
      latencyFlag: true,
      lossFlag: false,
      verdict: 'latency',
      trouble: { kind: 'latency', hop: 1, host: '100.96.0.1', side: 'tunnel' },
      hops: [hop(1, '100.96.0.1', 181.2), hop(2, '10.20.0.1', 181.9), hop(3, '10.20.0.5', 182.4)],
    },
    {
      target: 'https://wiki.corp.internal/',
      address: '10.20.0.9',
      method: 'http',
      latencyBasis: 'tcp-connect',
      requestMs: 402.7,
      latencyMs: 183.1,
      lossPct: 0,
      latencyFlag: true,
      lossFlag: false,
      verdict: 'latency',
      trouble: { kind: 'latency', hop: 1, host: '100.96.0.1', side: 'tunnel' },
      hops: [hop(1, '100.96.0.1', 181.2), hop(2, '10.20.0.1', 182.0), hop(3, '10.20.0.9', 183.1)],
    },
  ]);
  const lossy = host(
    'connector-eu-2',
    [hop(1, '100.96.0.1', 2.3), hop(2, '203.0.113.10', 3.1)],
    [
      {
        target: '10.30.0.7',
        address: '10.30.0.7',
        latencyMs: 4.2,
        lossPct: 36,
        latencyFlag: false,
        lossFlag: true,
        verdict: 'loss',
        trouble: { kind: 'loss', hop: 3, host: '10.30.0.1', side: 'resource' },
        hops: [
          hop(1, '100.96.0.1', 2.3),
          hop(2, '10.20.0.1', 2.9),
          hop(3, '10.30.0.1', 3.8, 36),
          hop(4, '10.30.0.7', 4.2, 36),
        ],
      },
    ],
  );
  const fake = new FakeLogGroups();
  fake.addRound(roundIdAt(ROUND), ROUND + 31_000, [
    {
      instanceId: 'i-0a1b2c3d4e5f60718',
      doc: slow,
      tunnel: {
        state: 'up',
        source: 'openvpn3',
        detail: 'Client connected',
        since: null,
        reconnects: 0,
        bytesIn: null,
        bytesOut: null,
        explains: false,
      },
    },
    {
      instanceId: 'i-0f9e8d7c6b5a40312',
      doc: lossy,
      tunnel: {
        state: 'up',
        source: 'openvpn3',
        detail: 'Client connected',
        since: null,
        reconnects: 0,
        bytesIn: null,
        bytesOut: null,
        explains: false,
      },
      pathChanges: {
        '10.30.0.7': {
          previousHops: ['100.96.0.1', '10.20.0.1', '10.30.0.2', '10.30.0.7'],
          hops: ['100.96.0.1', '10.20.0.1', '10.30.0.1', '10.30.0.7'],
          firstDifferentHop: 3,
        },
      },
    },
  ]);
  return fake;
}

export interface Sample {
  subject: string;
  email: string;
  chat: string;
}

/** Runs the notifier on the sample round with AWS mocked; restores the SDK clients afterwards. */
export async function sampleNotification(): Promise<Sample> {
  const logs = mockClient(CloudWatchLogsClient);
  const sns = mockClient(SNSClient);
  try {
    sns.on(PublishCommand).resolves({ MessageId: 'sample' });
    sampleRound().install(logs);
    await notifyAlarm(
      stateChange(
        'hosts-flagged',
        'ALARM',
        T,
        { state: 'OK', at: T - 3 * 3_600_000 },
        {
          description:
            'At least one enrolled host was flagged for latency or loss in 2 of the last 3 rounds.',
        },
      ),
      {
        logs: createLogSearch(new CloudWatchLogsClient({ region: REGION })),
        history: createAlarmHistory(new CloudWatchClient({ region: REGION })),
        deadLetters: createDeadLetterPeek(new SQSClient({ region: REGION })),
        publisher: createSnsPublisher(new SNSClient({ region: REGION }), TOPIC),
        webhook: null,
        log: () => undefined,
        now: () => T + 30_000,
      },
      notifyConfig(),
    );
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    const message = JSON.parse(input?.Message ?? '{}') as { email: string; default: string };
    return {
      subject: input?.Subject ?? '',
      email: message.email,
      chat: JSON.stringify(JSON.parse(message.default), null, 2),
    };
  } finally {
    logs.restore();
    sns.restore();
  }
}

/** The README block for a sample: the subject, then the e-mail body, as a text block. */
export function readmeBlock(sample: { subject: string; email: string }): string {
  return ['```text', `Subject: ${sample.subject}`, '', sample.email.trimEnd(), '```'].join('\n');
}

if (require.main === module) {
  void sampleNotification().then((s) => {
    process.stdout.write(`${readmeBlock(s)}\n`);
  });
}
