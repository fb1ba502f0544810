import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import { type CollectPorts, collectCommand } from '../../../functions/collect/collect-command.ts';
import { collectBatch, JOB_TIME_BUDGET_MS } from '../../../functions/collect/handler.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import { instanceId, MemoryLogSink, RecordingMetrics, resultDocument } from './fixtures.ts';

const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const NOW = Date.parse('2026-01-01T12:01:00Z');
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect';

function job(ids: string[], overrides: Partial<CollectJob> = {}): CollectJob {
  return {
    v: 1,
    commandId: 'cmd-1',
    roundId: 'r-1',
    instanceIds: ids,
    dispatchedAt: NOW - 60_000,
    deadline: NOW + 600_000,
    attempt: 1,
    settings: { Count: '10' },
    ...overrides,
  };
}

function ports(logs = new MemoryLogSink(), metrics = new RecordingMetrics()) {
  const p: CollectPorts = {
    transport: createSsmTransport(new SSMClient({ region: 'eu-west-1' }), {
      documentName: 'doc',
      timeoutSeconds: 60,
    }),
    queue: createSqsJobQueue(new SQSClient({ region: 'eu-west-1' }), QUEUE),
    logs,
    lookup: logs,
    metrics,
    now: () => NOW,
  };
  return { p, logs, metrics };
}

function listing(states: Record<string, [string, string]>) {
  ssmMock.on(ListCommandInvocationsCommand).resolves({
    CommandInvocations: Object.entries(states).map(([id, [Status, StatusDetails]]) => ({
      InstanceId: id,
      Status: Status as 'Success',
      StatusDetails,
    })),
  });
}

function invocation(
  id: string,
  answer: { Status: string; StatusDetails?: string; ResponseCode?: number; stdout?: string; stderr?: string },
) {
  ssmMock.on(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: id }).resolves({
    Status: answer.Status as 'Success',
    StatusDetails: answer.StatusDetails ?? answer.Status,
    ResponseCode: answer.ResponseCode ?? 0,
    StandardOutputContent: answer.stdout ?? '',
    StandardErrorContent: answer.stderr ?? '',
  });
}

function sentJobs(): { job: CollectJob; delay: number | undefined }[] {
  return sqsMock.commandCalls(SendMessageCommand).map((call) => ({
    job: JSON.parse(call.args[0].input.MessageBody ?? '') as CollectJob,
    delay: call.args[0].input.DelaySeconds,
  }));
}

describe('collectCommand', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('writes the seed line in the old key order, the MTR reports and the result record for a flagged host', async () => {
    // Prepare
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, {
      Status: 'Success',
      stdout: `installing...\n${JSON.stringify(resultDocument({}, true))}\n`,
    });
    const { p, logs, metrics } = ports();
    // Act
    const result = await collectCommand(p, job([id]), { redelivered: false });
    // Assess
    const events = logs.streams.get(id) ?? [];
    assert.deepEqual(result.written, [id]);
    assert.equal(events.length, 4);
    assert.ok(
      events[0]?.message.startsWith('{"HOSTNAME":"connector-1","RESOURCE(S)":["10.0.0.1"],"GATEWAY_IP"'),
    );
    assert.match(events[1]?.message ?? '', /MTR-RESOURCE|\|--/);
    assert.match(events[2]?.message ?? '', /203\.0\.113\.5|\|--/);
    const record = JSON.parse(events[3]?.message ?? '{}') as Record<string, unknown>;
    assert.equal(record.record, 'result');
    assert.equal(record.instanceId, id);
    assert.equal(record.commandId, 'cmd-1');
    assert.equal(record.roundId, 'r-1');
    assert.equal(record.status, 'Success');
    assert.equal(metrics.checkedHosts.length, 1);
    assert.equal(metrics.checkedHosts[0]?.flagged, true);
    assert.equal(sentJobs().length, 0, 'nothing left to collect: no follow-up job');
  });

  it('writes no MTR report for a host with nothing flagged', async () => {
    const id = instanceId(2);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs } = ports();
    await collectCommand(p, job([id]), { redelivered: false });
    assert.equal(logs.streams.get(id)?.length, 2);
  });

  it('treats InvocationDoesNotExist and unlisted hosts as pending and re-queues only them', async () => {
    // Prepare
    const [done, notYet, unlisted] = [instanceId(1), instanceId(2), instanceId(3)];
    listing({ [done]: ['Success', 'Success'], [notYet]: ['Success', 'Success'] });
    invocation(done, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    ssmMock
      .on(GetCommandInvocationCommand, { InstanceId: notYet })
      .rejects(new InvocationDoesNotExist({ message: 'no invocation', $metadata: {} }));
    const { p, logs } = ports();
    // Act
    const result = await collectCommand(p, job([done, notYet, unlisted]), { redelivered: false });
    // Assess
    assert.deepEqual(result.written, [done]);
    assert.equal(logs.streams.has(notYet), false);
    const jobs = sentJobs();
    assert.equal(jobs.length, 1);
    assert.deepEqual(jobs[0]?.job.instanceIds, [notYet, unlisted]);
    assert.equal(jobs[0]?.job.attempt, 2);
    assert.ok((jobs[0]?.delay ?? 0) > 0 && (jobs[0]?.delay ?? 0) <= 900);
  });

  it('records an Undeliverable host from the listing when GetCommandInvocation has nothing for it', async () => {
    // Prepare: the plugin never ran, so SSM may keep answering InvocationDoesNotExist.
    const id = instanceId(1);
    listing({ [id]: ['Failed', 'Undeliverable'] });
    ssmMock
      .on(GetCommandInvocationCommand, { InstanceId: id })
      .rejects(new InvocationDoesNotExist({ message: 'no invocation', $metadata: {} }));
    const { p, logs, metrics } = ports();
    // Act
    const result = await collectCommand(p, job([id]), { redelivered: false });
    // Assess
    assert.deepEqual(result.written, [id]);
    assert.equal(result.followUp, null, 'nothing left to wait for');
    const [record] = logs.records(id);
    assert.equal(record?.status, 'Undeliverable');
    assert.equal(metrics.failedHosts.length, 1);
  });

  it('does not call GetCommandInvocation for hosts still InProgress', async () => {
    const id = instanceId(4);
    listing({ [id]: ['InProgress', 'InProgress'] });
    const { p } = ports();
    await collectCommand(p, job([id]), { redelivered: false });
    assert.equal(ssmMock.commandCalls(GetCommandInvocationCommand).length, 0);
    assert.deepEqual(sentJobs()[0]?.job.instanceIds, [id]);
  });

  const terminal: [string, string, number][] = [
    ['Failed', 'Failed', 1],
    ['TimedOut', 'ExecutionTimedOut', -1],
    ['TimedOut', 'DeliveryTimedOut', -1],
    ['TimedOut', 'TimedOut', -1],
    ['Cancelled', 'Cancelled', -1],
    ['Failed', 'Undeliverable', -1],
    ['Failed', 'Terminated', -1],
    ['Failed', 'InvalidPlatform', -1],
    ['Failed', 'AccessDenied', -1],
  ];
  for (const [status, details, code] of terminal) {
    it(`records a ${details} invocation once, as a failure with its status, response code and stderr`, async () => {
      // Prepare
      const id = instanceId(5);
      listing({ [id]: [status, details] });
      invocation(id, {
        Status: status,
        StatusDetails: details,
        ResponseCode: code,
        stderr: `boom ${'e'.repeat(7990)}`,
      });
      const { p, logs, metrics } = ports();
      // Act
      await collectCommand(p, job([id]), { redelivered: false });
      // Assess
      const records = logs.records(id);
      assert.equal(records.length, 1);
      assert.equal(records[0]?.record, 'failure');
      assert.equal(records[0]?.status, details);
      assert.equal(records[0]?.responseCode, code);
      assert.ok(String(records[0]?.stderr).startsWith('boom'));
      assert.ok(String(records[0]?.stderr).length <= 1000);
      assert.deepEqual(metrics.failedHosts, [id]);
      assert.equal(metrics.checkedHosts.length, 0);
      assert.equal(sentJobs().length, 0);
    });
  }

  const badDocuments: [string, string, RegExp][] = [
    ['missing (empty stdout)', '', /stdout is empty/],
    ['truncated at the SSM limit', JSON.stringify(resultDocument()).slice(0, 300), /not valid JSON/],
    ['malformed (not JSON)', 'Segmentation fault\n', /no JSON object/],
    [
      'of another schema major',
      JSON.stringify({ ...resultDocument(), schema: 'cloudconnexa-monitor/result@2' }),
      /not supported/,
    ],
    ['missing a required field', JSON.stringify({ ...resultDocument(), summary: undefined }), /"summary"/],
  ];
  for (const [label, stdout, reason] of badDocuments) {
    it(`records a Success invocation whose result document is ${label} as a failure with the parse error`, async () => {
      const id = instanceId(6);
      listing({ [id]: ['Success', 'Success'] });
      invocation(id, { Status: 'Success', stdout });
      const { p, logs, metrics } = ports();
      await collectCommand(p, job([id]), { redelivered: false });
      const records = logs.records(id);
      assert.equal(records.length, 1);
      assert.equal(records[0]?.record, 'failure');
      assert.equal(records[0]?.status, 'Success');
      assert.match(String((records[0]?.error as { message: string } | undefined)?.message), reason);
      assert.equal((records[0]?.error as { code: string } | undefined)?.code, 'E_RESULT_DOCUMENT');
      assert.deepEqual(metrics.failedHosts, [id]);
    });
  }

  it('records an agent outcome other than completed as a failure carrying the agent error', async () => {
    const id = instanceId(7);
    listing({ [id]: ['Failed', 'Failed'] });
    const doc = resultDocument({
      outcome: 'environment',
      error: { code: 'E_MTR_MISSING', message: 'mtr not found' },
      seed: null,
    });
    invocation(id, { Status: 'Failed', ResponseCode: 3, stdout: JSON.stringify(doc) });
    const { p, logs, metrics } = ports();
    await collectCommand(p, job([id]), { redelivered: false });
    const records = logs.records(id);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0]?.error, { code: 'E_MTR_MISSING', message: 'mtr not found' });
    assert.equal(records[0]?.outcome, 'environment');
    assert.equal(metrics.failedHosts.length, 1);
  });

  it('writes nothing twice when the same job is redelivered after its records were written', async () => {
    // Prepare: the first delivery writes both hosts and then dies sending its follow-up.
    const [a, b, c] = [instanceId(1), instanceId(2), instanceId(3)];
    listing({ [a]: ['Success', 'Success'], [b]: ['Failed', 'Failed'], [c]: ['InProgress', 'InProgress'] });
    invocation(a, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    invocation(b, { Status: 'Failed', ResponseCode: 1, stderr: 'x' });
    sqsMock.on(SendMessageCommand).rejectsOnce(new Error('SQS unavailable')).resolves({ MessageId: 'm' });
    const { p, logs, metrics } = ports();
    const theJob = job([a, b, c]);
    await assert.rejects(collectCommand(p, theJob, { redelivered: false }), /SQS unavailable/);
    const writesAfterFirst = logs.writes;
    // Act: SQS redelivers the same message.
    const result = await collectCommand(p, theJob, { redelivered: true });
    // Assess
    assert.equal(logs.writes, writesAfterFirst);
    assert.deepEqual(result.duplicates.sort(), [a, b].sort());
    assert.equal(logs.records(a).length, 1);
    assert.equal(logs.records(b).length, 1);
    assert.equal(metrics.checkedHosts.length + metrics.failedHosts.length, 2, 'metrics counted once');
    const jobs = sentJobs();
    assert.deepEqual(jobs.at(-1)?.job.instanceIds, [c]);
    assert.equal(jobs.at(-1)?.job.suspect, true, 'the follow-up of a redelivery keeps checking');
  });

  it('skips a host written by a parallel copy of the job chain when the job is suspect', async () => {
    const id = instanceId(8);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs } = ports();
    await collectCommand(p, job([id]), { redelivered: false });
    const result = await collectCommand(p, job([id], { attempt: 2, suspect: true }), { redelivered: false });
    assert.deepEqual(result.duplicates, [id]);
    assert.equal(logs.records(id).length, 1);
  });

  it('records hosts unfinished at the deadline as CollectorDeadline and queues nothing', async () => {
    // Prepare
    const [running, silent] = [instanceId(1), instanceId(2)];
    listing({ [running]: ['InProgress', 'InProgress'] });
    const { p, logs, metrics } = ports();
    // Act
    const result = await collectCommand(p, job([running, silent], { deadline: NOW - 1 }), {
      redelivered: false,
    });
    // Assess
    assert.deepEqual(result.deadline.sort(), [running, silent].sort());
    assert.equal(logs.records(running)[0]?.status, 'CollectorDeadline');
    assert.equal(logs.records(running)[0]?.lastStatus, 'InProgress');
    assert.equal(logs.records(silent)[0]?.lastStatus, 'NotListed');
    assert.equal(metrics.failedHosts.length, 2);
    assert.equal(sentJobs().length, 0);
  });

  it('keeps a host whose log write failed in the follow-up job instead of losing it', async () => {
    const id = instanceId(9);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const logs = new MemoryLogSink();
    logs.failFor.add(id);
    const { p, metrics } = ports(logs);
    await collectCommand(p, job([id]), { redelivered: false });
    assert.deepEqual(sentJobs()[0]?.job.instanceIds, [id]);
    assert.equal(metrics.checkedHosts.length, 0, 'no metric for a host not written');
  });
});

describe('collectBatch', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
  });

  it('reports only the failing message in batchItemFailures and reads ApproximateReceiveCount', async () => {
    // Prepare
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs } = ports();
    await logs.write(id, [
      { timestamp: NOW, message: '{"record":"result","recordId":"cmd-1/i-00000000000000001"}' },
    ]);
    const record = (messageId: string, body: string, receiveCount: string) => ({
      messageId,
      body,
      receiptHandle: 'h',
      attributes: {
        ApproximateReceiveCount: receiveCount,
        SentTimestamp: '0',
        SenderId: 's',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn',
      awsRegion: 'eu-west-1',
    });
    const original = console.error;
    console.error = () => {};
    try {
      // Act
      const response = await collectBatch(
        { Records: [record('good', JSON.stringify(job([id])), '2'), record('bad', '{"v":9}', '1')] },
        p,
      );
      // Assess
      assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'bad' }]);
      assert.equal(logs.records(id).length, 1, 'the redelivered good job found its host already written');
    } finally {
      console.error = original;
    }
  });

  it('returns jobs untouched when too little time is left to finish them, so none is cut off midway', async () => {
    // Prepare
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs } = ports();
    const message = (messageId: string) => ({
      messageId,
      body: JSON.stringify(job([id])),
      receiptHandle: 'h',
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 's',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn',
      awsRegion: 'eu-west-1',
    });
    let remaining = JOB_TIME_BUDGET_MS + 1;
    // Act: the first job runs, then the clock says the function is about to time out.
    const response = await collectBatch({ Records: [message('first'), message('second')] }, p, () => {
      const now = remaining;
      remaining = JOB_TIME_BUDGET_MS - 1;
      return now;
    });
    // Assess
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'second' }]);
    assert.equal(logs.records(id).length, 1, 'only the first job wrote');
    assert.equal(
      ssmMock.commandCalls(ListCommandInvocationsCommand).length,
      1,
      'the second job was not started',
    );
  });
});
