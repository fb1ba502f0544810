/**
 * Where host records go. The port is what dispatch and collection depend on;
 * the CloudWatch adapter below is the Lambda implementation (a local file sink
 * can implement the same port).
 */
import {
  type CloudWatchLogsClient,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  type GetLogEventsCommandOutput,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';

export interface LogEvent {
  timestamp: number;
  message: string;
}

export interface LogSink {
  /** Writes events to one stream (created on demand), in order. */
  write(stream: string, events: LogEvent[]): Promise<void>;
}

/** Finds whether a stream already holds a line containing `marker` since a time. Used only on redelivery. */
export interface RecordLookup {
  hasRecord(stream: string, sinceMs: number, marker: string): Promise<boolean>;
}

/** PutLogEvents limits (CloudWatch Logs API reference). */
export const PUT_LOG_EVENTS_LIMITS = {
  maxBatchBytes: 1_048_576,
  perEventOverheadBytes: 26,
  maxEvents: 10_000,
  /** A batch may not span more than 24 h; kept one second under. */
  maxSpanMs: 24 * 60 * 60 * 1000 - 1000,
  /**
   * Older API docs give 256 KB per event, newer ones 1 MB; the smaller one is
   * kept (minus the 26-byte overhead) so that any region and endpoint accepts it.
   */
  maxEventBytes: 262_144 - 26,
} as const;

const utf8Bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

/**
 * Splits a message over the per-event limit into parts, each prefixed with
 * `[part i/n] ` so a reader can reassemble them. Cuts on code point
 * boundaries so no part carries half a UTF-8 sequence.
 */
export function splitOversizedMessage(message: string, maxBytes: number): string[] {
  if (utf8Bytes(message) <= maxBytes) return [message];
  const markerRoom = 32;
  const budget = maxBytes - markerRoom;
  const parts: string[] = [];
  let current = '';
  let currentBytes = 0;
  for (const char of message) {
    const size = utf8Bytes(char);
    if (currentBytes + size > budget) {
      parts.push(current);
      current = '';
      currentBytes = 0;
    }
    current += char;
    currentBytes += size;
  }
  if (current !== '') parts.push(current);
  return parts.map((part, i) => `[part ${i + 1}/${parts.length}] ${part}`);
}

/**
 * Orders events chronologically (stable for equal timestamps) and cuts them into
 * batches PutLogEvents accepts: bytes, count and time span.
 */
export function planBatches(events: LogEvent[], limits = PUT_LOG_EVENTS_LIMITS): LogEvent[][] {
  const prepared = events
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.timestamp - b.event.timestamp || a.index - b.index)
    .flatMap(({ event }) =>
      splitOversizedMessage(event.message, limits.maxEventBytes).map((message) => ({
        timestamp: event.timestamp,
        message,
      })),
    );
  const batches: LogEvent[][] = [];
  let batch: LogEvent[] = [];
  let bytes = 0;
  for (const event of prepared) {
    const size = utf8Bytes(event.message) + limits.perEventOverheadBytes;
    const first = batch[0];
    const full =
      batch.length >= limits.maxEvents ||
      bytes + size > limits.maxBatchBytes ||
      (first !== undefined && event.timestamp - first.timestamp > limits.maxSpanMs);
    if (full && batch.length > 0) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(event);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string'
    ? error.name
    : undefined;
}

/**
 * CloudWatch Logs adapter: one stream per instance id. PutLogEvents is tried
 * first and the stream created only when it is missing, so the steady state
 * costs one call per host-round instead of two; known streams are cached for
 * the life of the Lambda container.
 */
export function createCloudWatchLogSink(
  client: CloudWatchLogsClient,
  logGroupName: string,
): LogSink & RecordLookup {
  const known = new Set<string>();

  const createStream = async (stream: string): Promise<void> => {
    try {
      await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName: stream }));
    } catch (error) {
      if (errorName(error) !== 'ResourceAlreadyExistsException') throw error;
    }
    known.add(stream);
  };

  const put = async (stream: string, batch: LogEvent[]): Promise<void> => {
    try {
      await client.send(new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: batch }));
      known.add(stream);
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
      // The stream is new (or was deleted); a missing log group fails CreateLogStream with a clear error.
      known.delete(stream);
      await createStream(stream);
      await client.send(new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: batch }));
    }
  };

  return {
    async write(stream, events) {
      for (const batch of planBatches(events)) await put(stream, batch);
    },
    async hasRecord(stream, sinceMs, marker) {
      let nextToken: string | undefined;
      for (let page = 0; page < 20; page++) {
        let answer: GetLogEventsCommandOutput;
        try {
          answer = await client.send(
            new GetLogEventsCommand({
              logGroupName,
              logStreamName: stream,
              startTime: sinceMs,
              startFromHead: true,
              nextToken,
            }),
          );
        } catch (error) {
          if (errorName(error) === 'ResourceNotFoundException') return false;
          throw error;
        }
        if ((answer.events ?? []).some((e) => e.message?.includes(marker) === true)) return true;
        // GetLogEvents returns the same token when the end of the stream is reached.
        if (answer.nextForwardToken === undefined || answer.nextForwardToken === nextToken) return false;
        nextToken = answer.nextForwardToken;
      }
      return false;
    },
  };
}
