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
import { createLogsClient } from '../../../functions/aws/clients.ts';
import {
  createCloudWatchLogSink,
  type LogEvent,
  LogWriteError,
  PUT_LOG_EVENTS_LIMITS,
  planBatches,
  rejectedIndexes,
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
    // 400,003 bytes over parts of at most 262,118 bytes (32 kept for the marker): two parts.
    assert.equal(parts.length, 2);
    for (const part of parts)
      assert.ok(Buffer.byteLength(part, 'utf8') <= PUT_LOG_EVENTS_LIMITS.maxEventBytes);
    assert.match(parts[0] ?? '', /^\[part 1\/2\] ä/);
    assert.match(parts[1] ?? '', /^\[part 2\/2\] ä+end$/);
    assert.equal(parts.map((p) => p.replace(/^\[part \d+\/\d+\] /, '')).join(''), message);
  });
});

describe('rejectedIndexes', () => {
  it('reads too old and expired as exclusive ends and too new as an inclusive start', () => {
    assert.deepEqual(rejectedIndexes({ tooOldLogEventEndIndex: 2 }, 5).indexes, [0, 1]);
    assert.deepEqual(rejectedIndexes({ expiredLogEventEndIndex: 1 }, 5).indexes, [0]);
    assert.deepEqual(rejectedIndexes({ tooNewLogEventStartIndex: 3 }, 5).indexes, [3, 4]);
    assert.deepEqual(rejectedIndexes({ tooOldLogEventEndIndex: 1, tooNewLogEventStartIndex: 4 }, 5), {
      indexes: [0, 4],
      counts: { tooOld: 1, expired: 0, tooNew: 1 },
    });
    assert.deepEqual(rejectedIndexes({}, 3).indexes, []);
    assert.deepEqual(
      rejectedIndexes({ tooOldLogEventEndIndex: 99 }, 2).indexes,
      [0, 1],
      'clamped to the batch',
    );
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
      createLogsClient({ region: 'eu-west-1' }),
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

  it('re-stamps events PutLogEvents refused as too old and sends them again, so the write lands whole', async () => {
    // Prepare: the whole batch is refused once (e.g. written long after it was built).
    logsMock
      .on(PutLogEventsCommand)
      .resolvesOnce({ rejectedLogEventsInfo: { tooOldLogEventEndIndex: 3 } })
      .resolves({});
    const writeTime = T0 + 20 * 86_400_000;
    const sink = createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'g', () => writeTime);
    const events = ['seed', 'mtr', 'result'].map((message, i) => ({ timestamp: T0 + i, message }));
    // Act
    await sink.write('i-1', events);
    // Assess
    const puts = logsMock.commandCalls(PutLogEventsCommand);
    assert.equal(puts.length, 2);
    assert.deepEqual(puts[1]?.args[0].input.logEvents, [
      { timestamp: writeTime, message: 'seed' },
      { timestamp: writeTime + 1, message: 'mtr' },
      { timestamp: writeTime + 2, message: 'result' },
    ]);
  });

  it('sends again only the refused events (too new from an index on)', async () => {
    logsMock
      .on(PutLogEventsCommand)
      .resolvesOnce({ rejectedLogEventsInfo: { tooNewLogEventStartIndex: 2 } })
      .resolves({});
    const sink = createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'g', () => T0);
    await sink.write(
      'i-1',
      ['a', 'b', 'c'].map((message, i) => ({ timestamp: T0 + i, message })),
    );
    const again = logsMock.commandCalls(PutLogEventsCommand)[1]?.args[0].input.logEvents;
    assert.deepEqual(
      again?.map((e) => e.message),
      ['c'],
    );
  });

  it('fails the write, naming the refused counts, when events are refused again after re-stamping', async () => {
    // Prepare
    logsMock.on(PutLogEventsCommand).resolves({ rejectedLogEventsInfo: { expiredLogEventEndIndex: 2 } });
    const sink = createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'g', () => T0);
    // Act
    const failure = await sink
      .write('i-1', [
        { timestamp: T0, message: 'a' },
        { timestamp: T0 + 1, message: 'b' },
      ])
      .then(
        () => null,
        (error: unknown) => error,
      );
    // Assess
    assert.ok(failure instanceof LogWriteError);
    assert.equal(failure.code, 'E_LOG_WRITE');
    assert.deepEqual(failure.rejected, { tooOld: 0, expired: 2, tooNew: 0 });
    assert.equal(failure.affectsEveryWrite, false);
    assert.match(failure.message, /refused 2 of 2 event\(s\) even after re-stamping/);
  });

  it('reports a missing log group as a write error that stops every further write, with the AWS error as cause', async () => {
    const notFound = new ResourceNotFoundException({
      message: 'The specified log group does not exist.',
      $metadata: {},
    });
    logsMock.on(PutLogEventsCommand).rejects(notFound);
    logsMock.on(CreateLogStreamCommand).rejects(notFound);
    const sink = createCloudWatchLogSink(
      createLogsClient({ region: 'eu-west-1' }),
      'CloudConnexa-Monitor-Logs',
    );
    const failure = await sink.write('i-1', [{ timestamp: T0, message: 'a' }]).then(
      () => null,
      (error: unknown) => error,
    );
    assert.ok(failure instanceof LogWriteError);
    assert.equal(failure.affectsEveryWrite, true);
    assert.equal(failure.operation, 'CreateLogStream');
    assert.equal(failure.cause, notFound);
    assert.match(failure.message, /log group CloudConnexa-Monitor-Logs does not exist/);
  });

  it('marks AccessDenied as affecting every write and keeps throttling as a per-write failure', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: logs:PutLogEvents'), {
      name: 'AccessDeniedException',
    });
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    logsMock.on(PutLogEventsCommand).rejectsOnce(denied).rejectsOnce(throttled);
    const sink = createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'g');
    const first = await sink.write('i-1', [{ timestamp: T0, message: 'a' }]).catch((e: unknown) => e);
    const second = await sink.write('i-1', [{ timestamp: T0, message: 'a' }]).catch((e: unknown) => e);
    assert.ok(first instanceof LogWriteError && second instanceof LogWriteError);
    assert.equal(first.affectsEveryWrite, true);
    assert.match(first.message, /AccessDeniedException: User is not authorized/);
    assert.equal(second.affectsEveryWrite, false);
    assert.equal(second.cause, throttled);
  });

  it('finds an existing record by its marker across GetLogEvents pages', async () => {
    logsMock
      .on(GetLogEventsCommand)
      .resolvesOnce({ events: [{ message: 'other' }], nextForwardToken: 'f1' })
      .resolvesOnce({ events: [{ message: '{"recordId":"cmd/i-1"}' }], nextForwardToken: 'f2' });
    const sink = createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'g');
    assert.equal(await sink.findRecord('i-1', T0, '"recordId":"cmd/i-1"'), '{"recordId":"cmd/i-1"}');
  });

  it('answers no record for a stream that does not exist', async () => {
    logsMock.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'x', $metadata: {} }));
    const sink = createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'g');
    assert.equal(await sink.findRecord('i-1', T0, 'm'), null);
  });
});
