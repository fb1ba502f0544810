/**
 * The collect queue as a JobQueue.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { clampDelay } from '../collect/job.ts';
import type { QueuedJob } from '../collect/records-job.ts';
import type { JobQueue } from '../ports.ts';

export function createSqsJobQueue(sqs: SQSClient, queueUrl: string): JobQueue {
  return {
    async enqueue(job: QueuedJob, delaySeconds: number) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify(job),
          DelaySeconds: clampDelay(delaySeconds),
        }),
      );
    },
  };
}
