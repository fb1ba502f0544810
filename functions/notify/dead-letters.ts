/**
 * What the collection dead-letter queue holds, for the dead-letter alarm: a
 * job there carries its round, its hosts and the last error
 * (functions/collect/job.ts, records-job.ts). The notifier looks without
 * taking: ReceiveMessage with VisibilityTimeout 0 leaves every message visible
 * where it was (only its receive count grows; the dead-letter queue has no
 * redrive of its own), so a later redrive finds them all. The queue is the
 * one the alarm watches: its name is the alarm's QueueName dimension, in the
 * event; GetQueueUrl turns it into the URL.
 */
import { GetQueueUrlCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { NOTIFY_LIMITS } from './limits.ts';

export interface DeadLetterNote {
  kind: 'collect' | 'records' | 'unknown';
  roundId: string | null;
  commandId: string | null;
  instanceIds: string[];
  failures: number | null;
  lastError: string | null;
}

export interface DeadLetterPeek {
  peek(queueName: string, signal: AbortSignal): Promise<DeadLetterNote[]>;
}

/** SQS queue names: 1-80 letters, digits, hyphens and underscores (`.fifo` for FIFO queues). */
export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}(\.fifo)?$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, max: number): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
const INSTANCE_ID = /^(i|mi)-[0-9a-f]{8,17}$/;

/** One message body as a note; anything unreadable is an `unknown` note with nothing taken from it. */
export function readDeadLetter(body: string | undefined): DeadLetterNote {
  const unknown: DeadLetterNote = {
    kind: 'unknown',
    roundId: null,
    commandId: null,
    instanceIds: [],
    failures: null,
    lastError: null,
  };
  let value: unknown;
  try {
    value = JSON.parse(body ?? '');
  } catch {
    return unknown;
  }
  if (!isObject(value)) return unknown;
  const records = Array.isArray(value.records) ? value.records : null;
  const ids = (records === null ? (Array.isArray(value.instanceIds) ? value.instanceIds : []) : records)
    .map((r: unknown) => (isObject(r) ? r.instanceId : r))
    .filter((id: unknown): id is string => typeof id === 'string' && INSTANCE_ID.test(id));
  const failures = value.failures;
  return {
    kind: value.kind === 'records' ? 'records' : typeof value.commandId === 'string' ? 'collect' : 'unknown',
    roundId: str(value.roundId, 64),
    commandId: str(value.commandId, 64),
    instanceIds: [...new Set(ids)].slice(0, 50),
    failures: typeof failures === 'number' && Number.isInteger(failures) ? failures : null,
    lastError: str(value.lastError, 1_000),
  };
}

export function createDeadLetterPeek(client: SQSClient): DeadLetterPeek {
  return {
    async peek(queueName, signal) {
      if (!QUEUE_NAME.test(queueName)) throw new RangeError('not an SQS queue name');
      const url = await client.send(new GetQueueUrlCommand({ QueueName: queueName }), {
        abortSignal: signal,
      });
      if (url.QueueUrl === undefined) return [];
      const answer = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url.QueueUrl,
          MaxNumberOfMessages: NOTIFY_LIMITS.deadLetters,
          VisibilityTimeout: 0,
          WaitTimeSeconds: 0,
        }),
        { abortSignal: signal },
      );
      return (answer.Messages ?? []).map((m) => readDeadLetter(m.Body));
    },
  };
}
