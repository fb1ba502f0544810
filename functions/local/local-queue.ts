/**
 * The collect queue in memory. Jobs go through JSON and parseQueuedJob as an
 * SQS message body would; drain() delivers them like the SQS event source,
 * except that a delay is cut to `pollSeconds` so a local round ends in seconds
 * instead of waiting DelaySeconds. A handler that throws gets the job again
 * (marked redelivered) until maxReceiveCount, then it goes to the dead letters.
 */
import { parseQueuedJob, type QueuedJob } from '../collect/records-job.ts';
import type { JobQueue } from '../ports.ts';

export interface LocalQueueOptions {
  /** The longest a job waits before delivery (default 0.5 s). */
  pollSeconds?: number;
  /** Deliveries before a failing job becomes a dead letter (the stack's redrive policy: 5). */
  maxReceiveCount?: number;
}

export interface DeadLetter {
  body: string;
  receiveCount: number;
  error: string;
}

export interface DrainReport {
  deliveries: number;
  redeliveries: number;
  deadLetters: DeadLetter[];
}

export type JobHandler = (job: QueuedJob, delivery: { redelivered: boolean }) => Promise<void>;

export interface LocalJobQueue extends JobQueue {
  size(): number;
  /** Delivers jobs (and the follow-ups they enqueue) until the queue is empty. */
  drain(handler: JobHandler): Promise<DrainReport>;
}

interface Message {
  body: string;
  dueAt: number;
  receiveCount: number;
  /** Enqueue order, to keep delivery FIFO among jobs due at the same time. */
  seq: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createLocalJobQueue(options: LocalQueueOptions = {}): LocalJobQueue {
  const pollMs = Math.max(0, (options.pollSeconds ?? 0.5) * 1000);
  const maxReceiveCount = Math.max(1, options.maxReceiveCount ?? 5);
  const messages: Message[] = [];
  let seq = 0;

  const push = (body: string, delayMs: number, receiveCount: number): void => {
    messages.push({ body, dueAt: Date.now() + delayMs, receiveCount, seq: seq++ });
  };

  return {
    async enqueue(job, delaySeconds) {
      push(JSON.stringify(job), Math.min(Math.max(0, delaySeconds) * 1000, pollMs), 0);
    },
    size: () => messages.length,
    async drain(handler) {
      const report: DrainReport = { deliveries: 0, redeliveries: 0, deadLetters: [] };
      while (messages.length > 0) {
        messages.sort((a, b) => a.dueAt - b.dueAt || a.seq - b.seq);
        const next = messages.shift();
        if (next === undefined) break;
        const wait = next.dueAt - Date.now();
        if (wait > 0) await sleep(wait);
        const receiveCount = next.receiveCount + 1;
        report.deliveries++;
        if (receiveCount > 1) report.redeliveries++;
        try {
          await handler(parseQueuedJob(next.body), { redelivered: receiveCount > 1 });
        } catch (error) {
          const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          if (receiveCount >= maxReceiveCount) {
            report.deadLetters.push({ body: next.body, receiveCount, error: message });
          } else {
            // The visibility timeout, shortened like the delays.
            messages.push({ body: next.body, dueAt: Date.now() + pollMs, receiveCount, seq: seq++ });
          }
        }
      }
      return report;
    },
  };
}
