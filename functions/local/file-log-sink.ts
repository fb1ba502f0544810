/**
 * The central log group as local files: one JSON-lines file per stream
 * (`<dir>/<stream>.log`, each line `{timestamp, message}`). Events go through
 * the CloudWatch adapter's batch planning, so a file holds what PutLogEvents
 * would have received (oversized messages split the same way).
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../common/errors.ts';
import { type LogEvent, type LogSink, planBatches, type RecordLookup } from '../logs/log-writer.ts';

export interface FileLogSink extends LogSink, RecordLookup {
  readonly dir: string;
  streamPath(stream: string): string;
  /** Stream names that have a file, sorted. */
  streams(): string[];
  /** Every event of a stream in file order; empty when the stream does not exist. */
  read(stream: string): LogEvent[];
}

const STREAM_FILE_SUFFIX = '.log';

/**
 * CloudWatch stream names allow more (no `:` or `*`, up to 512 characters); a
 * file name must also stay inside the directory, so the local sink is stricter.
 */
const STREAM_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/;

function checkStream(stream: string): void {
  if (!STREAM_NAME.test(stream)) {
    throw new InvalidInputError(
      'log stream name',
      stream,
      'letters, digits and . _ - (1-255 characters, not starting with a dot)',
    );
  }
}

function parseLine(line: string): LogEvent | null {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value !== 'object' || value === null) return null;
    const timestamp = Reflect.get(value, 'timestamp');
    const message = Reflect.get(value, 'message');
    return typeof timestamp === 'number' && typeof message === 'string' ? { timestamp, message } : null;
  } catch {
    // A line cut by a crash mid-write is skipped, as a reader of a torn file would.
    return null;
  }
}

export function createFileLogSink(dir: string): FileLogSink {
  const streamPath = (stream: string): string => {
    checkStream(stream);
    return join(dir, `${stream}${STREAM_FILE_SUFFIX}`);
  };
  const read = (stream: string): LogEvent[] => {
    const path = streamPath(stream);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(parseLine)
      .filter((event): event is LogEvent => event !== null);
  };

  return {
    dir,
    streamPath,
    read,
    streams() {
      if (!existsSync(dir)) return [];
      return readdirSync(dir)
        .filter((name) => name.endsWith(STREAM_FILE_SUFFIX))
        .map((name) => name.slice(0, -STREAM_FILE_SUFFIX.length))
        .sort();
    },
    async write(stream, events) {
      const path = streamPath(stream);
      mkdirSync(dir, { recursive: true });
      // One append per PutLogEvents batch: a batch lands whole or not at all, like the API call.
      for (const batch of planBatches(events)) {
        appendFileSync(path, batch.map((event) => `${JSON.stringify(event)}\n`).join(''));
      }
    },
    async findRecord(stream, sinceMs, marker) {
      return (
        read(stream).find((event) => event.timestamp >= sinceMs && event.message.includes(marker))?.message ??
        null
      );
    },
  };
}
