/**
 * The production clients of functions/aws/clients.ts, answered at the HTTP
 * layer (a request handler returning each service's JSON error) so the real
 * SDK retry strategy runs: aws-sdk-client-mock replaces `send` and skips it.
 * A retry setting changed in clients.ts (maxAttempts 1, standard mode, Logs
 * retrying 5xx) fails here.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { PutItemCommandInput, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { FakeTable } from '../../../bench/fake-dynamodb.ts';
import { CLAIMS_KEY_ATTRIBUTE } from '../../../functions/aws/claims-table.ts';
import {
  createDynamoDbClient,
  createEc2Client,
  createLogsClient,
  createSqsClient,
  createSsmClient,
} from '../../../functions/aws/clients.ts';
import { createDynamoDbClaimStore } from '../../../functions/aws/dynamodb-claims.ts';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import { acquireJob, commitJob } from '../../../functions/collect/job-claims.ts';
import { dispatchRound } from '../../../functions/dispatch/dispatch-round.ts';
import { DEFAULTS, instanceId, MemoryLogSink, RecordingMetrics } from './fixtures.ts';

interface FakeResponse {
  status: number;
  body: unknown;
  contentType?: string;
}

/** A request handler answering from a script; records each request's target (or path). */
function httpAnswers(answers: FakeResponse[], contentType = 'application/x-amz-json-1.1') {
  const targets: string[] = [];
  const requestHandler = {
    async handle(request: { headers: Record<string, string>; path: string }) {
      targets.push(request.headers['x-amz-target'] ?? request.path);
      const answer = answers.shift() ?? { status: 500, body: { __type: 'InternalServerError' } };
      return {
        response: {
          statusCode: answer.status,
          reason: '',
          headers: { 'content-type': answer.contentType ?? contentType },
          body: Readable.from([Buffer.from(JSON.stringify(answer.body))]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const transport = {
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    requestHandler,
  };
  return { transport, targets };
}

const throttled: FakeResponse = {
  status: 400,
  body: { __type: 'ThrottlingException', message: 'Rate exceeded' },
};

describe('production SDK clients', () => {
  it('retry adaptively, up to 8 attempts, for SSM, EC2, SQS and DynamoDB', async () => {
    for (const client of [createSsmClient(), createEc2Client(), createSqsClient(), createDynamoDbClient()]) {
      assert.equal(await client.config.maxAttempts(), 8);
      const mode = client.config.retryMode;
      assert.equal(typeof mode === 'function' ? await mode() : mode, 'adaptive');
    }
  });

  it('send a command after two ThrottlingException answers, through the SDK retry', async () => {
    // Prepare
    const { transport, targets } = httpAnswers([
      throttled,
      throttled,
      { status: 200, body: { Command: { CommandId: 'cmd-9' } } },
    ]);
    const ssm = createSsmClient(transport);
    const logs = new MemoryLogSink();
    // Act
    const summary = await dispatchRound(
      {
        inventory: {
          discover: async () => ({ online: [{ instanceId: instanceId(1), tags: {} }], blind: [] }),
        },
        transport: createSsmTransport(ssm, { documentName: 'doc', timeoutSeconds: 60 }),
        queue: { enqueue: async () => {} },
        logs,
        metrics: new RecordingMetrics(),
        now: Date.now,
      },
      {
        stage: 'test',
        roundId: 'r',
        tagKey: 'CloudConnexaMonitor',
        defaults: DEFAULTS,
        logDir: '/var/log/cc',
        allowInstall: false,
        commandTimeoutSeconds: 60,
        executionTimeoutSeconds: 300,
      },
    );
    // Assess
    assert.deepEqual(targets, Array(3).fill('AmazonSSM.SendCommand'));
    assert.equal(summary.dispatched, 1);
    assert.equal(summary.failed, 0);
  });

  it('treat InvocationDoesNotExist from the real SDK error parsing as pending', async () => {
    const { transport } = httpAnswers([
      { status: 400, body: { __type: 'InvocationDoesNotExist', message: 'x' } },
    ]);
    const ssmTransport = createSsmTransport(createSsmClient(transport), {
      documentName: 'doc',
      timeoutSeconds: 60,
    });
    assert.equal(await ssmTransport.getInvocation('cmd-1', instanceId(1)), null);
  });

  it('send an SQS message after a throttled answer', async () => {
    const { transport, targets } = httpAnswers(
      [
        { status: 400, body: { __type: 'com.amazonaws.sqs#ThrottlingException', message: 'slow down' } },
        { status: 200, body: { MessageId: 'm-1', MD5OfMessageBody: '900150983cd24fb0d6963f7d28e17f72' } },
      ],
      'application/x-amz-json-1.0',
    );
    const sqs = createSqsClient(transport);
    const answer = await sqs.send(
      new SendMessageCommand({ QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/1/q', MessageBody: 'abc' }),
    );
    assert.equal(answer.MessageId, 'm-1');
    assert.equal(targets.length, 2);
  });

  it('retry PutLogEvents when throttled, which stored nothing', async () => {
    const { transport, targets } = httpAnswers([throttled, { status: 200, body: {} }]);
    const logs = createLogsClient(transport);
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: 'g',
        logStreamName: 's',
        logEvents: [{ timestamp: 1, message: 'm' }],
      }),
    );
    assert.equal(targets.length, 2);
  });

  it('do not retry PutLogEvents after a 5xx, which may have stored the events: the caller decides', async () => {
    const { transport, targets } = httpAnswers([
      { status: 503, body: { __type: 'ServiceUnavailableException', message: 'try later' } },
      { status: 200, body: {} },
    ]);
    const logs = createLogsClient(transport);
    const failure = await logs
      .send(
        new PutLogEventsCommand({
          logGroupName: 'g',
          logStreamName: 's',
          logEvents: [{ timestamp: 1, message: 'm' }],
        }),
      )
      .catch((error: unknown) => error);
    assert.equal((failure as { name?: string }).name, 'ServiceUnavailableException');
    assert.equal(targets.length, 1, 'sent once: a second PutLogEvents could store the events twice');
  });
});

describe('job claims through the production DynamoDB client (retries of conditional writes)', () => {
  const T0 = Date.parse('2026-01-01T12:00:00Z');
  const theJob = { key: 'cmd-1/1', instanceIds: [instanceId(1)] };
  /** A request handler that applies each request to a fake table and answers from a script. */
  function httpTable(loseAnswers: number[]) {
    const table = new FakeTable(CLAIMS_KEY_ATTRIBUTE);
    const targets: string[] = [];
    const requestHandler = {
      async handle(request: { headers: Record<string, string>; body: string }) {
        const target = request.headers['x-amz-target'] ?? '';
        targets.push(target);
        const input = JSON.parse(request.body) as PutItemCommandInput & UpdateItemCommandInput;
        let status = 200;
        let body: unknown;
        try {
          body = target.endsWith('PutItem') ? table.put(input) : table.update(input);
        } catch (error) {
          const e = error as { name: string; message: string; Item?: unknown };
          status = 400;
          body = {
            __type: `com.amazonaws.dynamodb.v20120810#${e.name}`,
            message: e.message,
            ...(e.Item === undefined ? {} : { Item: e.Item }),
          };
        }
        // The request took effect, but its answer is lost: the SDK sees a 500 and retries.
        if (loseAnswers.includes(targets.length)) {
          status = 500;
          body = { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'lost' };
        }
        return {
          response: {
            statusCode: status,
            reason: '',
            headers: { 'content-type': 'application/x-amz-json-1.0' },
            body: Readable.from([Buffer.from(JSON.stringify(body))]),
          },
        };
      },
      updateHttpClientConfig() {},
      httpHandlerConfigs: () => ({}),
    };
    const client = createDynamoDbClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
      requestHandler,
    });
    return { store: createDynamoDbClaimStore(client, 'claims'), targets };
  }

  it('owns a claim whose PutItem answer was lost: the SDK retry fails its condition on our own item', async () => {
    // Prepare: the first PutItem stores the claim, its answer is lost.
    const { store, targets } = httpTable([1]);
    // Act
    const acquired = await acquireJob(store, theJob, T0);
    // Assess
    assert.deepEqual(targets, ['DynamoDB_20120810.PutItem', 'DynamoDB_20120810.PutItem']);
    assert.equal(acquired.kind, 'owner', 'not handed back to wait for its own claim to go stale');
  });

  it('commits once when the UpdateItem answer was lost and the SDK retried it', async () => {
    const { store, targets } = httpTable([2]);
    const owner = await acquireJob(store, theJob, T0);
    assert.ok(owner.kind === 'owner');
    await commitJob(store, theJob, owner, null);
    assert.deepEqual(targets.slice(1), ['DynamoDB_20120810.UpdateItem', 'DynamoDB_20120810.UpdateItem']);
  });
});
