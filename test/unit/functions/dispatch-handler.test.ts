/**
 * The dispatch Lambda handler as EventBridge invokes it, with AWS mocked at
 * the SDK boundary and the claim table answered by a fake DynamoDB table: a
 * scheduled event delivered twice dispatches its round once.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DescribeInstanceInformationCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { ScheduledEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeTable } from '../../../bench/fake-dynamodb.ts';
import { CLAIMS_KEY_ATTRIBUTE } from '../../../functions/aws/claims-table.ts';
import type { DispatchSummary } from '../../../functions/dispatch/dispatch-round.ts';
import { handler, roundIdFor } from '../../../functions/dispatch/handler.ts';
import { instanceId } from './fixtures.ts';

const ENV: Record<string, string> = {
  AWS_REGION: 'eu-west-1',
  STAGE: 'test',
  LOG_GROUP_NAME: 'CloudConnexa-Monitor-Logs',
  DOCUMENT_NAME: 'cc-monitor-test-agent',
  COLLECT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect',
  CLAIMS_TABLE_NAME: 'cc-monitor-test-claims',
  METRIC_GRANULARITY: 'host',
  ALLOW_INSTALL: 'false',
  DEFAULT_RESOURCES: '10.0.0.5',
  DEFAULT_COUNT: '10',
  DEFAULT_INTERVAL_SEC: '1',
  DEFAULT_LATENCY_THRESHOLD_MS: '75',
  DEFAULT_LOSS_THRESHOLD_PCT: '5',
  DEFAULT_HOPS: '3',
  DEFAULT_LOSS_RULE: 'persistent',
  DEFAULT_TCP_PORT: '443',
  LOG_DIR: '/home/ubuntu/Connexa-Logs',
  COMMAND_TIMEOUT_SECONDS: '120',
  EXECUTION_TIMEOUT_SECONDS: '240',
};

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const logsMock = mockClient(CloudWatchLogsClient);
const ddbMock = mockClient(DynamoDBClient);

const ONLINE = instanceId(1);
const BLIND = instanceId(2);

function scheduled(id: string, time: string): ScheduledEvent {
  return {
    version: '0',
    id,
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time,
    region: 'eu-west-1',
    resources: ['arn:aws:events:eu-west-1:123456789012:rule/cc-monitor-test-dispatch'],
    detail: {},
  };
}

/** Runs the handler, keeping what it prints (its log lines and EMF). */
async function invoke(event: ScheduledEvent): Promise<{ summary: DispatchSummary; printed: string[] }> {
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const log = console.log;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    printed.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write;
  console.log = (...args: unknown[]) => printed.push(args.map(String).join(' '));
  try {
    return { summary: await handler(event, { getRemainingTimeInMillis: () => 200_000 }), printed };
  } finally {
    process.stdout.write = write;
    console.log = log;
  }
}

const saved = { ...process.env };
before(() => Object.assign(process.env, ENV));
after(() => {
  for (const name of Object.keys(ENV)) if (saved[name] === undefined) delete process.env[name];
});

describe('dispatch handler: one dispatch per scheduled round', () => {
  let table: FakeTable;
  beforeEach(() => {
    for (const m of [ec2Mock, ssmMock, sqsMock, logsMock, ddbMock]) m.reset();
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [ONLINE, BLIND].map((InstanceId) => ({
            InstanceId,
            Tags: [{ Key: 'CloudConnexaMonitor', Value: 'enabled' }],
          })),
        },
      ],
    });
    ssmMock.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [
        { InstanceId: ONLINE, PingStatus: 'Online' },
        { InstanceId: BLIND, PingStatus: 'ConnectionLost' },
      ],
    });
    let seq = 0;
    ssmMock.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++seq}` } }));
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    logsMock.on(PutLogEventsCommand).resolves({});
    logsMock.on(CreateLogStreamCommand).resolves({});
    table = new FakeTable(CLAIMS_KEY_ATTRIBUTE);
    ddbMock.on(PutItemCommand).callsFake((input) => table.put(input));
    ddbMock.on(UpdateItemCommand).callsFake((input) => table.update(input));
    ddbMock.on(GetItemCommand).callsFake((input) => table.get(input));
  });

  it('gives both deliveries of one scheduled event the same round id', () => {
    const event = scheduled('5f0c1d2e-aaaa-4bbb-8ccc-000000000001', '2026-01-01T12:05:00Z');
    assert.equal(roundIdFor(event), roundIdFor({ ...event }));
    assert.equal(roundIdFor(event), '20260101T120500Z-5f0c1d2e');
  });

  it('sends nothing in a second delivery of the same event, and logs that the round was already dispatched', async () => {
    // Prepare
    const event = scheduled('5f0c1d2e-aaaa-4bbb-8ccc-000000000001', '2026-01-01T12:05:00Z');
    // Act: EventBridge delivers the event twice.
    const first = await invoke(event);
    const second = await invoke(event);
    // Assess
    assert.equal(first.summary.dispatched, 1);
    assert.equal(first.summary.blind, 1);
    assert.equal(second.summary.dispatched, 0);
    assert.equal(second.summary.duplicateOf?.finished, true);
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 1, 'one SendCommand');
    assert.equal(sqsMock.commandCalls(SendMessageCommand).length, 1, 'one collect job');
    const blindWrites = logsMock
      .commandCalls(PutLogEventsCommand)
      .filter((c) => c.args[0].input.logStreamName === BLIND);
    assert.equal(blindWrites.length, 1, 'one blind record');
    assert.equal(
      second.printed.filter((l) => l.includes('"_aws"')).length,
      0,
      'no metric from the second delivery',
    );
    const why = second.printed.map((l) => JSON.parse(l) as { message?: string }).at(-1)?.message;
    assert.match(
      String(why),
      /^round 20260101T120500Z-5f0c1d2e was already claimed by another invocation at 20\d\d-.*Z \(finished\): this invocation sends nothing$/,
    );
    assert.ok(table.items.has('dispatch/20260101T120500Z'));
  });

  it('treats another invocation for the same scheduled time as the same round, whatever its event id', async () => {
    await invoke(scheduled('5f0c1d2e-aaaa-4bbb-8ccc-000000000001', '2026-01-01T12:05:00Z'));
    const other = await invoke(scheduled('99999999-aaaa-4bbb-8ccc-000000000002', '2026-01-01T12:05:00Z'));
    assert.ok(other.summary.duplicateOf !== undefined);
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 1);
  });

  it('dispatches the next scheduled round as usual', async () => {
    await invoke(scheduled('5f0c1d2e-aaaa-4bbb-8ccc-000000000001', '2026-01-01T12:05:00Z'));
    const next = await invoke(scheduled('6a1b2c3d-aaaa-4bbb-8ccc-000000000003', '2026-01-01T12:10:00Z'));
    assert.equal(next.summary.duplicateOf, undefined);
    assert.equal(next.summary.dispatched, 1);
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 2);
  });
});
