import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  GetCommandInvocationCommand,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createLogsClient, createSqsClient, createSsmClient } from '../../../functions/aws/clients.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import { type CollectPorts, collectCommand } from '../../../functions/collect/collect-command.ts';
import { collectBatch, JOB_TIME_BUDGET_MS } from '../../../functions/collect/handler.ts';
import { CollectGaveUpError } from '../../../functions/collect/host-writes.ts';
import { type CollectJob, MAX_FAILED_ATTEMPTS, parseCollectJob } from '../../../functions/collect/job.ts';
import { CLAIM_STALE_MS, createMemoryClaimStore } from '../../../functions/collect/job-claims.ts';
import { createCloudWatchLogSink, type LogSink } from '../../../functions/logs/log-writer.ts';
import {
  instanceId,
  logCapture,
  MemoryLogSink,
  RecordingMetrics,
  resultDocument,
  sqsRecord,
} from './fixtures.ts';

const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const logsMock = mockClient(CloudWatchLogsClient);
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

interface Setup {
  logs?: LogSink & { findRecord: MemoryLogSink['findRecord'] };
  now?: () => number;
}

function ports(setup: Setup = {}) {
  const memory = new MemoryLogSink();
  const logs = setup.logs ?? memory;
  const metrics = new RecordingMetrics();
  const now = setup.now ?? (() => NOW);
  const claims = createMemoryClaimStore();
  const captured = logCapture();
  const p: CollectPorts = {
    transport: createSsmTransport(createSsmClient({ region: 'eu-west-1' }), {
      documentName: 'doc',
      timeoutSeconds: 60,
    }),
    queue: createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), QUEUE),
    logs,
    lookup: logs,
    claims,
    metrics,
    now,
    log: captured.log,
  };
  return { p, logs: memory, metrics, claims, lines: captured.lines };
}

/** The real CloudWatch adapter over the mocked SDK, for tests of what PutLogEvents answers. */
function cloudWatchSink(now: () => number = () => NOW) {
  return createCloudWatchLogSink(createLogsClient({ region: 'eu-west-1' }), 'CloudConnexa-Monitor-Logs', now);
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
    job: parseCollectJob(call.args[0].input.MessageBody ?? ''),
    delay: call.args[0].input.DelaySeconds,
  }));
}

/** A result record as the collector writes it (the result document after its own keys). */
const resultRecordLine = (id: string, flagged = false) =>
  JSON.stringify({
    record: 'result',
    ...resultDocument({}, flagged),
    recordId: `cmd-1/${id}`,
    instanceId: id,
    commandId: 'cmd-1',
    roundId: 'r-1',
    status: 'Success',
  });

const awsError = (name: string, message: string, httpStatusCode: number) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode, requestId: 'req-1' } });

describe('collectCommand', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    logsMock.reset();
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
    const result = await collectCommand(p, job([id]));
    // Assess
    const events = logs.streams.get(id) ?? [];
    assert.deepEqual(result.written, [id]);
    assert.equal(events.length, 4);
    assert.ok(
      events[0]?.message.startsWith('{"HOSTNAME":"connector-1","RESOURCE(S)":["10.0.0.1"],"GATEWAY_IP"'),
    );
    // The old tool's MTR file layout (mtr -r -o AL: host to column 33, Avg and Loss% 6 wide).
    assert.equal(
      events[1]?.message,
      'RESOURCE MTR: 20260101120000 (Hop, Avg, Loss%)\n' +
        '  1.|-- 10.81.0.1                   1.2  0.0%\n' +
        '  2.|-- 10.0.0.1                  120.0 30.0%\n',
    );
    assert.equal(
      events[2]?.message,
      'GATEWAY MTR: 20260101120000 (Hop, Avg, Loss%)\n' +
        '  1.|-- 10.81.0.1                   1.2  0.0%\n' +
        '  2.|-- 10.0.0.1                  120.0 30.0%\n',
    );
    const record = JSON.parse(events[3]?.message ?? '{}') as Record<string, unknown>;
    assert.equal(record.record, 'result');
    assert.equal(record.instanceId, id);
    assert.equal(record.commandId, 'cmd-1');
    assert.equal(record.roundId, 'r-1');
    assert.equal(record.status, 'Success');
    assert.equal(record.recordId, `cmd-1/${id}`);
    assert.equal(metrics.checkedHosts.length, 1);
    assert.equal(metrics.checkedHosts[0]?.flagged, true);
    assert.equal(sentJobs().length, 0, 'nothing left to collect: no follow-up job');
  });

  it('writes no MTR report for a host with nothing flagged', async () => {
    const id = instanceId(2);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs } = ports();
    await collectCommand(p, job([id]));
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
    const result = await collectCommand(p, job([done, notYet, unlisted]));
    // Assess
    assert.deepEqual(result.written, [done]);
    assert.equal(logs.streams.has(notYet), false);
    const jobs = sentJobs();
    assert.equal(jobs.length, 1);
    assert.deepEqual(jobs[0]?.job.instanceIds, [notYet, unlisted]);
    assert.equal(jobs[0]?.job.attempt, 2);
    assert.equal(jobs[0]?.job.failures, undefined, 'hosts still running are no failure');
    assert.equal(jobs[0]?.delay, 15, 'the first follow-up looks again after 15 s');
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
    const result = await collectCommand(p, job([id]));
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
    await collectCommand(p, job([id]));
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
      await collectCommand(p, job([id]));
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
      await collectCommand(p, job([id]));
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
    await collectCommand(p, job([id]));
    const records = logs.records(id);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0]?.error, { code: 'E_MTR_MISSING', message: 'mtr not found' });
    assert.equal(records[0]?.outcome, 'environment');
    assert.equal(metrics.failedHosts.length, 1);
  });

  it('keeps the measurements and flags of a host that measured but could not write its files, with the file error', async () => {
    // Prepare: a full disk; the agent exits 3 (SSM: Failed) after measuring a flagged path.
    const id = instanceId(7);
    listing({ [id]: ['Failed', 'Failed'] });
    const fileError = {
      code: 'E_LOG_DIR' as const,
      message:
        'the report or MTR files in /home/ubuntu/Connexa-Logs cannot be written (ENOSPC: no space left on device)',
    };
    const doc = resultDocument({ outcome: 'environment', error: fileError, files: [] }, true);
    invocation(id, { Status: 'Failed', ResponseCode: 3, stdout: JSON.stringify(doc) });
    const { p, logs, metrics } = ports();
    // Act
    await collectCommand(p, job([id]));
    // Assess
    const events = logs.streams.get(id) ?? [];
    assert.equal(
      JSON.parse(events[0]?.message ?? '{}').LATENCY_FLAG,
      '1',
      'the old seed line: the legacy filter fires',
    );
    const [record] = logs.records(id);
    assert.equal(record?.record, 'result');
    assert.equal(record?.outcome, 'environment');
    assert.deepEqual(record?.error, fileError);
    assert.equal((record?.summary as { worstLatencyMs: number } | undefined)?.worstLatencyMs, 120);
    assert.equal((record?.resources as { latencyFlag: boolean }[] | undefined)?.[0]?.latencyFlag, true);
    assert.equal(metrics.checkedHosts.length, 1, 'counted as checked (measured), not failed');
    assert.equal(metrics.checkedHosts[0]?.flagged, true);
    assert.equal(metrics.checkedHosts[0]?.worstLossPct, 30);
    assert.equal(metrics.failedHosts.length, 0);
  });

  it('records hosts unfinished at the deadline as CollectorDeadline and queues nothing', async () => {
    // Prepare
    const [running, silent] = [instanceId(1), instanceId(2)];
    listing({ [running]: ['InProgress', 'InProgress'] });
    const { p, logs, metrics } = ports();
    // Act
    const result = await collectCommand(p, job([running, silent], { deadline: NOW - 1 }));
    // Assess
    assert.deepEqual(result.deadline.sort(), [running, silent].sort());
    assert.equal(logs.records(running)[0]?.status, 'CollectorDeadline');
    assert.equal(logs.records(running)[0]?.lastStatus, 'InProgress');
    assert.equal(logs.records(silent)[0]?.lastStatus, 'NotListed');
    assert.equal(metrics.failedHosts.length, 2);
    assert.equal(sentJobs().length, 0);
  });

  it('keeps a host whose log write failed in the follow-up job instead of losing it, and backs off', async () => {
    const id = instanceId(9);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const logs = new MemoryLogSink();
    logs.failFor.add(id);
    const { p, metrics } = ports({ logs });
    await collectCommand(p, job([id]));
    const [next] = sentJobs();
    assert.deepEqual(next?.job.instanceIds, [id]);
    assert.equal(next?.job.failures, 1);
    assert.equal(next?.delay, 30);
    assert.equal(next?.job.lastError, `PutLogEvents Error: write to ${id} failed`);
    assert.equal(metrics.checkedHosts.length, 0, 'no metric for a host not written');
  });

  it('logs a swallowed GetCommandInvocation AccessDenied at once, with its cause, and puts it in the deadline record', async () => {
    // Prepare: a permanent permission problem; the job is at its deadline.
    const [a, b] = [instanceId(1), instanceId(2)];
    listing({ [a]: ['Success', 'Success'], [b]: ['Success', 'Success'] });
    ssmMock
      .on(GetCommandInvocationCommand)
      .rejects(
        awsError(
          'AccessDeniedException',
          'User: arn:aws:sts::1:assumed-role/collect is not authorized to perform: ssm:GetCommandInvocation',
          400,
        ),
      );
    const { p, logs, lines } = ports();
    // Act
    await collectCommand(p, job([a, b], { deadline: NOW - 1 }));
    // Assess
    const line = lines.find((l) => String(l.message).includes('GetCommandInvocation'));
    assert.equal(line?.level, 'error');
    assert.equal(line?.count, 2);
    assert.deepEqual(line?.instanceIds, [a, b]);
    assert.deepEqual(line?.error, {
      name: 'AccessDeniedException',
      message:
        'User: arn:aws:sts::1:assumed-role/collect is not authorized to perform: ssm:GetCommandInvocation',
      httpStatusCode: 400,
      requestId: 'req-1',
    });
    const record = logs.records(a)[0];
    assert.equal(record?.status, 'CollectorDeadline');
    assert.match(
      String(record?.lastError),
      /^GetCommandInvocation AccessDeniedException: User: .* not authorized/,
    );
  });

  it('logs a swallowed PutLogEvents failure with the AWS error, not only the host', async () => {
    const id = instanceId(3);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    logsMock.on(PutLogEventsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));
    const { p, lines } = ports({ logs: cloudWatchSink() });
    await collectCommand(p, job([id]));
    const line = lines.find((l) => String(l.message).includes('PutLogEvents'));
    assert.equal(line?.level, 'error');
    assert.equal((line?.error as { name: string } | undefined)?.name, 'ThrottlingException');
    assert.deepEqual(line?.instanceIds, [id]);
  });
});

describe('collectCommand: exactly one record per host, whatever SQS delivers', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    logsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  const fiveHosts = () => {
    const ids = [1, 2, 3, 4, 5].map(instanceId);
    listing(Object.fromEntries(ids.map((id) => [id, ['Success', 'Success'] as [string, string]])));
    for (const id of ids) invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    return ids;
  };

  it('writes each host once when SQS hands the same job to two collectors at once, both with receive count 1', async () => {
    // Prepare
    const ids = fiveHosts();
    const { p, logs, metrics } = ports();
    // Act: two copies of one SendMessage, processed concurrently.
    const [first, second] = await Promise.all([collectCommand(p, job(ids)), collectCommand(p, job(ids))]);
    // Assess
    for (const id of ids) assert.equal(logs.records(id).length, 1, id);
    assert.deepEqual([first.outcome, second.outcome].sort(), ['busy', 'collected']);
    assert.equal(metrics.checkedHosts.length, 5, 'HostsChecked counts 5, not 10');
  });

  it('writes nothing when a copy arrives after another finished the job, and counts nothing twice', async () => {
    const ids = fiveHosts();
    const { p, logs, metrics } = ports();
    await collectCommand(p, job(ids));
    const writes = logs.writes;
    const late = await collectCommand(p, job(ids));
    assert.equal(late.outcome, 'duplicate');
    assert.equal(logs.writes, writes);
    assert.equal(metrics.checkedHosts.length, 5);
    assert.equal(ssmMock.commandCalls(ListCommandInvocationsCommand).length, 1, 'the copy asked SSM nothing');
  });

  it('re-sends the follow-up when the owner committed but died before enqueueing it, and only then', async () => {
    // Prepare: the first delivery writes two hosts, commits, then SQS refuses its follow-up.
    const [a, b, c] = [instanceId(1), instanceId(2), instanceId(3)];
    listing({ [a]: ['Success', 'Success'], [b]: ['Failed', 'Failed'], [c]: ['InProgress', 'InProgress'] });
    invocation(a, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    invocation(b, { Status: 'Failed', ResponseCode: 1, stderr: 'x' });
    // Refused past the SDK's retries and the queue adapter's three tries.
    sqsMock
      .on(SendMessageCommand)
      .rejectsOnce(new Error('SQS unavailable'))
      .rejectsOnce(new Error('SQS unavailable'))
      .rejectsOnce(new Error('SQS unavailable'))
      .resolves({ MessageId: 'm' });
    const { p, logs, metrics } = ports();
    const theJob = job([a, b, c]);
    await assert.rejects(collectCommand(p, theJob), /SQS unavailable/);
    const writesAfterFirst = logs.writes;
    // Act: SQS delivers the message again.
    const again = await collectCommand(p, theJob);
    // Assess
    assert.equal(again.outcome, 'duplicate');
    assert.equal(again.resentFollowUp, true);
    assert.equal(logs.writes, writesAfterFirst);
    assert.equal(logs.records(a).length, 1);
    assert.equal(logs.records(b).length, 1);
    assert.equal(metrics.checkedHosts.length + metrics.failedHosts.length, 2, 'metrics counted once');
    const jobs = sentJobs();
    assert.deepEqual(jobs.at(-1)?.job.instanceIds, [c]);
    assert.equal(jobs.at(-1)?.job.attempt, 2);
    // Once a copy of the follow-up has been claimed, a third copy of the job re-sends nothing.
    await collectCommand(p, jobs.at(-1)?.job as CollectJob);
    const sent = sentJobs().length;
    assert.equal((await collectCommand(p, theJob)).resentFollowUp, false);
    assert.equal(sentJobs().length, sent);
  });

  it('hands a copy back while another holds a live claim, and takes over a stale one, looking hosts up first', async () => {
    // Prepare: an owner claimed the job, wrote host a, and died (Lambda timeout).
    const ids = fiveHosts();
    let clock = NOW;
    const { p, logs, claims, metrics } = ports({ now: () => clock });
    await claims.create('collect/cmd-1/1', { owner: 'a collector that died', claimedAt: NOW });
    await logs.write(ids[0] as string, [
      { timestamp: NOW, message: resultRecordLine(ids[0] as string, true) },
    ]);
    // Act 1: a copy arrives while the claim is fresh.
    const early = await collectCommand(p, job(ids));
    // Act 2: the same copy comes back after the SQS visibility timeout.
    clock = NOW + CLAIM_STALE_MS + 1;
    const late = await collectCommand(p, job(ids));
    // Assess
    assert.equal(early.outcome, 'busy');
    assert.equal(
      ssmMock.commandCalls(ListCommandInvocationsCommand).length,
      1,
      'the busy copy asked SSM nothing',
    );
    assert.equal(late.outcome, 'collected');
    assert.deepEqual(late.duplicates, [ids[0]]);
    assert.deepEqual(late.written, ids.slice(1));
    for (const id of ids) assert.equal(logs.records(id).length, 1, id);
    assert.equal(claims.records.get('collect/cmd-1/1')?.generation, 2, 'taken over as generation 2');
    assert.equal(
      metrics.checkedHosts.length,
      5,
      'the host the dead owner wrote but never counted is counted once',
    );
  });

  it('keeps a host to verify when the look-up of a take-over fails, so its follow-up never writes it blind', async () => {
    // Prepare: an owner wrote host a and died; GetLogEvents is throttled for the take-over.
    const [a] = fiveHosts();
    let clock = NOW;
    const { p, logs, claims } = ports({ now: () => clock });
    await claims.create('collect/cmd-1/1', { owner: 'a collector that died', claimedAt: NOW });
    await logs.write(a as string, [{ timestamp: NOW, message: resultRecordLine(a as string) }]);
    const lookup = logs.findRecord.bind(logs);
    let throttled = true;
    p.lookup = {
      findRecord: async (...args) => {
        if (throttled) throw awsError('ThrottlingException', 'Rate exceeded', 400);
        return lookup(...args);
      },
    };
    clock = NOW + CLAIM_STALE_MS + 1;
    // Act: the take-over, then its follow-up once GetLogEvents answers again.
    await collectCommand(p, job([a as string]));
    const [next] = sentJobs();
    throttled = false;
    const followUp = await collectCommand(p, next?.job as CollectJob);
    // Assess
    assert.deepEqual(next?.job.verify, [a]);
    assert.deepEqual(followUp.duplicates, [a]);
    assert.equal(logs.records(a as string).length, 1);
  });

  it("counts a job's hosts only once it is committed, so a take-over after a failed commit counts each once", async () => {
    // Prepare: the commit marker cannot be created (throttled past the retries).
    const ids = fiveHosts();
    let clock = NOW;
    const { p, logs, metrics, claims } = ports({ now: () => clock });
    let failCommit = true;
    p.claims = {
      ...claims,
      commit: async (...args) => {
        if (failCommit) throw awsError('ThrottlingException', 'Rate exceeded', 400);
        return claims.commit(...args);
      },
    };
    // Act
    await assert.rejects(collectCommand(p, job(ids)), /Rate exceeded/);
    const countedBeforeCommit = metrics.checkedHosts.length;
    failCommit = false;
    clock = NOW + CLAIM_STALE_MS + 1;
    const takeover = await collectCommand(p, job(ids));
    // Assess
    assert.equal(countedBeforeCommit, 0);
    assert.deepEqual(takeover.duplicates, ids);
    assert.equal(metrics.checkedHosts.length, 5);
    for (const id of ids) assert.equal(logs.records(id).length, 1);
  });

  it('verifies a host whose write failed with a 5xx before writing it again', async () => {
    // Prepare: PutLogEvents answers 500 although CloudWatch stored the events.
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const stored: { message?: string }[] = [];
    logsMock.on(PutLogEventsCommand).callsFake((input: { logEvents?: { message?: string }[] }) => {
      stored.push(...(input.logEvents ?? []));
      throw awsError('ServiceUnavailableException', 'internal failure', 503);
    });
    logsMock.on(GetLogEventsCommand).callsFake(() => ({ events: stored, nextForwardToken: 'f' }));
    const { p, metrics } = ports({ logs: cloudWatchSink() });
    await collectCommand(p, job([id]));
    const [next] = sentJobs();
    assert.deepEqual(next?.job.verify, [id]);
    // Act: the follow-up.
    const result = await collectCommand(p, next?.job as CollectJob);
    // Assess
    assert.deepEqual(result.duplicates, [id]);
    assert.equal(stored.filter((e) => e.message?.includes('"record":"result"')).length, 1);
    assert.equal(logsMock.commandCalls(PutLogEventsCommand).length, 1, 'not written a second time');
    assert.equal(metrics.checkedHosts.length, 1, 'counted once, when found');
  });
});

describe('collectCommand: bounded, never lost', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    logsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('backs off from 30 s to 900 s while the log group is deleted, then gives up to the DLQ with the reason', async () => {
    // Prepare: 20 finished hosts; the log group is gone for good.
    const ids = Array.from({ length: 20 }, (_, i) => instanceId(i + 1));
    listing(Object.fromEntries(ids.map((id) => [id, ['Success', 'Success'] as [string, string]])));
    for (const id of ids) invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const gone = new ResourceNotFoundException({
      message: 'The specified log group does not exist.',
      $metadata: {},
    });
    logsMock.on(PutLogEventsCommand).rejects(gone);
    logsMock.on(CreateLogStreamCommand).rejects(gone);
    let clock = NOW;
    const { p } = ports({ logs: cloudWatchSink(() => clock), now: () => clock });
    // Act: run the chain as SQS would, each follow-up after its delay.
    let current: CollectJob | undefined = job(ids, { deadline: NOW + 400_000 });
    const delays: number[] = [];
    let gaveUp: unknown = null;
    for (let n = 0; n < 50 && current !== undefined; n++) {
      const before = sentJobs().length;
      try {
        await collectCommand(p, current);
      } catch (error) {
        gaveUp = error;
        break;
      }
      const next = sentJobs().slice(before)[0];
      if (next === undefined) break;
      delays.push(next.delay ?? 0);
      clock += (next.delay ?? 0) * 1000;
      current = next.job;
    }
    // Assess
    assert.deepEqual(delays, [30, 60, 120, 240, 480, 900]);
    assert.ok(gaveUp instanceof CollectGaveUpError, String(gaveUp));
    assert.match(
      gaveUp.message,
      /gives up to the dead-letter queue \(6 failed attempts in a row; last error: log group CloudConnexa-Monitor-Logs does not exist/,
    );
    assert.match(gaveUp.message, /20 host\(s\) without a record/);
    assert.equal(gaveUp.job.key, 'cmd-1/7', 'attempt 7: six follow-ups, each after a failed attempt');
    // The first attempt stops writing at the first error; later ones probe a single host.
    const gets = ssmMock.commandCalls(GetCommandInvocationCommand).length;
    assert.ok(gets <= 16 + 5, `GetCommandInvocation calls ${gets}`);
    assert.ok(logsMock.commandCalls(PutLogEventsCommand).length <= 16 + 5);
  });

  it('writes a record for every host when ListCommandInvocations keeps failing: results through GetCommandInvocation, the rest at the deadline', async () => {
    // Prepare
    const [done, running] = [instanceId(1), instanceId(2)];
    ssmMock.on(ListCommandInvocationsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));
    invocation(done, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    invocation(running, { Status: 'InProgress' });
    const { p, logs, metrics } = ports();
    // Act: one look before the deadline, then the follow-up at the deadline.
    const first = await collectCommand(p, job([done, running]));
    const next = sentJobs()[0]?.job as CollectJob;
    const second = await collectCommand({ ...p, now: () => next.deadline }, next);
    // Assess
    assert.deepEqual(first.written, [done]);
    assert.deepEqual(second.deadline, [running]);
    const record = logs.records(running)[0];
    assert.equal(record?.status, 'CollectorDeadline');
    assert.equal(record?.lastStatus, 'Unknown');
    assert.match(String(record?.lastError), /ListCommandInvocations ThrottlingException: Rate exceeded/);
    assert.equal(metrics.checkedHosts.length, 1);
    assert.equal(metrics.failedHosts.length, 1);
  });

  it('past the deadline, fetches a finished host whose result SSM would not hand over again, and records the deadline only at the last attempt', async () => {
    // Prepare: the host finished, but GetCommandInvocation is throttled at every look.
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    ssmMock.on(GetCommandInvocationCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));
    const { p, logs } = ports();
    // Act
    const first = await collectCommand(p, job([id], { deadline: NOW - 1 }));
    const [retry] = sentJobs();
    const last = await collectCommand(p, {
      ...(retry?.job as CollectJob),
      failures: MAX_FAILED_ATTEMPTS - 1,
    });
    // Assess
    assert.deepEqual(first.deadline, [], 'not given up on after one throttled look');
    assert.equal(retry?.job.failures, 1);
    assert.equal(retry?.delay, 30);
    assert.deepEqual(last.deadline, [id]);
    const record = logs.records(id)[0];
    assert.equal(record?.status, 'CollectorDeadline');
    assert.equal(record?.lastStatus, 'Success');
    assert.match(String(record?.lastError), /^GetCommandInvocation ThrottlingException: Rate exceeded/);
    assert.equal(logs.records(id).length, 1);
  });

  it('past the deadline, writes a finished host whose result write was throttled again rather than a deadline record', async () => {
    // Prepare: the result is fetched, but the first PutLogEvents is throttled.
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    logsMock
      .on(PutLogEventsCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded', 400))
      .resolves({});
    const { p, metrics } = ports({ logs: cloudWatchSink() });
    // Act
    const first = await collectCommand(p, job([id], { deadline: NOW - 1 }));
    const [retry] = sentJobs();
    const second = await collectCommand(p, retry?.job as CollectJob);
    // Assess
    assert.deepEqual(first.deadline, []);
    assert.deepEqual(second.written, [id]);
    const stored = logsMock.commandCalls(PutLogEventsCommand).at(-1)?.args[0].input.logEvents ?? [];
    assert.ok(stored.some((e) => e.message?.startsWith('{"record":"result"')));
    assert.equal(metrics.checkedHosts.length, 1);
  });

  it('counts a host found already written as its record says: a deadline record is a failure, not a check', async () => {
    // Prepare: the host's deadline record was stored although its write answered 503;
    // SSM now has its result.
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const logs = new MemoryLogSink();
    await logs.write(id, [
      {
        timestamp: NOW,
        message: JSON.stringify({ record: 'failure', recordId: `cmd-1/${id}`, status: 'CollectorDeadline' }),
      },
    ]);
    const { p, metrics } = ports({ logs });
    // Act
    const result = await collectCommand(p, job([id], { verify: [id] }));
    // Assess
    assert.deepEqual(result.duplicates, [id]);
    assert.deepEqual(metrics.failedHosts, [id]);
    assert.equal(metrics.checkedHosts.length, 0);
    assert.equal(logs.records(id).length, 1);
    assert.equal(
      ssmMock.commandCalls(GetCommandInvocationCommand).length,
      0,
      'no result fetched for a host already written',
    );
  });

  it('re-stamps events PutLogEvents refused and counts the host only once they are stored', async () => {
    // Prepare: host a's events are refused once (then accepted), host b's every time.
    const [a, b] = [instanceId(1), instanceId(2)];
    listing({ [a]: ['Success', 'Success'], [b]: ['Success', 'Success'] });
    invocation(a, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    invocation(b, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const refusedOnce = new Set<string>();
    logsMock.on(PutLogEventsCommand).callsFake((input: { logStreamName?: string; logEvents?: unknown[] }) => {
      const stream = input.logStreamName ?? '';
      const refuse = stream === b || !refusedOnce.has(stream);
      refusedOnce.add(stream);
      return refuse
        ? { rejectedLogEventsInfo: { tooOldLogEventEndIndex: input.logEvents?.length ?? 0 } }
        : {};
    });
    const { p, metrics } = ports({ logs: cloudWatchSink() });
    // Act
    const result = await collectCommand(p, job([a, b]));
    // Assess
    assert.deepEqual(result.written, [a]);
    assert.deepEqual(
      metrics.checkedHosts.map((h) => h.instanceId),
      [a],
      'HostsChecked does not count a host whose record was refused',
    );
    const [next] = sentJobs();
    assert.deepEqual(next?.job.instanceIds, [b]);
    assert.match(String(next?.job.lastError), /refused 2 of 2 event\(s\) even after re-stamping/);
    assert.equal(next?.job.verify, undefined, 'a refusal stored nothing: no look-up needed');
  });

  it('gives up at once, without calling AWS, on a job that already failed MAX_FAILED_ATTEMPTS times', async () => {
    const { p } = ports();
    await assert.rejects(
      collectCommand(
        p,
        job([instanceId(1)], {
          failures: MAX_FAILED_ATTEMPTS,
          lastError: 'PutLogEvents AccessDeniedException: no',
        }),
      ),
      (error: unknown) =>
        error instanceof CollectGaveUpError &&
        /last error: PutLogEvents AccessDeniedException: no/.test(error.message),
    );
    assert.equal(ssmMock.calls().length + logsMock.calls().length + sqsMock.calls().length, 0);
  });
});

describe('collectBatch', () => {
  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    logsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('reports only the failing message in batchItemFailures, and a second copy of a job in the batch writes nothing', async () => {
    // Prepare
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs, lines } = ports();
    const body = JSON.stringify(job([id]));
    // Act: the same job stored twice (both receive count 1) and a malformed one.
    const response = await collectBatch(
      { Records: [sqsRecord('copy-1', body), sqsRecord('bad', '{"v":9}'), sqsRecord('copy-2', body)] },
      p,
    );
    // Assess
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'bad' }]);
    assert.equal(logs.records(id).length, 1);
    assert.match(String(lines.find((l) => l.level === 'error')?.error), /InvalidInputError: collect job/);
  });

  it('hands a job held by another collector back to SQS through batchItemFailures', async () => {
    const id = instanceId(1);
    const { p, claims, lines } = ports();
    await claims.create('collect/cmd-1/1', { owner: 'a collector that died', claimedAt: NOW });
    const response = await collectBatch({ Records: [sqsRecord('m1', JSON.stringify(job([id])))] }, p);
    assert.deepEqual(response.batchItemFailures, [{ itemIdentifier: 'm1' }]);
    assert.equal(ssmMock.calls().length, 0);
    assert.equal(lines[0]?.message, 'collect job held by another copy; handed back to SQS');
  });

  it('returns jobs untouched when too little time is left to finish them, so none is cut off midway', async () => {
    // Prepare
    const id = instanceId(1);
    listing({ [id]: ['Success', 'Success'] });
    invocation(id, { Status: 'Success', stdout: JSON.stringify(resultDocument()) });
    const { p, logs } = ports();
    let remaining = JOB_TIME_BUDGET_MS + 1;
    // Act: the first job runs, then the clock says the function is about to time out.
    const response = await collectBatch(
      {
        Records: [
          sqsRecord('first', JSON.stringify(job([id]))),
          sqsRecord('second', JSON.stringify(job([id], { commandId: 'cmd-2' }))),
        ],
      },
      p,
      () => {
        const now = remaining;
        remaining = JOB_TIME_BUDGET_MS - 1;
        return now;
      },
    );
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
