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
import { MonitorError } from '../../common/errors.ts';
import { affectsEveryCall, awsErrorName, oneLine } from '../aws/aws-errors.ts';

export interface LogEvent {
  timestamp: number;
  message: string;
}

export interface LogSink {
  /**
   * Writes events to one stream (created on demand), in order. Resolves only
   * when every event was accepted; throws (LogWriteError for CloudWatch) otherwise.
   */
  write(stream: string, events: LogEvent[]): Promise<void>;
}

/**
 * Finds the first line of a stream since a time that contains `marker` (a
 * record id), or null. Used only for hosts whose record may already be there.
 */
export interface RecordLookup {
  findRecord(stream: string, sinceMs: number, marker: string): Promise<string | null>;
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

/** Which events of one PutLogEvents batch CloudWatch refused (its `rejectedLogEventsInfo`). */
export interface RejectedEvents {
  tooOld: number;
  expired: number;
  tooNew: number;
}

/**
 * Indexes of the batch's events that `rejectedLogEventsInfo` reports refused.
 * Events before `tooOldLogEventEndIndex` (exclusive, per the API reference) or
 * `expiredLogEventEndIndex` (undocumented; read the same way) were too old or
 * past the retention, events from `tooNewLogEventStartIndex` (inclusive) on
 * more than 2 h in the future. A batch is sorted by time, so these are its two ends.
 */
export function rejectedIndexes(
  info: {
    tooOldLogEventEndIndex?: number;
    expiredLogEventEndIndex?: number;
    tooNewLogEventStartIndex?: number;
  },
  count: number,
): { indexes: number[]; counts: RejectedEvents } {
  const clamp = (n: number | undefined, fallback: number) =>
    n === undefined || !Number.isInteger(n) ? fallback : Math.max(0, Math.min(count, n));
  const oldEnd = clamp(info.tooOldLogEventEndIndex, 0);
  const expiredEnd = clamp(info.expiredLogEventEndIndex, 0);
  const newStart = clamp(info.tooNewLogEventStartIndex, count);
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) if (i < oldEnd || i < expiredEnd || i >= newStart) indexes.push(i);
  return {
    indexes,
    counts: { tooOld: oldEnd, expired: expiredEnd, tooNew: count - newStart },
  };
}

/**
 * A host's events could not be written. `cause` is the AWS error; `rejected`
 * is set when PutLogEvents accepted the call but refused events even after
 * they were re-stamped with the time of writing.
 */
export class LogWriteError extends MonitorError {
  readonly stream: string;
  readonly operation: 'PutLogEvents' | 'CreateLogStream';
  /** Every further write would fail the same way (no permission, no log group): stop writing. */
  readonly affectsEveryWrite: boolean;
  readonly rejected: RejectedEvents | null;
  constructor(
    message: string,
    details: {
      stream: string;
      operation: 'PutLogEvents' | 'CreateLogStream';
      affectsEveryWrite: boolean;
      rejected?: RejectedEvents;
      cause?: unknown;
    },
  ) {
    super('E_LOG_WRITE', message, 'cause' in details ? { cause: details.cause } : undefined);
    this.stream = details.stream;
    this.operation = details.operation;
    this.affectsEveryWrite = details.affectsEveryWrite;
    this.rejected = details.rejected ?? null;
  }
}

/**
 * CloudWatch Logs adapter: one stream per instance id. PutLogEvents is tried
 * first and the stream created only when it is missing, so the steady state
 * costs one call per host-round instead of two.
 *
 * A write either lands whole or throws LogWriteError: events that PutLogEvents
 * accepts the call for but refuses (`rejectedLogEventsInfo`: too old, past the
 * retention, too far in the future) are re-stamped with the time of writing,
 * which is all their timestamp means here (every record carries its own round
 * and measurement times), and sent once more; if they are refused again the
 * write fails instead of being counted as written.
 */
export function createCloudWatchLogSink(
  client: CloudWatchLogsClient,
  logGroupName: string,
  now: () => number = Date.now,
): LogSink & RecordLookup {
  const fail = (stream: string, operation: 'PutLogEvents' | 'CreateLogStream', error: unknown): never => {
    throw new LogWriteError(`${operation} to ${logGroupName}/${stream} failed: ${oneLine(error)}`, {
      stream,
      operation,
      affectsEveryWrite: affectsEveryCall(error),
      cause: error,
    });
  };

  const createStream = async (stream: string): Promise<void> => {
    try {
      await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName: stream }));
    } catch (error) {
      if (awsErrorName(error) === 'ResourceAlreadyExistsException') return;
      // CreateLogStream answers ResourceNotFoundException only when the log group is missing.
      if (awsErrorName(error) === 'ResourceNotFoundException') {
        throw new LogWriteError(`log group ${logGroupName} does not exist: ${oneLine(error)}`, {
          stream,
          operation: 'CreateLogStream',
          affectsEveryWrite: true,
          cause: error,
        });
      }
      fail(stream, 'CreateLogStream', error);
    }
  };

  const putOnce = async (stream: string, batch: LogEvent[]) => {
    try {
      return await client.send(
        new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: batch }),
      );
    } catch (error) {
      if (awsErrorName(error) !== 'ResourceNotFoundException') return fail(stream, 'PutLogEvents', error);
      // The stream is new (or was deleted); a missing log group fails CreateLogStream with a clear error.
      await createStream(stream);
      try {
        return await client.send(
          new PutLogEventsCommand({ logGroupName, logStreamName: stream, logEvents: batch }),
        );
      } catch (retryError) {
        return fail(stream, 'PutLogEvents', retryError);
      }
    }
  };

  const put = async (stream: string, batch: LogEvent[]): Promise<void> => {
    const answer = await putOnce(stream, batch);
    const info = answer.rejectedLogEventsInfo;
    if (info === undefined) return;
    const first = rejectedIndexes(info, batch.length);
    if (first.indexes.length === 0) return;
    const at = now();
    const restamped = first.indexes.map((i, n) => ({ timestamp: at + n, message: batch[i]?.message ?? '' }));
    const again = (await putOnce(stream, restamped)).rejectedLogEventsInfo;
    const second = again === undefined ? null : rejectedIndexes(again, restamped.length);
    if (second === null || second.indexes.length === 0) return;
    throw new LogWriteError(
      `PutLogEvents to ${logGroupName}/${stream} refused ${second.indexes.length} of ${restamped.length} event(s) even after re-stamping them with the time of writing (too old ${second.counts.tooOld}, expired ${second.counts.expired}, too new ${second.counts.tooNew}): is the clock right?`,
      { stream, operation: 'PutLogEvents', affectsEveryWrite: false, rejected: second.counts },
    );
  };

  return {
    async write(stream, events) {
      for (const batch of planBatches(events)) await put(stream, batch);
    },
    async findRecord(stream, sinceMs, marker) {
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
          if (awsErrorName(error) === 'ResourceNotFoundException') return null;
          throw error;
        }
        const found = (answer.events ?? []).find((e) => e.message?.includes(marker) === true);
        if (found?.message !== undefined) return found.message;
        // GetLogEvents returns the same token when the end of the stream is reached.
        if (answer.nextForwardToken === undefined || answer.nextForwardToken === nextToken) return null;
        nextToken = answer.nextForwardToken;
      }
      return null;
    },
  };
}
