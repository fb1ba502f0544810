/**
 * Maintenance windows through a whole round: dispatch decides from the tags
 * and the stage window (EC2, SSM and SQS answered by aws-sdk-client-mock at
 * the SDK boundary), the collect job carries the decision, the collector
 * writes the records and the metrics (real EMF lines). A host in maintenance
 * is measured and recorded with the note and stays out of the flag metrics;
 * a second delivery of the job writes and counts nothing.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParametersCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import {
  FLEET_METRICS,
  HOST_METRICS,
  LEGACY_FILTER_PATTERN,
  RESOURCE_METRICS,
} from '../../../common/metric-names.ts';
import { createEc2Client, createSqsClient, createSsmClient } from '../../../functions/aws/clients.ts';
import { createParameterStoreReader } from '../../../functions/aws/parameter-store.ts';
import { createSqsJobQueue } from '../../../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../../../functions/aws/ssm-transport.ts';
import { collectCommand } from '../../../functions/collect/collect-command.ts';
import type { CollectJob } from '../../../functions/collect/job.ts';
import { parseCollectJob } from '../../../functions/collect/job.ts';
import { CLAIM_STALE_MS, createMemoryClaimStore } from '../../../functions/collect/job-claims.ts';
import { processJob } from '../../../functions/collect/process-job.ts';
import { parseQueuedJob } from '../../../functions/collect/records-job.ts';
import { dispatchRound } from '../../../functions/dispatch/dispatch-round.ts';
import { discoverInstances } from '../../../functions/enrollment/discover-instances.ts';
import { createEmfMetrics } from '../../../functions/metrics/emit-metrics.ts';
import { filterPatternMatches } from '../../helpers/filter-pattern.ts';
import {
  DEFAULTS,
  instanceId,
  logCapture,
  MemoryLogSink,
  RecordingMetrics,
  resultDocument,
} from './fixtures.ts';

const ec2Mock = mockClient(EC2Client);
const ssmMock = mockClient(SSMClient);
const sqsMock = mockClient(SQSClient);
const TAG = 'CloudConnexaMonitor';
const MAINTENANCE_TAG = `${TAG}:MaintenanceUntil`;
/** The injected clock of dispatch and collection. */
const NOW = Date.parse('2026-11-30T12:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

interface Host {
  id: string;
  tags?: Record<string, string>;
  ping?: 'Online' | 'ConnectionLost';
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
  ssmMock.on(DescribeInstanceInformationCommand).resolves({
    InstanceInformationList: hosts.map((h) => ({ InstanceId: h.id, PingStatus: h.ping ?? 'Online' })),
  });
}

/** A tunnel that was down and explains the flags (common/result-schema.ts TunnelResult). */
const TUNNEL_DOWN = {
  state: 'down',
  source: 'openvpn2-log',
  detail: 'SIGTERM[hard,] received, process exiting',
  since: '2026-11-30T11:58:00.000Z',
  reconnects: null,
  bytesIn: null,
  bytesOut: null,
  explains: true,
} as const;

/** Every host sent the command finished with a flagged result (30 % loss, 120 ms), its tunnel down. */
function allFinishedFlagged(ids: string[]) {
  ssmMock.on(ListCommandInvocationsCommand).resolves({
    CommandInvocations: ids.map((id) => ({ InstanceId: id, Status: 'Success', StatusDetails: 'Success' })),
  });
  for (const id of ids) {
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: id }).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: JSON.stringify(resultDocument({ hostname: id, tunnel: TUNNEL_DOWN }, true)),
      StandardErrorContent: '',
    });
  }
}

interface Emf {
  _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

/** The EMF lines of a round, read as CloudWatch would: fleet values per metric, and per-host lines. */
function readEmf(lines: string[]) {
  const parsed = lines.map((l) => JSON.parse(l) as Emf);
  const fleet = parsed.filter((l) => l._aws.CloudWatchMetrics[0]?.Dimensions[0]?.length === 1);
  const values = (name: string): number[] =>
    fleet.flatMap((l) => {
      const v = l[name];
      return v === undefined ? [] : Array.isArray(v) ? (v as number[]) : [v as number];
    });
  const sum = (name: string) => values(name).reduce((a, b) => a + b, 0);
  const perHost = parsed.filter((l) => typeof l.InstanceId === 'string');
  return { values, sum, hostsWithLines: new Set(perHost.map((l) => String(l.InstanceId))), perHost };
}

interface Note {
  state: string;
  until: string;
  source: string;
  message: string;
}

/** The maintenance note of a host's first record (asserting there is a record). */
function noteOf(record: Record<string, unknown> | undefined): Note | undefined {
  assert.ok(record !== undefined, 'the host has a record');
  return record.maintenance as Note | undefined;
}

function setup(maintenanceUntil: string | null = null) {
  const region = { region: 'eu-west-1' };
  const ec2 = createEc2Client(region);
  const ssm = createSsmClient(region);
  const logs = new MemoryLogSink();
  const emf: string[] = [];
  const metrics = () =>
    createEmfMetrics({
      namespace: 'CloudConnexa',
      serviceName: 'svc',
      stage: 'test',
      granularity: 'resource',
      write: (line) => emf.push(line),
    });
  const transport = createSsmTransport(ssm, { documentName: 'CC-Monitor', timeoutSeconds: 120 });
  const queue = createSqsJobQueue(createSqsClient(region), 'https://sqs.example/q');
  const captured = logCapture();
  const dispatchMetrics = metrics();
  const dispatch = () =>
    dispatchRound(
      {
        inventory: { discover: () => discoverInstances({ ec2, ssm }, { tagKey: TAG, tagValue: 'enabled' }) },
        transport,
        queue,
        logs,
        metrics: dispatchMetrics,
        parameters: createParameterStoreReader(ssm),
        now: () => NOW,
        claims: createMemoryClaimStore(),
        log: captured.log,
      },
      {
        stage: 'test',
        roundId: '20261130T120000Z-abcd',
        tagKey: TAG,
        defaults: DEFAULTS,
        logDir: '/home/ubuntu/Connexa-Logs',
        allowInstall: false,
        commandTimeoutSeconds: 120,
        executionTimeoutSeconds: 600,
        maintenanceUntil,
      },
    ).finally(() => dispatchMetrics.flush());
  const jobClaims = createMemoryClaimStore();
  const collectMetrics = metrics();
  /** One delivery of a queued message to the collector, as the SQS event source hands it over. */
  const deliver = (body: string) =>
    processJob(
      {
        transport,
        queue,
        logs,
        lookup: logs,
        claims: jobClaims,
        metrics: collectMetrics,
        now: () => NOW + 60_000,
        log: captured.log,
      },
      parseQueuedJob(body),
    );
  const queued = () => sqsMock.commandCalls(SendMessageCommand).map((c) => c.args[0].input.MessageBody ?? '');
  return { logs, emf, dispatch, deliver, queued, lines: captured.lines };
}

describe('maintenance windows through dispatch and collection', () => {
  beforeEach(() => {
    ec2Mock.reset();
    ssmMock.reset();
    sqsMock.reset();
    ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('measures and records a tagged host with its window, keeps it out of the flag metrics, once however often the job is delivered', async () => {
    // Prepare: four hosts, all flagged by what they measure.
    const inWindow = instanceId(1);
    const untagged = instanceId(2);
    const ended = instanceId(3);
    const offset = instanceId(4);
    const until = NOW + 2 * HOUR;
    fleet([
      { id: inWindow, tags: { [MAINTENANCE_TAG]: iso(until) } },
      { id: untagged },
      { id: ended, tags: { [MAINTENANCE_TAG]: iso(NOW - HOUR) } },
      // The same instant written with an offset: the same window.
      { id: offset, tags: { [MAINTENANCE_TAG]: '2026-11-30T15:00:00+01:00' } },
    ]);
    allFinishedFlagged([inWindow, untagged, ended, offset]);
    const round = setup();
    // Act: dispatch, then the collect job delivered twice (SQS at least once).
    const summary = await round.dispatch();
    const [jobBody] = round.queued();
    assert.ok(jobBody !== undefined, 'a collect job was queued');
    const first = await round.deliver(jobBody);
    const second = await round.deliver(jobBody);
    // Assess: measured (sent the command like any host: one command, the same settings).
    assert.equal(summary.dispatched, 4);
    assert.equal(summary.misconfigured, 0);
    const sent = ssmMock.commandCalls(SendCommandCommand).flatMap((c) => c.args[0].input.InstanceIds ?? []);
    assert.deepEqual(sent.sort(), [inWindow, untagged, ended, offset].sort());
    // The decision travels in the job: the collector reads no tags.
    const job = JSON.parse(jobBody) as CollectJob;
    assert.deepEqual(job.maintenance, {
      [inWindow]: { state: 'in', until: iso(until), source: 'tag' },
      [ended]: { state: 'ended', until: iso(NOW - HOUR), source: 'tag' },
      [offset]: { state: 'in', until: '2026-11-30T14:00:00.000Z', source: 'tag' },
    });
    assert.equal(first.outcome, 'collected');
    assert.equal(second.outcome, 'duplicate');
    // Recorded: exactly one result record each, with the measurements and the note.
    for (const id of [inWindow, untagged, ended, offset]) {
      const results = round.logs.records(id).filter((r) => r.record === 'result');
      assert.equal(results.length, 1, `${id}: one result record`);
    }
    const [inRecord] = round.logs.records(inWindow);
    assert.equal(
      (inRecord?.summary as { flagged?: number } | undefined)?.flagged,
      1,
      'its flags are recorded',
    );
    const inNote = noteOf(inRecord);
    assert.deepEqual(
      { ...inNote, message: undefined },
      { state: 'in', until: iso(until), source: 'tag', message: undefined },
    );
    assert.match(
      String(inNote?.message),
      /until 2026-11-30T14:00:00.000Z \(MaintenanceUntil tag\): measured and recorded, kept out of the flag alarms/,
    );
    assert.equal(round.logs.records(untagged)[0]?.maintenance, undefined);
    const endedNote = round.logs.records(ended)[0]?.maintenance as { state: string; message: string };
    assert.equal(endedNote.state, 'ended');
    assert.match(
      endedNote.message,
      /ended at 2026-11-30T11:00:00.000Z: the host is alarmed as usual; remove the tag/,
    );
    // The old script's seed line is written for every host, the maintenance one included.
    const seedLines = (id: string) =>
      (round.logs.streams.get(id) ?? []).filter((e) => e.message.startsWith('{"HOSTNAME"'));
    assert.equal(seedLines(inWindow).length, 1);
    // The legacy HighLatencyOrLoss filter counts the flagged hosts outside a window only.
    const counted = [inWindow, untagged, ended, offset].filter((id) =>
      seedLines(id).some((e) => filterPatternMatches(LEGACY_FILTER_PATTERN, e.message)),
    );
    assert.deepEqual(counted.sort(), [untagged, ended].sort());
    // Metrics, as CloudWatch would read the EMF lines of dispatch and both deliveries.
    const emf = readEmf(round.emf);
    assert.equal(emf.sum(FLEET_METRICS.hostsChecked), 4, 'every host was checked, once');
    assert.equal(emf.sum(FLEET_METRICS.hostsFlagged), 2, 'only the hosts outside a window count as flagged');
    assert.equal(emf.values(FLEET_METRICS.hostsFlagged).length, 2);
    assert.equal(emf.values(FLEET_METRICS.worstLossPct).length, 2, 'fleet worst loss: outside hosts only');
    assert.equal(emf.values(FLEET_METRICS.worstLatencyMs).length, 2);
    assert.deepEqual(emf.values(FLEET_METRICS.tunnelsDown), [1, 1], 'tunnels down: outside hosts only');
    assert.equal(emf.values(FLEET_METRICS.pathChanges).length, 2, 'path changes: outside hosts only');
    assert.equal(
      (inRecord?.tunnel as { state?: string } | undefined)?.state,
      'down',
      'recorded all the same',
    );
    assert.equal(emf.sum(FLEET_METRICS.hostsInMaintenance), 2);
    assert.deepEqual(
      [...emf.hostsWithLines].sort(),
      [untagged, ended].sort(),
      'no per-host or per-resource metric of a host in maintenance',
    );
    const perHostNames = new Set(
      emf.perHost.flatMap((l) => l._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name) ?? []),
    );
    for (const name of [
      HOST_METRICS.flagged,
      HOST_METRICS.lossPct,
      HOST_METRICS.jitterMs,
      RESOURCE_METRICS.lossPct,
    ])
      assert.ok(perHostNames.has(name), `${name} is still written for the others`);
  });

  it('reports an invalid MaintenanceUntil tag like any invalid tag: misconfigured, naming the tag and the format', async () => {
    // Prepare
    const bad = instanceId(1);
    const tooFar = instanceId(2);
    fleet([
      { id: bad, tags: { [MAINTENANCE_TAG]: '2026-12-01 evening' } },
      { id: tooFar, tags: { [MAINTENANCE_TAG]: '2027-06-01T00:00:00Z' } },
      { id: instanceId(3) },
    ]);
    const round = setup();
    // Act
    const summary = await round.dispatch();
    // Assess
    assert.equal(summary.misconfigured, 2);
    assert.equal(summary.dispatched, 1);
    const [badRecord] = round.logs.records(bad);
    assert.equal(badRecord?.record, 'misconfigured');
    assert.equal(badRecord?.field, MAINTENANCE_TAG);
    assert.equal(badRecord?.value, '2026-12-01 evening');
    assert.match(String(badRecord?.allowed), /ISO-8601 time with seconds and a time zone/);
    const [farRecord] = round.logs.records(tooFar);
    assert.match(String(farRecord?.allowed), /at most 30 days ahead \(it is 183 days ahead\)/);
    const emf = readEmf(round.emf);
    assert.equal(emf.sum(FLEET_METRICS.hostsMisconfigured), 2);
    assert.equal(emf.sum(FLEET_METRICS.hostsInMaintenance), 0);
    assert.equal(emf.values(FLEET_METRICS.hostsInMaintenance).length, 1, 'one 0 per round for the dashboard');
  });

  it('puts every host in the stage window, records the source, and writes no HostsFlagged point while it lasts', async () => {
    // Prepare
    const ids = [instanceId(1), instanceId(2)];
    fleet(ids.map((id) => ({ id })));
    allFinishedFlagged(ids);
    const round = setup(iso(NOW + HOUR));
    // Act
    await round.dispatch();
    const [jobBody = ''] = round.queued();
    await round.deliver(jobBody);
    // Assess
    for (const id of ids) {
      const note = round.logs.records(id)[0]?.maintenance as {
        state: string;
        source: string;
        message: string;
      };
      assert.equal(note.state, 'in');
      assert.equal(note.source, 'stage');
      assert.match(note.message, /maintenanceUntil stage param/);
    }
    const emf = readEmf(round.emf);
    assert.equal(emf.sum(FLEET_METRICS.hostsChecked), 2);
    assert.deepEqual(emf.values(FLEET_METRICS.hostsFlagged), []);
    assert.equal(emf.sum(FLEET_METRICS.hostsInMaintenance), 2);
  });

  it('does not apply a stage window past the limit (alarms stay on) and logs why', async () => {
    // Prepare: a Lambda clock far behind the packager's is the only way here.
    fleet([{ id: instanceId(1) }]);
    allFinishedFlagged([instanceId(1)]);
    const round = setup('2027-06-01T00:00:00Z');
    // Act
    await round.dispatch();
    await round.deliver(round.queued()[0] ?? '');
    // Assess
    assert.ok(
      round.lines.some(
        (l) =>
          l.level === 'error' &&
          /stage maintenance window is not applied: maintenanceUntil \(stage param\)/.test(String(l.message)),
      ),
    );
    assert.equal(readEmf(round.emf).sum(FLEET_METRICS.hostsFlagged), 1);
  });

  it('notes the window on a blind host’s record and counts it in maintenance, not in HostsBlind (a rebooting host must not page)', async () => {
    // Prepare
    const blind = instanceId(1);
    const blindOutside = instanceId(2);
    fleet([
      { id: blind, ping: 'ConnectionLost', tags: { [MAINTENANCE_TAG]: iso(NOW + HOUR) } },
      { id: blindOutside, ping: 'ConnectionLost' },
    ]);
    const round = setup();
    // Act
    const summary = await round.dispatch();
    // Assess: recorded as blind, with the note; counted in maintenance only.
    assert.equal(summary.blind, 2);
    const [record] = round.logs.records(blind);
    assert.equal(record?.record, 'blind');
    assert.equal(noteOf(record)?.state, 'in');
    const emf = readEmf(round.emf);
    assert.equal(emf.sum(FLEET_METRICS.hostsBlind), 1, 'only the host outside a window');
    assert.equal(emf.sum(FLEET_METRICS.hostsInMaintenance), 1);
  });

  it('keeps a host in a window out of HostsFailed, HostsBlind and HostsMisconfigured whatever goes wrong, with the note on each record', async () => {
    // Prepare: each fault twice, once on a host in a (tag) window, once outside.
    const until = iso(NOW + HOUR);
    const inWindow = { [MAINTENANCE_TAG]: until };
    const hosts = {
      // The agent failed on the host (exit 3, no document).
      failedIn: instanceId(1),
      failedOut: instanceId(2),
      // Another tag invalid: misconfigured.
      badTagIn: instanceId(3),
      badTagOut: instanceId(4),
      // Its resource list parameter cannot be read (dispatch-failed).
      noListIn: instanceId(5),
      noListOut: instanceId(6),
    };
    const bad = { [`${TAG}:LatencyThresholdMs`]: 'fast' };
    const list = { [`${TAG}:ResourcesParameter`]: '/cloudconnexa/lists/none' };
    fleet([
      { id: hosts.failedIn, tags: inWindow },
      { id: hosts.failedOut },
      { id: hosts.badTagIn, tags: { ...inWindow, ...bad } },
      { id: hosts.badTagOut, tags: bad },
      { id: hosts.noListIn, tags: { ...inWindow, ...list } },
      { id: hosts.noListOut, tags: list },
    ]);
    ssmMock.on(GetParametersCommand).rejects(
      Object.assign(new Error('User is not authorized to perform ssm:GetParameters'), {
        name: 'AccessDeniedException',
      }),
    );
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [hosts.failedIn, hosts.failedOut].map((id) => ({
        InstanceId: id,
        Status: 'Failed',
        StatusDetails: 'Failed',
      })),
    });
    ssmMock.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 3,
      StandardOutputContent: '',
      StandardErrorContent: 'cc-monitor: cannot write /home/ubuntu/Connexa-Logs: No space left on device',
    });
    const round = setup();
    // Act
    const summary = await round.dispatch();
    for (const body of round.queued()) await round.deliver(body);
    // Assess: every host has its record, saying what went wrong, the window noted where there is one.
    assert.equal(summary.misconfigured, 2);
    assert.equal(summary.failed, 2);
    const kinds = Object.fromEntries(
      Object.entries(hosts).map(([name, id]) => [name, round.logs.records(id)[0]?.record]),
    );
    assert.deepEqual(kinds, {
      failedIn: 'failure',
      failedOut: 'failure',
      badTagIn: 'misconfigured',
      badTagOut: 'misconfigured',
      noListIn: 'dispatch-failed',
      noListOut: 'dispatch-failed',
    });
    for (const id of [hosts.failedIn, hosts.badTagIn, hosts.noListIn]) {
      assert.deepEqual(
        { ...noteOf(round.logs.records(id)[0]), message: undefined },
        { state: 'in', until, source: 'tag', message: undefined },
        `${id}: its record says it is in a window`,
      );
    }
    for (const id of [hosts.failedOut, hosts.badTagOut, hosts.noListOut])
      assert.equal(round.logs.records(id)[0]?.maintenance, undefined);
    // Metrics: each outcome metric counts the host outside a window only; the three in a window are in maintenance.
    const emf = readEmf(round.emf);
    assert.equal(emf.sum(FLEET_METRICS.hostsFailed), 2, 'failedOut and noListOut');
    assert.equal(emf.sum(FLEET_METRICS.hostsMisconfigured), 1, 'badTagOut');
    assert.equal(emf.sum(FLEET_METRICS.hostsBlind), 0);
    assert.equal(emf.sum(FLEET_METRICS.hostsInMaintenance), 3);
    assert.deepEqual(emf.values(FLEET_METRICS.hostsChecked), []);
  });

  it('keeps a host in a window that SSM refuses (terminating) or whose command cannot be sent out of HostsBlind and HostsFailed', async () => {
    // Prepare: two batches by settings; SSM refuses one host of the first, and the second cannot be sent.
    const refusedIn = instanceId(1);
    const sentIn = instanceId(2);
    const unsentIn = instanceId(3);
    const unsentOut = instanceId(4);
    const window = { [MAINTENANCE_TAG]: iso(NOW + HOUR) };
    const other = { [`${TAG}:LatencyThresholdMs`]: '120' };
    fleet([
      { id: refusedIn, tags: window },
      { id: sentIn, tags: window },
      { id: unsentIn, tags: { ...window, ...other } },
      { id: unsentOut, tags: other },
    ]);
    ssmMock
      .on(SendCommandCommand, { InstanceIds: [refusedIn, sentIn] })
      .rejects(
        Object.assign(new Error(`Instances [${refusedIn}] not in a valid state for account 123456789012`), {
          name: 'InvalidInstanceId',
        }),
      )
      .on(SendCommandCommand, { InstanceIds: [sentIn] })
      .resolves({ Command: { CommandId: 'cmd-2' } })
      .on(SendCommandCommand, { InstanceIds: [unsentIn, unsentOut] })
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const round = setup();
    // Act
    const summary = await round.dispatch();
    // Assess
    assert.equal(summary.refused, 1);
    assert.equal(summary.failed, 2);
    assert.equal(round.logs.records(refusedIn)[0]?.status, 'SendCommandRefused');
    assert.equal(noteOf(round.logs.records(refusedIn)[0])?.state, 'in');
    assert.equal(round.logs.records(unsentIn)[0]?.record, 'dispatch-failed');
    assert.equal(noteOf(round.logs.records(unsentIn)[0])?.state, 'in');
    const emf = readEmf(round.emf);
    assert.equal(emf.sum(FLEET_METRICS.hostsBlind), 0, 'the refused host is in a window');
    assert.equal(emf.sum(FLEET_METRICS.hostsFailed), 1, 'unsentOut only');
    assert.equal(emf.sum(FLEET_METRICS.hostsInMaintenance), 3);
  });
});

describe('maintenance through the collector’s take-over and follow-up jobs', () => {
  const inWindow = instanceId(1);
  const other = instanceId(2);
  const note = { state: 'in', until: iso(NOW + HOUR), source: 'tag' } as const;
  const job = (overrides: Partial<CollectJob> = {}): CollectJob => ({
    v: 1,
    commandId: 'cmd-1',
    roundId: 'r-1',
    instanceIds: [inWindow, other],
    dispatchedAt: NOW - 60_000,
    deadline: NOW + 600_000,
    attempt: 1,
    settings: { Resources: '10.0.0.1' },
    maintenance: { [inWindow]: note },
    ...overrides,
  });

  function collector(now: () => number) {
    const region = { region: 'eu-west-1' };
    const logs = new MemoryLogSink();
    const metrics = new RecordingMetrics();
    const claims = createMemoryClaimStore();
    const ports = {
      transport: createSsmTransport(createSsmClient(region), {
        documentName: 'CC-Monitor',
        timeoutSeconds: 120,
      }),
      queue: createSqsJobQueue(createSqsClient(region), 'https://sqs.example/q'),
      logs,
      lookup: logs,
      claims,
      metrics,
      now,
      log: () => {},
    };
    return { ports, logs, metrics, claims };
  }

  beforeEach(() => {
    ssmMock.reset();
    sqsMock.reset();
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
  });

  it('counts a host in maintenance that a dead owner wrote once, still out of the flag metrics', async () => {
    // Prepare: an owner wrote the host's records and died before committing (so before counting).
    allFinishedFlagged([inWindow, other]);
    let clock = NOW;
    const { ports, logs, metrics, claims } = collector(() => clock);
    await claims.create('collect/cmd-1/1', { owner: 'a collector that died', claimedAt: NOW });
    // The dead owner, played by a collector with a claim store of its own.
    const dead = collector(() => NOW);
    await collectCommand({ ...dead.ports, logs, lookup: logs }, job({ instanceIds: [inWindow] }));
    assert.equal(logs.records(inWindow).length, 1, 'the dead owner’s write');
    // Act: the job's copy comes back after the visibility timeout and takes over.
    clock = NOW + CLAIM_STALE_MS + 1;
    const late = await collectCommand(ports, job());
    // Assess
    assert.equal(late.outcome, 'collected');
    assert.deepEqual(late.duplicates, [inWindow]);
    assert.deepEqual(late.written, [other]);
    assert.equal(logs.records(inWindow).length, 1, 'not written twice');
    const counted = metrics.checkedHosts
      .map((h) => [h.instanceId, h.flagged, h.inMaintenance === true] as const)
      .sort((a, b) => a[0].localeCompare(b[0]));
    assert.deepEqual(
      counted,
      [
        [inWindow, true, true],
        [other, true, false],
      ],
      'each counted once; the one in maintenance marked so, found in its stream or written now',
    );
  });

  it('carries the note to the follow-up job of a host still running, and only for the hosts it holds', async () => {
    // Prepare: the host in maintenance is still running at the first look; the other has finished.
    const { ports, logs, metrics } = collector(() => NOW);
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        { InstanceId: inWindow, Status: 'InProgress', StatusDetails: 'InProgress' },
        { InstanceId: other, Status: 'Success', StatusDetails: 'Success' },
      ],
    });
    ssmMock.on(GetCommandInvocationCommand, { InstanceId: other }).resolves({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: JSON.stringify(resultDocument({}, true)),
    });
    // Act 1
    const firstLook = await collectCommand(
      ports,
      job({ maintenance: { [inWindow]: note, [other]: { ...note } } }),
    );
    const followUp = parseCollectJob(
      sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? '',
    );
    // Act 2: the host finishes; the follow-up is delivered.
    allFinishedFlagged([inWindow]);
    await collectCommand(ports, followUp);
    // Assess
    assert.deepEqual(firstLook.written, [other]);
    assert.deepEqual(followUp.instanceIds, [inWindow]);
    assert.deepEqual(followUp.maintenance, { [inWindow]: note }, 'narrowed to the hosts it holds');
    const [record] = logs.records(inWindow);
    assert.equal(record?.record, 'result');
    assert.equal(noteOf(record)?.state, 'in');
    assert.ok(metrics.checkedHosts.every((h) => h.inMaintenance === true));
  });

  it('writes a deadline record with the note for a host in maintenance that never finished', async () => {
    // Prepare
    const { ports, logs, metrics } = collector(() => NOW + 700_000);
    ssmMock.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [{ InstanceId: inWindow, Status: 'InProgress', StatusDetails: 'InProgress' }],
    });
    // Act
    const result = await collectCommand(ports, job({ instanceIds: [inWindow] }));
    // Assess
    assert.deepEqual(result.deadline, [inWindow]);
    const [record] = logs.records(inWindow);
    assert.equal(record?.status, 'CollectorDeadline');
    assert.equal(noteOf(record)?.state, 'in');
    assert.deepEqual(metrics.failedHosts, [], 'not HostsFailed: a host in a window may be down for its work');
    assert.deepEqual(metrics.inWindow.failed, [inWindow]);
  });
});
