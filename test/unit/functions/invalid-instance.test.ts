/**
 * SendCommand refused because of some instances of a batch (InvalidInstanceId):
 * the others are sent again without them, each refused instance is recorded
 * blind with the reason, and the API calls stay bounded. SSM, EC2 and SQS are
 * mocked at the SDK boundary; dispatch runs through the real SSM transport and
 * the real discovery and recheck.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DescribeInstanceInformationCommand,
  InvalidInstanceId,
  SendCommandCommand,
  type SendCommandCommandInput,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createEc2Client, createSqsClient, createSsmClient } from '../../../functions/aws/clients.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { createSsmTransport, instanceIdsNamedIn } from '../../../functions/aws/ssm-transport.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import type { QueuedJob } from '../../../functions/collect/records-job.ts';
import { type DispatchPorts, dispatchRound } from '../../../functions/dispatch/dispatch-round.ts';
import { MAX_SEND_CALLS_PER_BATCH } from '../../../functions/dispatch/send-isolating.ts';
import { discoverInstances, recheckInstances } from '../../../functions/enrollment/discover-instances.ts';
import { DEFAULTS, instanceId, MemoryLogSink, RecordingMetrics } from './fixtures.ts';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const TAG = 'CloudConnexaMonitor';

interface World {
  ids: string[];
  /** Instances SSM refuses at SendCommand. */
  bad: Set<string>;
  /** What SSM's message names: all bad ones of the call, or nothing (the message may be empty). */
  message: 'names' | 'empty';
  /** EC2 state and SSM ping status seen by the recheck (discovery saw every host running and Online). */
  ec2State: Map<string, string>;
  ping: Map<string, string | null>;
}

let world: World;
let commandSeq = 0;

function setupWorld(count: number, bad: number[], message: World['message']): World {
  const ids = Array.from({ length: count }, (_, i) => instanceId(i + 1));
  return {
    ids,
    bad: new Set(bad.map((n) => instanceId(n))),
    message,
    ec2State: new Map(),
    ping: new Map(),
  };
}

function installMocks(): void {
  let discovering = true;
  ec2Mock
    .on(DescribeInstancesCommand)
    .callsFake((input: { Filters?: { Name?: string; Values?: string[] }[] }) => {
      const byId = input.Filters?.find((f) => f.Name === 'instance-id')?.Values;
      if (byId === undefined) {
        // Discovery: every host running and tagged.
        return {
          Reservations: [
            {
              Instances: world.ids.map((id) => ({
                InstanceId: id,
                State: { Name: 'running' },
                Tags: [{ Key: TAG, Value: 'enabled' }],
              })),
            },
          ],
        };
      }
      discovering = false;
      return {
        Reservations: [
          {
            Instances: byId
              .filter((id) => world.ec2State.get(id) !== 'gone')
              .map((id) => ({ InstanceId: id, State: { Name: world.ec2State.get(id) ?? 'running' } })),
          },
        ],
      };
    });
  ssmMock
    .on(DescribeInstanceInformationCommand)
    .callsFake((input: { Filters?: { Values?: string[] }[] }) => ({
      InstanceInformationList: (input.Filters?.[0]?.Values ?? []).flatMap((id) => {
        const status = discovering ? 'Online' : world.ping.has(id) ? world.ping.get(id) : 'Online';
        return status === null ? [] : [{ InstanceId: id, PingStatus: status }];
      }),
    }));
  ssmMock.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
    const refused = (input.InstanceIds ?? []).filter((id) => world.bad.has(id));
    if (refused.length > 0) {
      const text =
        world.message === 'names'
          ? `Instances [[${refused.join(', ')}]] not in a valid state for account 123456789012`
          : '';
      throw new InvalidInstanceId({ message: text, $metadata: { httpStatusCode: 400 } });
    }
    return { Command: { CommandId: `cmd-${++commandSeq}` } };
  });
}

function run(extra: Pick<DispatchPorts, 'remainingMs'> = {}, logs = new MemoryLogSink()) {
  const ssm = createSsmClient({ region: 'eu-west-1' });
  const ec2 = createEc2Client({ region: 'eu-west-1' });
  const metrics = new RecordingMetrics();
  const summary = dispatchRound(
    {
      inventory: {
        discover: () => discoverInstances({ ec2, ssm }, { tagKey: TAG, tagValue: 'enabled' }),
        recheck: (ids) => recheckInstances({ ec2, ssm }, ids),
      },
      transport: createSsmTransport(ssm, { documentName: 'CC-Monitor', timeoutSeconds: 120 }),
      queue: createSqsJobQueue(createSqsClient({ region: 'eu-west-1' }), 'https://sqs.example/q'),
      logs,
      metrics,
      now: () => Date.parse('2026-01-01T12:00:00Z'),
      ...extra,
    },
    {
      stage: 'test',
      roundId: 'r1',
      tagKey: TAG,
      defaults: DEFAULTS,
      logDir: '/home/ubuntu/Connexa-Logs',
      allowInstall: false,
      commandTimeoutSeconds: 120,
      executionTimeoutSeconds: 600,
    },
  );
  return { summary, logs, metrics };
}

const sendCalls = () =>
  ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds ?? []);
const jobs = () =>
  sqsMock
    .commandCalls(SendMessageCommand)
    .map((c) => JSON.parse(c.args[0].input.MessageBody ?? '') as CollectJob);

/** Every enrolled host ends the dispatch either in exactly one queued job or with exactly one record. */
function assertEveryHostOnce(ids: string[], logs: MemoryLogSink): { queued: string[]; recorded: string[] } {
  const queued = jobs().flatMap((j) => j.instanceIds);
  assert.equal(new Set(queued).size, queued.length, 'no host in two jobs');
  const recorded = ids.filter((id) => logs.records(id).length > 0);
  for (const id of ids) {
    const inJob = queued.includes(id);
    const records = logs.records(id).length;
    assert.ok((inJob ? 1 : 0) + records === 1, `${id}: in a job ${inJob}, ${records} record(s)`);
  }
  return { queued, recorded };
}

describe('dispatch when SSM refuses instances of a batch (InvalidInstanceId)', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    commandSeq = 0;
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('sends the other 49 again without the instance the message names and records it blind', async () => {
    // Prepare
    world = setupWorld(50, [17], 'names');
    installMocks();
    // Act
    const { summary, logs, metrics } = run();
    const result = await summary;
    // Assess
    assert.equal(sendCalls().length, 2, 'one refused call, one retry');
    assert.deepEqual(
      sendCalls()[1],
      world.ids.filter((id) => id !== instanceId(17)),
    );
    assert.equal(
      ec2Mock.commandCalls(DescribeInstancesCommand).length,
      1,
      'the message named it: no recheck',
    );
    assert.equal(result.dispatched, 49);
    assert.equal(result.blind, 1);
    assert.equal(result.refused, 1);
    assert.equal(result.failed, 0);
    assert.deepEqual(metrics.blindHosts, [instanceId(17)]);
    assert.deepEqual(metrics.failedHosts, []);
    const record = logs.records(instanceId(17))[0];
    assert.equal(record?.record, 'blind');
    assert.equal(record?.status, 'SendCommandRefused');
    assert.equal(record?.errorName, 'InvalidInstanceId');
    assert.match(String(record?.reason), /not in a valid state/);
    assertEveryHostOnce(world.ids, logs);
  });

  it('finds two refused instances by the recheck when the message names none', async () => {
    // Prepare
    world = setupWorld(50, [3, 41], 'empty');
    world.ec2State.set(instanceId(3), 'shutting-down');
    world.ec2State.set(instanceId(41), 'gone');
    world.ping.set(instanceId(41), null);
    installMocks();
    // Act
    const { summary, logs, metrics } = run();
    const result = await summary;
    // Assess
    assert.equal(sendCalls().length, 2);
    assert.equal(result.dispatched, 48);
    assert.equal(result.refused, 2);
    assert.deepEqual(metrics.blindHosts.sort(), [instanceId(3), instanceId(41)].sort());
    assert.equal(logs.records(instanceId(3))[0]?.reason, 'EC2 state shutting-down');
    assert.equal(
      logs.records(instanceId(41))[0]?.reason,
      'EC2 state not found, SSM PingStatus NotRegistered',
    );
    assert.equal(logs.records(instanceId(41))[0]?.pingStatus, 'NotRegistered');
    assertEveryHostOnce(world.ids, logs);
  });

  it('isolates two refused instances by bisection when neither the message nor the recheck names them', async () => {
    // Prepare: both still look running and Online (an SSM Agent that just stopped).
    world = setupWorld(50, [9, 38], 'empty');
    installMocks();
    // Act
    const { summary, logs } = run();
    const result = await summary;
    // Assess
    assert.equal(result.dispatched, 48);
    assert.equal(result.refused, 2);
    assert.equal(result.failed, 0);
    const calls = sendCalls();
    assert.ok(calls.length <= MAX_SEND_CALLS_PER_BATCH, `${calls.length} SendCommand calls`);
    assert.ok(
      calls.length <= 1 + 2 * 2 * Math.ceil(Math.log2(50)),
      `bisection stays logarithmic: ${calls.length}`,
    );
    const { queued } = assertEveryHostOnce(world.ids, logs);
    assert.deepEqual(queued.sort(), world.ids.filter((id) => !world.bad.has(id)).sort());
    for (const id of world.bad) {
      assert.equal(logs.records(id)[0]?.status, 'SendCommandRefused');
      assert.match(String(logs.records(id)[0]?.reason), /isolated by sending parts of the batch/);
    }
  });

  it('records a batch where every instance is refused as 50 blind hosts after one recheck, queuing nothing', async () => {
    // Prepare
    world = setupWorld(
      50,
      Array.from({ length: 50 }, (_, i) => i + 1),
      'empty',
    );
    for (const id of world.ids) world.ec2State.set(id, 'terminated');
    installMocks();
    // Act
    const { summary, logs, metrics } = run();
    const result = await summary;
    // Assess
    assert.equal(sendCalls().length, 1);
    assert.equal(result.dispatched, 0);
    assert.equal(result.refused, 50);
    assert.equal(jobs().length, 0);
    assert.equal(metrics.blindHosts.length, 50);
    assertEveryHostOnce(world.ids, logs);
  });

  it('gives up on an all-refused batch nothing identifies within the call budget, recording every host', async () => {
    // Prepare
    world = setupWorld(
      50,
      Array.from({ length: 50 }, (_, i) => i + 1),
      'empty',
    );
    installMocks();
    // Act
    const { summary, logs, metrics } = run();
    const result = await summary;
    // Assess
    assert.equal(sendCalls().length, MAX_SEND_CALLS_PER_BATCH, 'bounded');
    assert.equal(result.dispatched, 0);
    assert.equal(result.refused + result.failed, 50);
    assert.equal(metrics.blindHosts.length + metrics.failedHosts.length, 50);
    const failed = world.ids.flatMap((id) => logs.records(id)).filter((r) => r.record === 'dispatch-failed');
    assert.ok(failed.length > 0);
    for (const record of failed) {
      assert.equal(record.errorName, 'InvalidInstanceId');
      assert.match(String((record.error as { message: string }).message), /could not be isolated within 25/);
    }
    assertEveryHostOnce(world.ids, logs);
  });

  it('isolates refused instances in one chunk of a 120-host round and leaves the other chunks alone', async () => {
    // Prepare
    world = setupWorld(120, [60, 61], 'names');
    installMocks();
    // Act
    const { summary, logs } = run();
    const result = await summary;
    // Assess
    assert.equal(sendCalls().length, 4, '3 chunks, one retried');
    assert.equal(result.dispatched, 118);
    assert.equal(result.refused, 2);
    assertEveryHostOnce(world.ids, logs);
  });

  it('treats an AccessDeniedException naming an instance of the call the same way', async () => {
    // Prepare: the enrollment tag was removed between discovery and SendCommand.
    world = setupWorld(5, [], 'names');
    installMocks();
    ssmMock.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
      if ((input.InstanceIds ?? []).includes(instanceId(2))) {
        throw new SSMServiceException({
          name: 'AccessDeniedException',
          $fault: 'client',
          $metadata: {},
          message: `User: arn:aws:sts::123456789012:assumed-role/dispatch is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:eu-west-1:123456789012:instance/${instanceId(2)}`,
        });
      }
      return { Command: { CommandId: `cmd-${++commandSeq}` } };
    });
    // Act
    const { summary, logs } = run();
    const result = await summary;
    // Assess
    assert.equal(result.dispatched, 4);
    assert.equal(logs.records(instanceId(2))[0]?.errorName, 'AccessDeniedException');
    assertEveryHostOnce(world.ids, logs);
  });

  it('still fails the whole batch for an error that is not about its instances', async () => {
    world = setupWorld(3, [], 'names');
    installMocks();
    ssmMock.on(SendCommandCommand).rejects(
      new SSMServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: {},
        message: 'Rate exceeded',
      }),
    );
    const { summary, logs } = run();
    const result = await summary;
    assert.equal(sendCalls().length, 1);
    assert.equal(result.failed, 3);
    assert.equal(logs.records(instanceId(1))[0]?.status, 'SendCommandFailed');
    assert.equal(logs.records(instanceId(1))[0]?.errorName, 'ThrottlingException');
  });

  it('stops isolating when the time budget runs out, recording the refused host blind and the rest not sent', async () => {
    // Prepare: the first SendCommand is refused; by the retry fewer than 30 s are left.
    world = setupWorld(50, [17], 'names');
    installMocks();
    const remaining = [60_000, 29_000];
    // Act
    const { summary, logs, metrics } = run({ remainingMs: () => remaining.shift() ?? 0 });
    const result = await summary;
    // Assess
    assert.equal(sendCalls().length, 1, 'the retry without the refused host is not sent');
    assert.equal(result.refused, 1);
    assert.equal(result.failed, 49);
    assert.equal(result.dispatched, 0);
    assert.deepEqual(metrics.blindHosts, [instanceId(17)]);
    assert.equal(metrics.failedHosts.length, 49);
    assert.equal(logs.records(instanceId(17))[0]?.status, 'SendCommandRefused');
    const notSent = logs.records(instanceId(18))[0];
    assert.equal(notSent?.record, 'dispatch-failed');
    assert.equal(notSent?.errorName, 'DispatchOutOfTimeError');
    assertEveryHostOnce(world.ids, logs);
  });

  it("hands a refused host's blind record CloudWatch will not take to the collector, with its record id", async () => {
    // Prepare: every write to the refused host's stream fails.
    world = setupWorld(50, [17], 'names');
    installMocks();
    const logs = new MemoryLogSink();
    logs.failFor.add(instanceId(17));
    // Act
    const result = await run({}, logs).summary;
    // Assess
    assert.equal(result.refused, 1);
    assert.equal(result.dispatched, 49);
    assert.equal(result.recordWriteErrors, 0, 'handed over, not lost');
    const queued = sqsMock
      .commandCalls(SendMessageCommand)
      .map((c) => JSON.parse(c.args[0].input.MessageBody ?? '') as QueuedJob);
    const handedOver = queued.flatMap((j) => ('kind' in j && j.kind === 'records' ? j.records : []));
    assert.equal(handedOver.length, 1);
    assert.equal(handedOver[0]?.instanceId, instanceId(17));
    assert.equal(handedOver[0]?.recordId, `dispatch/r1/${instanceId(17)}`);
    const record = JSON.parse(handedOver[0]?.events[0]?.message ?? '{}') as Record<string, unknown>;
    assert.equal(record.status, 'SendCommandRefused');
    assert.equal(record.recordId, handedOver[0]?.recordId);
    const collectJobs = queued.filter((j) => !('kind' in j && j.kind === 'records')) as CollectJob[];
    assert.equal(collectJobs.flatMap((j) => j.instanceIds).length, 49);
  });

  it('reads only ids of the batch from a message', () => {
    const batch = [instanceId(1), instanceId(2)];
    assert.deepEqual(
      instanceIdsNamedIn(`Instances [[${instanceId(2)}, i-0123456789abcdef0]] not in a valid state`, batch),
      [instanceId(2)],
    );
    assert.deepEqual(instanceIdsNamedIn('', batch), []);
  });
});
