import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createSqsClient } from '../../../functions/aws/clients.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { CollectGaveUpError } from '../../../functions/collect/host-writes.ts';
import { createMemoryClaimStore } from '../../../functions/collect/job-claims.ts';
import {
  buildRecordsJobs,
  type HostRecord,
  MAX_RECORDS_JOB_BYTES,
  parseQueuedJob,
  type RecordsJob,
  writeRecordsJob,
} from '../../../functions/collect/records-job.ts';
import { buildDispatchRecord, dispatchRecordId } from '../../../functions/logs/records.ts';
import { instanceId, MemoryLogSink } from './fixtures.ts';

const sqsMock = mockClient(SQSClient);
const T0 = Date.parse('2026-01-01T12:00:00Z');
const ROUND = '20260101T120000Z-abcd1234';

const hostRecord = (n: number, padding = ''): HostRecord => ({
  instanceId: instanceId(n),
  recordId: dispatchRecordId(ROUND, instanceId(n)),
  events: buildDispatchRecord(
    'misconfigured',
    { instanceId: instanceId(n), roundId: ROUND, status: 'Misconfigured', value: padding },
    T0,
  ),
});

function ports(logs = new MemoryLogSink()) {
  return {
    queue: createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), 'https://sqs.example/q'),
    logs,
    lookup: logs,
    claims: createMemoryClaimStore(),
    now: () => T0,
    log: () => {},
  };
}

const queued = () =>
  sqsMock.commandCalls(SendMessageCommand).map((c) => ({
    job: parseQueuedJob(c.args[0].input.MessageBody ?? '') as RecordsJob,
    delay: c.args[0].input.DelaySeconds,
  }));

describe('records jobs', () => {
  beforeEach(() => {
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('cut 120 records into jobs of at most 50 hosts, numbered within the round, that parse back', () => {
    const jobs = buildRecordsJobs(
      ROUND,
      Array.from({ length: 120 }, (_, i) => hostRecord(i + 1)),
    );
    assert.deepEqual(
      jobs.map((j) => [j.id, j.records.length]),
      [
        [`${ROUND}.1`, 50],
        [`${ROUND}.2`, 50],
        [`${ROUND}.3`, 20],
      ],
    );
    for (const job of jobs) assert.deepEqual(parseQueuedJob(JSON.stringify(job)), job);
  });

  it('keep every job under the SQS message size however large the records', () => {
    const jobs = buildRecordsJobs(
      ROUND,
      Array.from({ length: 20 }, (_, i) => hostRecord(i + 1, 'x'.repeat(30_000))),
    );
    assert.ok(jobs.length > 1);
    for (const job of jobs) assert.ok(Buffer.byteLength(JSON.stringify(job)) <= MAX_RECORDS_JOB_BYTES);
    assert.equal(jobs.flatMap((j) => j.records).length, 20);
  });

  it('are refused when malformed, naming what is allowed', () => {
    const [job] = buildRecordsJobs(ROUND, [hostRecord(1)]);
    const bad = [
      { ...job, records: [] },
      { ...job, id: 'a:b' },
      { ...job, records: [{ ...hostRecord(1), instanceId: 'i-x; rm -rf /' }] },
      { ...job, records: [hostRecord(1), hostRecord(1)] },
      { ...job, verify: [instanceId(9)] },
    ];
    for (const body of bad)
      assert.throws(
        () => parseQueuedJob(JSON.stringify(body)),
        /a records job of version 1 with 1 to 50 host records/,
      );
  });

  it('are written once however many copies arrive', async () => {
    const [job] = buildRecordsJobs(ROUND, [hostRecord(1), hostRecord(2)]);
    const p = ports();
    const results = await Promise.all([1, 2, 3].map(() => writeRecordsJob(p, job as RecordsJob)));
    assert.deepEqual(results.map((r) => r.outcome).sort(), ['busy', 'busy', 'collected']);
    assert.equal(p.logs.records(instanceId(1)).length, 1);
    assert.equal(p.logs.records(instanceId(2)).length, 1);
  });

  it('look up a host to verify and write it only when its record is not there', async () => {
    const logs = new MemoryLogSink();
    const [stored] = hostRecord(1).events;
    await logs.write(instanceId(1), [stored as { timestamp: number; message: string }]);
    const [job] = buildRecordsJobs(ROUND, [hostRecord(1), hostRecord(2)]);
    const result = await writeRecordsJob(ports(logs), { ...(job as RecordsJob), verify: [instanceId(1)] });
    assert.deepEqual(result.duplicates, [instanceId(1)]);
    assert.deepEqual(result.written, [instanceId(2)]);
    assert.equal(logs.records(instanceId(1)).length, 1);
  });

  it('re-queue the hosts still failing with a growing delay, and give up after 6 failed attempts', async () => {
    const logs = new MemoryLogSink();
    logs.failFor.add(instanceId(2));
    const [first] = buildRecordsJobs(ROUND, [hostRecord(1), hostRecord(2)]);
    await writeRecordsJob(ports(logs), first as RecordsJob);
    const [next] = queued();
    assert.deepEqual(
      next?.job.records.map((r) => r.instanceId),
      [instanceId(2)],
    );
    assert.equal(next?.job.failures, 1);
    assert.equal(next?.delay, 30);
    assert.match(String(next?.job.lastError), /write to i-00000000000000002 failed/);
    await assert.rejects(
      writeRecordsJob(ports(logs), { ...(next?.job as RecordsJob), failures: 6 }),
      (error: unknown) =>
        error instanceof CollectGaveUpError && /records\/.*\/2 of round/.test(error.message),
    );
  });
});
