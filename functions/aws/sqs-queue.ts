/**
 * The collect queue as a JobQueue.
 *
 * A SendMessage that fails past the SDK's own retries is tried again a few
 * times: losing a collect job loses its hosts' records, while a message sent
 * twice (its first try stored after all) is harmless, because every copy of a
 * job is claimed by one owner (functions/collect/job-claims.ts).
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { clampDelay } from '../collect/job.ts';
import type { QueuedJob } from '../collect/records-job.ts';
import type { JobQueue } from '../ports.ts';

export interface SqsJobQueueOptions {
  /** Tries per message (default 3). */
  attempts?: number;
  /** Wait before the second try (default 200 ms), doubling for each further one. */
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export function createSqsJobQueue(
  sqs: SQSClient,
  queueUrl: string,
  options: SqsJobQueueOptions = {},
): JobQueue {
  const attempts = Math.max(1, options.attempts ?? 3);
  const retryDelayMs = options.retryDelayMs ?? 200;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return {
    async enqueue(job: QueuedJob, delaySeconds: number) {
      const command = new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(job),
        DelaySeconds: clampDelay(delaySeconds),
      });
      for (let attempt = 1; ; attempt++) {
        try {
          await sqs.send(command);
          return;
        } catch (error) {
          if (attempt >= attempts) throw error;
          await sleep(retryDelayMs * 2 ** (attempt - 1));
        }
      }
    },
  };
}
