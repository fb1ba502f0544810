import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createSqsClient } from '../../../functions/aws/clients.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { parseQueuedJob, type RecordsJob } from '../../../functions/collect/records-job.ts';
import { createDispatchRecordWriter } from '../../../functions/dispatch/dispatch-records.ts';
import { LogWriteError } from '../../../functions/logs/log-writer.ts';
import { buildDispatchRecord } from '../../../functions/logs/records.ts';
import { instanceId, logCapture, MemoryLogSink } from './fixtures.ts';

const sqsMock = mockClient(SQSClient);
const T0 = Date.parse('2026-01-01T12:00:00Z');
const ROUND = '20260101T120000Z-abcd1234';

const record = (n: number) => ({
  stream: instanceId(n),
  events: buildDispatchRecord(
    'blind',
    { instanceId: instanceId(n), roundId: ROUND, status: 'Unreachable', pingStatus: 'ConnectionLost' },
    T0,
  ),
});

/** A sink whose writes fail with the given errors, in turn, per stream. */
class FlakySink extends MemoryLogSink {
  constructor(private readonly failures: Map<string, unknown[]>) {
    super();
  }
  override async write(stream: string, events: { timestamp: number; message: string }[]) {
    const next = this.failures.get(stream)?.shift();
    if (next !== undefined) throw next;
    return super.write(stream, events);
  }
}

const throttled = () =>
  Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' });

function setup(failures = new Map<string, unknown[]>()) {
  const logs = new FlakySink(failures);
  const sleeps: number[] = [];
  const captured = logCapture();
  const writer = createDispatchRecordWriter(
    { logs, queue: createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), 'https://sqs.example/q') },
    { roundId: ROUND, sleep: async (ms) => void sleeps.push(ms), log: captured.log },
  );
  return { logs, writer, sleeps, lines: captured.lines };
}

const handedOver = (): { job: RecordsJob; delay: number | undefined }[] =>
  sqsMock.commandCalls(SendMessageCommand).map((c) => ({
    job: parseQueuedJob(c.args[0].input.MessageBody ?? '') as RecordsJob,
    delay: c.args[0].input.DelaySeconds,
  }));

describe('createDispatchRecordWriter', () => {
  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('writes a record as soon as it is pushed, not when the round ends', async () => {
    const { logs, writer } = setup();
    writer.push(record(1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(logs.records(instanceId(1)).length, 1, 'written before finish()');
    assert.deepEqual(await writer.finish(), { written: 1, handedOver: 0, lost: 0 });
  });

  it('tries a throttled write again after 0.5 s and 1 s, and stores it once', async () => {
    const { logs, writer, sleeps } = setup(new Map([[instanceId(1), [throttled(), throttled()]]]));
    writer.push(record(1));
    assert.deepEqual(await writer.finish(), { written: 1, handedOver: 0, lost: 0 });
    assert.deepEqual(sleeps, [500, 1000]);
    const [stored] = logs.records(instanceId(1));
    assert.equal(stored?.recordId, `dispatch/${ROUND}/${instanceId(1)}`);
    assert.equal(logs.records(instanceId(1)).length, 1);
  });

  it('hands a record still throttled after 3 tries to the collector, with its events and record id', async () => {
    const { writer } = setup(new Map([[instanceId(2), [throttled(), throttled(), throttled()]]]));
    writer.push(record(1));
    writer.push(record(2));
    assert.deepEqual(await writer.finish(), { written: 1, handedOver: 1, lost: 0 });
    const [sent] = handedOver();
    assert.equal(sent?.delay, 30);
    assert.equal(sent?.job.kind, 'records');
    assert.equal(sent?.job.id, `${ROUND}.1`);
    assert.deepEqual(sent?.job.records, [
      { instanceId: instanceId(2), recordId: `dispatch/${ROUND}/${instanceId(2)}`, events: record(2).events },
    ]);
    assert.equal(sent?.job.verify, undefined);
  });

  it('hands over at once, to be looked up first, a record whose write may have been stored (5xx)', async () => {
    const unavailable = Object.assign(new Error('try later'), {
      name: 'ServiceUnavailableException',
      $fault: 'server',
      $metadata: { httpStatusCode: 503 },
    });
    const { writer, sleeps } = setup(new Map([[instanceId(1), [unavailable]]]));
    writer.push(record(1));
    assert.deepEqual(await writer.finish(), { written: 0, handedOver: 1, lost: 0 });
    assert.deepEqual(sleeps, [], 'not written again blind');
    assert.deepEqual(handedOver()[0]?.job.verify, [instanceId(1)]);
  });

  it('stops writing at a missing log group and hands every record over', async () => {
    const gone = new LogWriteError('log group CloudConnexa-Monitor-Logs does not exist', {
      stream: instanceId(1),
      operation: 'CreateLogStream',
      affectsEveryWrite: true,
    });
    const { logs, writer } = setup(new Map([[instanceId(1), [gone]]]));
    const original = logs.write.bind(logs);
    let calls = 0;
    logs.write = async (stream, events) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return original(stream, events);
    };
    for (let n = 1; n <= 20; n++) writer.push(record(n));
    const outcome = await writer.finish();
    assert.equal(outcome.written + outcome.handedOver, 20);
    assert.ok(calls <= 8, `${calls} writes tried: the ones in flight when the first failed, no more`);
    assert.equal(outcome.lost, 0);
  });

  it('counts and logs, with their hosts, records that could be neither written nor handed over', async () => {
    sqsMock.on(SendMessageCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const { writer, lines } = setup(new Map([[instanceId(3), [throttled(), throttled(), throttled()]]]));
    writer.push(record(3));
    assert.deepEqual(await writer.finish(), { written: 0, handedOver: 0, lost: 1 });
    const summary = lines.find((l) => String(l.message).startsWith('dispatch records:'));
    assert.equal(summary?.level, 'error');
    assert.deepEqual(summary?.lostInstanceIds, [instanceId(3)]);
    // The error tally names the function whose calls failed: dispatch, not the collector.
    const failures = lines.filter((l) => l.level === 'error' && String(l.message).includes(' failed for '));
    assert.deepEqual(failures.map((l) => l.message).sort(), [
      'dispatch: PutLogEvents failed for 3 call(s)',
      'dispatch: SendMessage failed for 1 call(s)',
    ]);
  });

  it('refuses a record pushed after finish(), which it could neither wait for nor hand over', async () => {
    const { writer } = setup();
    await writer.finish();
    assert.throws(
      () => writer.push(record(1)),
      /dispatch record for i-\w+ pushed after finish\(\): it would be lost/,
    );
  });
});
