import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  createCloudWatchLogSink,
  type LogEvent,
  PUT_LOG_EVENTS_LIMITS,
  planBatches,
  splitOversizedMessage,
} from '../../../functions/logs/log-writer.ts';

const logsMock = mockClient(CloudWatchLogsClient);
const T0 = Date.parse('2026-01-01T00:00:00Z');
const batchBytes = (batch: LogEvent[]) =>
  batch.reduce(
    (n, e) => n + Buffer.byteLength(e.message, 'utf8') + PUT_LOG_EVENTS_LIMITS.perEventOverheadBytes,
    0,
  );

describe('planBatches', () => {
  it('cuts 25,000 small events into batches of at most 10,000', () => {
    const events = Array.from({ length: 25_000 }, (_, i) => ({ timestamp: T0 + i, message: `e${i}` }));
    const batches = planBatches(events);
    assert.deepEqual(
      batches.map((b) => b.length),
      [10_000, 10_000, 5_000],
    );
  });

  it('keeps every batch within 1,048,576 bytes counting UTF-8 bytes and 26 per event', () => {
    // 80,000 three-byte characters are 240,000 bytes: four fit in a batch, five do not.
    const events = Array.from({ length: 12 }, (_, i) => ({ timestamp: T0 + i, message: '€'.repeat(80_000) }));
    const batches = planBatches(events);
    assert.deepEqual(
      batches.map((b) => b.length),
      [4, 4, 4],
    );
    for (const batch of batches) assert.ok(batchBytes(batch) <= PUT_LOG_EVENTS_LIMITS.maxBatchBytes);
    assert.equal(batches.flat().length, 12);
  });

  it('never lets one batch span more than 24 hours', () => {
    const hour = 3_600_000;
    const events = Array.from({ length: 50 }, (_, i) => ({ timestamp: T0 + i * hour, message: 'x' }));
    const batches = planBatches(events);
    for (const batch of batches) {
      const span = (batch.at(-1)?.timestamp ?? 0) - (batch[0]?.timestamp ?? 0);
      assert.ok(span < 24 * hour, `span ${span}`);
    }
    assert.equal(batches.flat().length, 50);
  });

  it('sorts events chronologically and keeps the given order for equal timestamps', () => {
    const batches = planBatches([
      { timestamp: T0 + 5, message: 'c' },
      { timestamp: T0, message: 'a' },
      { timestamp: T0, message: 'b' },
    ]);
    assert.deepEqual(
      batches.flat().map((e) => e.message),
      ['a', 'b', 'c'],
    );
  });

  it('splits an event over the per-event limit into marked parts that reassemble to the original', () => {
    const message = `${'ä'.repeat(200_000)}end`;
    const parts = splitOversizedMessage(message, PUT_LOG_EVENTS_LIMITS.maxEventBytes);
    assert.ok(parts.length >= 2);
    for (const part of parts)
      assert.ok(Buffer.byteLength(part, 'utf8') <= PUT_LOG_EVENTS_LIMITS.maxEventBytes);
    assert.match(parts[0] ?? '', /^\[part 1\/\d+\] /);
    assert.equal(parts.map((p) => p.replace(/^\[part \d+\/\d+\] /, '')).join(''), message);
  });
});

describe('createCloudWatchLogSink', () => {
  beforeEach(() => logsMock.reset());

  it('creates a missing stream once, then writes to it with a single PutLogEvents', async () => {
    // Prepare
    logsMock
      .on(PutLogEventsCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'stream', $metadata: {} }))
      .resolves({});
    logsMock
      .on(CreateLogStreamCommand)
      .rejects(new ResourceAlreadyExistsException({ message: 'x', $metadata: {} }));
    const sink = createCloudWatchLogSink(
      new CloudWatchLogsClient({ region: 'eu-west-1' }),
      'CloudConnexa-Monitor-Logs',
    );
    // Act
    await sink.write('i-1', [{ timestamp: T0, message: 'one' }]);
    await sink.write('i-1', [{ timestamp: T0 + 1, message: 'two' }]);
    // Assess
    assert.equal(logsMock.commandCalls(CreateLogStreamCommand).length, 1);
    const puts = logsMock.commandCalls(PutLogEventsCommand);
    assert.equal(puts.length, 3);
    assert.equal(puts[2]?.args[0].input.logGroupName, 'CloudConnexa-Monitor-Logs');
    assert.equal(puts[2]?.args[0].input.logStreamName, 'i-1');
  });

  it('finds an existing record by its marker across GetLogEvents pages', async () => {
    logsMock
      .on(GetLogEventsCommand)
      .resolvesOnce({ events: [{ message: 'other' }], nextForwardToken: 'f1' })
      .resolvesOnce({ events: [{ message: '{"recordId":"cmd/i-1"}' }], nextForwardToken: 'f2' });
    const sink = createCloudWatchLogSink(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g');
    assert.equal(await sink.hasRecord('i-1', T0, '"recordId":"cmd/i-1"'), true);
  });

  it('answers no record for a stream that does not exist', async () => {
    logsMock.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'x', $metadata: {} }));
    const sink = createCloudWatchLogSink(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g');
    assert.equal(await sink.hasRecord('i-1', T0, 'm'), false);
  });
});
