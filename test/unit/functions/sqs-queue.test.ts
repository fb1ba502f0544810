import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createSqsClient } from '../../../functions/aws/clients.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import { instanceId } from './fixtures.ts';

const sqsMock = mockClient(SQSClient);
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect';
const job: CollectJob = {
  v: 1,
  commandId: 'cmd-1',
  roundId: 'r',
  instanceIds: [instanceId(1)],
  dispatchedAt: 0,
  deadline: 1,
  attempt: 1,
  settings: {},
};
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

describe('createSqsJobQueue', () => {
  beforeEach(() => sqsMock.reset());

  it('sends the job as JSON with its delay clamped to what SQS allows', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    await createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), QUEUE).enqueue(job, 5000);
    const input = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    assert.equal(input?.QueueUrl, QUEUE);
    assert.equal(input?.DelaySeconds, 900);
    assert.deepEqual(JSON.parse(input?.MessageBody ?? ''), job);
  });

  it('tries a message SQS refused past the SDK retries again after 200 and 400 ms', async () => {
    sqsMock
      .on(SendMessageCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(throttled())
      .resolves({ MessageId: 'm' });
    const sleeps: number[] = [];
    const queue = createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), QUEUE, {
      sleep: async (ms) => void sleeps.push(ms),
    });
    await queue.enqueue(job, 30);
    assert.equal(sqsMock.commandCalls(SendMessageCommand).length, 3);
    assert.deepEqual(sleeps, [200, 400]);
  });

  it('gives up after 3 tries with the last SQS error', async () => {
    sqsMock.on(SendMessageCommand).rejects(throttled());
    const queue = createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), QUEUE, {
      sleep: async () => {},
    });
    await assert.rejects(queue.enqueue(job, 30), /Rate exceeded/);
    assert.equal(sqsMock.commandCalls(SendMessageCommand).length, 3);
  });
});
