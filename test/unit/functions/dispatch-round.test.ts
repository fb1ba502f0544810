import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DescribeInstanceInformationCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { FLEET_METRICS } from '../../../common/metric-names.ts';
import { createEc2Client, createSqsClient, createSsmClient } from '../../../functions/aws/clients.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import { createMemoryClaimStore } from '../../../functions/collect/job-claims.ts';
import { processJob } from '../../../functions/collect/process-job.ts';
import { isRecordsJob, parseQueuedJob } from '../../../functions/collect/records-job.ts';
import { dispatchRound } from '../../../functions/dispatch/dispatch-round.ts';
import { roundClaimKey } from '../../../functions/dispatch/round-claim.ts';
import { discoverInstances } from '../../../functions/enrollment/discover-instances.ts';
import { createEmfMetrics } from '../../../functions/metrics/emit-metrics.ts';
import { captureStdout, DEFAULTS, instanceId, MemoryLogSink, RecordingMetrics } from './fixtures.ts';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const TAG = 'CloudConnexaMonitor';

interface Host {
  id: string;
  tags?: Record<string, string>;
  ping?: 'Online' | 'ConnectionLost' | 'Inactive' | null;
}

function fleet(hosts: Host[]) {
  ec2Mock.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: hosts.map((h) => ({
          InstanceId: h.id,
          Tags: Object.entries({ [TAG]: 'enabled', ...h.tags }).map(([Key, Value]) => ({ Key, Value })),
        })),
      },
    ],
  });
  ssmMock.on(DescribeInstanceInformationCommand).callsFake((input: { Filters?: { Values?: string[] }[] }) => {
    const wanted = new Set(input.Filters?.[0]?.Values ?? []);
    return {
      InstanceInformationList: hosts
        .filter((h) => wanted.has(h.id) && h.ping !== null)
        .map((h) => ({ InstanceId: h.id, PingStatus: h.ping ?? 'Online' })),
    };
  });
}

let commandSeq = 0;
/** The production clients (functions/aws/clients.ts), their `send` answered by the mocks above. */
function setup() {
  const logs = new MemoryLogSink();
  const metrics = new RecordingMetrics();
  const region = { region: 'eu-west-1' };
  const ec2 = createEc2Client(region);
  const ssmClient = createSsmClient(region);
  const ports = {
    inventory: {
      discover: () => discoverInstances({ ec2, ssm: ssmClient }, { tagKey: TAG, tagValue: 'enabled' }),
    },
    transport: createSsmTransport(ssmClient, { documentName: 'CC-Monitor', timeoutSeconds: 120 }),
    queue: createSqsJobQueue(createSqsClient(region), 'https://sqs.example/q'),
    logs,
    metrics,
    now: () => Date.parse('2026-01-01T12:00:00Z'),
  };
  const options = {
    stage: 'test',
    roundId: '20260101T120000Z-abcd',
    tagKey: TAG,
    defaults: DEFAULTS,
    logDir: '/home/ubuntu/Connexa-Logs',
    allowInstall: false,
    commandTimeoutSeconds: 120,
    executionTimeoutSeconds: 600,
  };
  return { ports, options, logs, metrics };
}

const sendInputs = (): SendCommandCommandInput[] =>
  ssmMock.commandCalls(SendCommandCommand).map((c) => c.args[0].input);

describe('dispatchRound', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    commandSeq = 0;
    ssmMock.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++commandSeq}` } }));
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('sends 120 hosts with the same settings as 3 SendCommand calls of at most 50 and queues a job per command', async () => {
    // Prepare
    fleet(Array.from({ length: 120 }, (_, i) => ({ id: instanceId(i + 1) })));
    const { ports, options } = setup();
    // Act
    const summary = await dispatchRound(ports, options);
    // Assess
    const inputs = sendInputs();
    assert.deepEqual(
      inputs.map((i) => i.InstanceIds?.length),
      [50, 50, 20],
    );
    assert.equal(new Set(inputs.flatMap((i) => i.InstanceIds)).size, 120);
    for (const input of inputs) {
      assert.equal(input.DocumentName, 'CC-Monitor');
      assert.equal(input.MaxErrors, '100%');
      assert.equal(input.TimeoutSeconds, 120);
      assert.equal(input.Comment, 'cc-monitor test round 20260101T120000Z-abcd');
      assert.deepEqual(input.Parameters?.Count, ['10']);
      assert.deepEqual(input.Parameters?.AllowInstall, ['false']);
      assert.equal(input.CloudWatchOutputConfig?.CloudWatchOutputEnabled, false);
    }
    const jobs = sqsMock.commandCalls(SendMessageCommand).map((c) => ({
      job: JSON.parse(c.args[0].input.MessageBody ?? '') as CollectJob,
      delay: c.args[0].input.DelaySeconds ?? 0,
    }));
    assert.equal(jobs.length, 3);
    assert.deepEqual(jobs.map((j) => j.job.commandId).sort(), ['cmd-1', 'cmd-2', 'cmd-3']);
    // First look: 10 probes 1 s apart plus start-up slack (expectedRunSeconds: 22 s), then 5 s more.
    assert.deepEqual(
      jobs.map((j) => [j.delay, j.job.attempt]),
      [
        [27, 1],
        [27, 1],
        [27, 1],
      ],
    );
    // Deadline: SSM delivery (120 s) + execution (600 s) + 60 s for the result to be listed.
    assert.ok(jobs.every((j) => j.job.deadline - j.job.dispatchedAt === (120 + 600 + 60) * 1000));
    assert.equal(summary.dispatched, 120);
    assert.equal(summary.commands, 3);
  });

  it('records blind hosts (ConnectionLost, Inactive, unknown to SSM) and sends them nothing', async () => {
    // Prepare
    const [ok, lost, inactive, missing] = [1, 2, 3, 4].map(instanceId) as [string, string, string, string];
    fleet([
      { id: ok },
      { id: lost, ping: 'ConnectionLost' },
      { id: inactive, ping: 'Inactive' },
      { id: missing, ping: null },
    ]);
    const { ports, options, logs, metrics } = setup();
    // Act
    const summary = await dispatchRound(ports, options);
    // Assess
    assert.deepEqual(sendInputs()[0]?.InstanceIds, [ok]);
    assert.equal(summary.blind, 3);
    assert.deepEqual(metrics.blindHosts.sort(), [lost, inactive, missing].sort());
    assert.equal(logs.records(lost)[0]?.pingStatus, 'ConnectionLost');
    assert.equal(logs.records(inactive)[0]?.pingStatus, 'Inactive');
    assert.equal(logs.records(missing)[0]?.pingStatus, 'NotRegistered');
    assert.equal(logs.records(missing)[0]?.record, 'blind');
  });

  it('applies valid tag overrides and groups hosts by their effective settings', async () => {
    fleet([
      { id: instanceId(1) },
      { id: instanceId(2), tags: { [`${TAG}:Count`]: '50', [`${TAG}:Resources`]: 'db.internal, 10.0.0.9' } },
      { id: instanceId(3), tags: { [`${TAG}:Count`]: '50', [`${TAG}:Resources`]: 'db.internal,10.0.0.9' } },
      { id: instanceId(4), tags: { [`${TAG}:LossRule`]: 'any-hop', [`${TAG}:LatencyThresholdMs`]: '120.5' } },
      { id: instanceId(5), tags: { [`${TAG}:BaselineFlag`]: 'on' } },
    ]);
    const { ports, options, metrics } = setup();
    const summary = await dispatchRound(ports, options);
    const inputs = sendInputs();
    assert.equal(summary.groups, 4);
    const baseline = inputs.find((i) => i.Parameters?.BaselineFlag?.[0] === 'on');
    assert.deepEqual(baseline?.InstanceIds, [instanceId(5)]);
    assert.ok(
      inputs.filter((i) => i !== baseline).every((i) => i.Parameters?.BaselineFlag?.[0] === 'off'),
      'the stage default, off',
    );
    const byCount = inputs.find((i) => i.Parameters?.Count?.[0] === '50');
    assert.deepEqual(byCount?.InstanceIds, [instanceId(2), instanceId(3)]);
    assert.deepEqual(byCount?.Parameters?.Resources, ['db.internal,10.0.0.9']);
    const anyHop = inputs.find((i) => i.Parameters?.LossRule?.[0] === 'any-hop');
    assert.deepEqual(anyHop?.Parameters?.LatencyThresholdMs, ['120.5']);
    assert.equal(metrics.misconfiguredHosts.length, 0);
    assert.deepEqual(metrics.zeroes, { blind: 0, misconfigured: 0, inMaintenance: 0 });
  });

  const invalid: [string, string][] = [
    ['Count', '0'],
    ['Count', 'lots'],
    ['Resources', '-oProxyCommand=x'],
    ['Resources', 'http://a.example/x#frag'],
    ['IntervalSec', '0.12345'],
    ['LossRule', 'sometimes'],
    ['TcpPort', '70000'],
    ['BaselineFlag', 'yes'],
    // 500 probes a second apart cannot finish within the document's execution timeout.
    ['Count', '500'],
    ['JitterThresholdMs', 'off'],
    ['JitterThresholdMs', '60001'],
  ];
  for (const [setting, value] of invalid) {
    it(`reports a host tagged ${setting}=${value} as misconfigured and sends it nothing`, async () => {
      // Prepare
      const bad = instanceId(2);
      fleet([{ id: instanceId(1) }, { id: bad, tags: { [`${TAG}:${setting}`]: value } }]);
      const { ports, options, logs, metrics } = setup();
      // Act
      const summary = await dispatchRound(ports, options);
      // Assess
      assert.ok(sendInputs().every((i) => !(i.InstanceIds ?? []).includes(bad)));
      assert.equal(summary.misconfigured, 1);
      assert.deepEqual(metrics.misconfiguredHosts, [bad]);
      const record = logs.records(bad)[0];
      assert.equal(record?.record, 'misconfigured');
      assert.ok(String(record?.field).startsWith(`${TAG}:${setting}`), String(record?.field));
      assert.equal((record?.error as { code: string } | undefined)?.code, 'E_INVALID_INPUT');
    });
  }

  it('sends the jitter threshold of a host tagged JitterThresholdMs, and the stage default (off) to the others', async () => {
    // Prepare
    fleet([{ id: instanceId(1) }, { id: instanceId(2), tags: { [`${TAG}:JitterThresholdMs`]: '30' } }]);
    const { ports, options } = setup();
    // Act
    const summary = await dispatchRound(ports, options);
    // Assess
    const inputs = sendInputs();
    assert.equal(summary.groups, 2);
    const tagged = inputs.find((i) => i.InstanceIds?.includes(instanceId(2)));
    const other = inputs.find((i) => i.InstanceIds?.includes(instanceId(1)));
    assert.deepEqual(tagged?.Parameters?.JitterThresholdMs, ['30']);
    assert.deepEqual(other?.Parameters?.JitterThresholdMs, ['0']);
  });

  it('keeps the other chunks when one SendCommand fails, recording each host of the failed chunk', async () => {
    // Prepare
    fleet(Array.from({ length: 120 }, (_, i) => ({ id: instanceId(i + 1) })));
    ssmMock.on(SendCommandCommand).callsFake((input: SendCommandCommandInput) => {
      if (input.InstanceIds?.includes(instanceId(51))) {
        throw Object.assign(new Error('InvalidDocument: nope'), { name: 'InvalidDocument' });
      }
      return { Command: { CommandId: `cmd-${++commandSeq}` } };
    });
    const { ports, options, logs, metrics } = setup();
    // Act
    const summary = await dispatchRound(ports, options);
    // Assess
    assert.equal(summary.dispatched, 70);
    assert.equal(summary.failed, 50);
    assert.equal(sqsMock.commandCalls(SendMessageCommand).length, 2);
    assert.equal(metrics.failedHosts.length, 50);
    const record = logs.records(instanceId(51))[0];
    assert.equal(record?.status, 'SendCommandFailed');
    assert.equal(record?.errorName, 'InvalidDocument');
  });

  it('writes HostsEnrolled every round: 0 on a fresh stack, so "nothing enrolled" is not "no round ran"', async () => {
    // Prepare: no instance carries the tag.
    fleet([]);
    const { ports, options } = setup();
    const emf = createEmfMetrics({
      namespace: 'CloudConnexa',
      serviceName: 'svc',
      stage: 'test',
      granularity: 'host',
    });
    // Act
    const summary = await dispatchRound({ ...ports, metrics: emf }, options);
    const lines = captureStdout(() => emf.flush()).map((l) => JSON.parse(l) as Record<string, unknown>);
    // Assess
    assert.equal(summary.enrolled, 0);
    assert.equal(sendInputs().length, 0);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.[FLEET_METRICS.hostsEnrolled], 0);
    assert.equal(lines[0]?.Stage, 'test');
    const aws = lines[0]?._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } | undefined;
    const names = aws?.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name);
    assert.ok(names?.includes(FLEET_METRICS.hostsEnrolled));
  });

  it('writes HostsEnrolled once with every enrolled host, blind ones included', async () => {
    fleet([{ id: instanceId(1) }, { id: instanceId(2), ping: 'ConnectionLost' }, { id: instanceId(3) }]);
    const { ports, options, metrics } = setup();
    await dispatchRound(ports, options);
    assert.deepEqual(metrics.enrolledCounts, [3]);
  });
});

describe('dispatchRound: every host recorded, whatever happens after SendCommand', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('has written the blind and misconfigured records before the first SendCommand returns', async () => {
    // Prepare: SendCommand hangs, as in a dispatch that runs out of time right after sending.
    const [ok, lost, bad] = [1, 2, 3].map(instanceId) as [string, string, string];
    fleet([
      { id: ok },
      { id: lost, ping: 'ConnectionLost' },
      { id: bad, tags: { [`${TAG}:Count`]: 'lots' } },
    ]);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let sending = false;
    ssmMock.on(SendCommandCommand).callsFake(async () => {
      sending = true;
      await gate;
      return { Command: { CommandId: 'cmd-1' } };
    });
    const { ports, options, logs } = setup();
    // Act
    const running = dispatchRound(ports, options);
    while (!sending) await new Promise((resolve) => setImmediate(resolve));
    const whileSending = { blind: logs.records(lost), misconfigured: logs.records(bad) };
    release();
    await running;
    // Assess
    assert.equal(whileSending.blind[0]?.record, 'blind');
    assert.equal(whileSending.blind[0]?.recordId, `dispatch/${options.roundId}/${lost}`);
    assert.equal(whileSending.misconfigured[0]?.record, 'misconfigured');
  });

  it('writes a dispatch-failure record that CloudWatch throttled once, so the host still has its one record', async () => {
    // Prepare
    fleet([{ id: instanceId(1) }]);
    ssmMock
      .on(SendCommandCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const { ports, options, logs } = setup();
    const write = logs.write.bind(logs);
    let refused = 0;
    logs.write = async (stream, events) => {
      if (refused++ === 0)
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' });
      return write(stream, events);
    };
    // Act
    const summary = await dispatchRound(ports, options);
    // Assess
    assert.equal(logs.records(instanceId(1)).length, 1);
    assert.equal(logs.records(instanceId(1))[0]?.status, 'SendCommandFailed');
    assert.equal(summary.recordWriteErrors, 0);
  });

  it('hands a record CloudWatch keeps refusing to the collector, which writes it once however often it is delivered', async () => {
    // Prepare: every write of the blind host's record is throttled during dispatch.
    const blindHost = instanceId(2);
    fleet([{ id: instanceId(1) }, { id: blindHost, ping: 'Inactive' }]);
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    const { ports, options, logs } = setup();
    const write = logs.write.bind(logs);
    let throttling = true;
    logs.write = async (stream, events) => {
      if (throttling && stream === blindHost)
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $fault: 'client' });
      return write(stream, events);
    };
    // Act
    const summary = await dispatchRound(ports, options);
    throttling = false;
    const bodies = sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageBody ?? '');
    const handover = bodies.map(parseQueuedJob).find((j) => isRecordsJob(j));
    assert.ok(handover !== undefined, 'a records job was queued');
    const collectorPorts = {
      transport: ports.transport,
      queue: ports.queue,
      logs,
      lookup: logs,
      claims: createMemoryClaimStore(),
      metrics: new RecordingMetrics(),
      now: ports.now,
      log: () => {},
    };
    const first = await processJob(collectorPorts, handover);
    const second = await processJob(collectorPorts, handover);
    // Assess
    assert.equal(summary.recordWriteErrors, 0);
    assert.equal(first.outcome, 'collected');
    assert.equal(second.outcome, 'duplicate');
    const records = logs.records(blindHost);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.record, 'blind');
    assert.equal(records[0]?.pingStatus, 'Inactive');
  });
});

describe('dispatchRound: records handed over even when dispatch fails unexpectedly', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
  });

  for (const [where, inject] of [
    [
      'before any command is sent',
      (metrics: RecordingMetrics) => {
        metrics.zeroDispatchCounters = () => {
          throw new TypeError('injected fault: zeroDispatchCounters');
        };
      },
    ],
    [
      'while commands are sent',
      (metrics: RecordingMetrics) => {
        metrics.failed = () => {
          throw new TypeError('injected fault: failed');
        };
      },
    ],
  ] as const) {
    it(`hands the records that failed to write to the collector, then rethrows a fault ${where}`, async () => {
      // Prepare: two blind hosts whose records CloudWatch keeps throttling, one host whose
      // SendCommand fails (its failure record calls metrics.failed), and the injected fault.
      const [ok, refused, lostA, lostB] = [1, 2, 3, 4].map(instanceId) as [string, string, string, string];
      fleet([
        { id: ok },
        { id: refused, tags: { [`${TAG}:Count`]: '20' } },
        { id: lostA, ping: 'ConnectionLost' },
        { id: lostB, ping: 'Inactive' },
      ]);
      ssmMock
        .on(SendCommandCommand, { InstanceIds: [refused] })
        .rejects(Object.assign(new Error('internal'), { name: 'InternalServerError', $fault: 'server' }));
      const { ports, options, logs, metrics } = setup();
      logs.write = async (stream) => {
        throw Object.assign(new Error(`Rate exceeded for ${stream}`), {
          name: 'ThrottlingException',
          $fault: 'client',
        });
      };
      inject(metrics);
      // Act
      const lines: Record<string, unknown>[] = [];
      await assert.rejects(dispatchRound({ ...ports, log: (l) => void lines.push(l) }, options), {
        name: 'TypeError',
        message: /^injected fault/,
      });
      // Assess: the blind hosts' records are on the queue for the collector.
      const handedOver = sqsMock
        .commandCalls(SendMessageCommand)
        .map((c) => parseQueuedJob(c.args[0].input.MessageBody ?? ''))
        .filter(isRecordsJob)
        .flatMap((job) => job.records.map((r) => r.instanceId));
      assert.deepEqual(handedOver.sort(), [lostA, lostB]);
      assert.ok(
        lines.some((l) => l.message === 'dispatch records: 0 written, 2 handed to the collector, 0 lost'),
      );
    });
  }
});

describe('dispatchRound: one dispatch per scheduled round', () => {
  const event = { id: 'e1f2a3b4-0000-4000-8000-000000000001', time: '2026-01-01T12:00:00Z' };
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    commandSeq = 0;
    ssmMock.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++commandSeq}` } }));
    fleet([{ id: instanceId(1) }, { id: instanceId(2), ping: 'ConnectionLost' }]);
  });

  it('sends, records and counts nothing in a second invocation of the same event, and says the first finished', async () => {
    // Prepare
    const claims = createMemoryClaimStore();
    const first = setup();
    const second = setup();
    const key = roundClaimKey(event, first.options.roundId);
    // Act
    const done = await dispatchRound({ ...first.ports, claims }, { ...first.options, roundClaimKey: key });
    const again = await dispatchRound({ ...second.ports, claims }, { ...second.options, roundClaimKey: key });
    // Assess
    assert.equal(done.dispatched, 1);
    assert.equal(done.duplicateOf, undefined);
    assert.deepEqual(again.duplicateOf, { claimedAt: Date.parse('2026-01-01T12:00:00Z'), finished: true });
    assert.equal(again.dispatched + again.blind + again.enrolled, 0);
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 1, 'one SendCommand in all');
    assert.equal(sqsMock.commandCalls(SendMessageCommand).length, 1, 'one collect job in all');
    assert.equal(second.logs.records(instanceId(2)).length, 0, 'no second blind record');
    assert.deepEqual(second.metrics.enrolledCounts, [], 'no metric from the duplicate');
    assert.deepEqual(second.metrics.blindHosts, []);
    assert.equal(claims.records.get(key)?.committed, true);
  });

  it('lets exactly one of two invocations delivered at once dispatch', async () => {
    const claims = createMemoryClaimStore();
    const runs = [setup(), setup()];
    const key = roundClaimKey(event, runs[0]?.options.roundId ?? '');
    const summaries = await Promise.all(
      runs.map((r) => dispatchRound({ ...r.ports, claims }, { ...r.options, roundClaimKey: key })),
    );
    assert.equal(summaries.filter((s) => s.duplicateOf === undefined).length, 1);
    assert.deepEqual(
      summaries.map((s) => s.duplicateOf?.finished),
      summaries[0]?.duplicateOf === undefined ? [undefined, false] : [false, undefined],
      'the duplicate saw the claim still running',
    );
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 1);
  });

  it('leaves the round unclaimed when discovery fails, so a retry of the event can run it', async () => {
    const claims = createMemoryClaimStore();
    const { ports, options } = setup();
    const key = roundClaimKey(event, options.roundId);
    await assert.rejects(
      dispatchRound(
        {
          ...ports,
          claims,
          inventory: { discover: async () => Promise.reject(new Error('EC2 unavailable')) },
        },
        { ...options, roundClaimKey: key },
      ),
      /EC2 unavailable/,
    );
    assert.equal(claims.records.size, 0);
    const retry = await dispatchRound({ ...ports, claims }, { ...options, roundClaimKey: key });
    assert.equal(retry.dispatched, 1);
  });

  it('does not dispatch when the claim cannot be written (the dispatch-failing alarm reports it)', async () => {
    const claims = createMemoryClaimStore();
    claims.create = async () => {
      throw Object.assign(new Error('User is not authorized to perform: dynamodb:PutItem'), {
        name: 'AccessDeniedException',
      });
    };
    const { ports, options } = setup();
    await assert.rejects(dispatchRound({ ...ports, claims }, options), { name: 'AccessDeniedException' });
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 0);
  });
});

describe('dispatchRound: time budget', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    commandSeq = 0;
    ssmMock.on(SendCommandCommand).callsFake(() => ({ Command: { CommandId: `cmd-${++commandSeq}` } }));
  });

  it('stops sending before its Lambda timeout and records the hosts it did not send', async () => {
    // Prepare: 120 hosts; after the first SendCommand fewer than 30 s are left.
    fleet(Array.from({ length: 120 }, (_, i) => ({ id: instanceId(i + 1) })));
    const { ports, options, logs } = setup();
    const remaining = [60_000, 29_000, 29_000];
    // Act
    const summary = await dispatchRound(
      { ...ports, remainingMs: () => remaining.shift() ?? 0 },
      { ...options, concurrency: 1 },
    );
    // Assess
    assert.equal(ssmMock.commandCalls(SendCommandCommand).length, 1);
    assert.equal(summary.dispatched, 50);
    assert.equal(summary.failed, 70);
    const record = logs.records(instanceId(120))[0];
    assert.equal(record?.record, 'dispatch-failed');
    assert.equal(record?.errorName, 'DispatchOutOfTimeError');
    assert.match(
      String((record?.error as { message?: string } | undefined)?.message),
      /^dispatch has 29 s left before its Lambda timeout \(30 s are kept to write the records\): command not sent this round$/,
    );
    for (let n = 1; n <= 120; n++) assert.equal(logs.records(instanceId(n)).length, n <= 50 ? 0 : 1);
  });
});
