/**
 * Fleet benchmark: 10,000 enrolled instances against mocked AWS clients that
 * answer after ~50 ms, one full round (dispatch, then collection until every
 * host is written), once per metric granularity. Prints API calls per round,
 * wall times, peak RSS and the cost per host-month at 5-minute rounds.
 *
 * Run: node --import tsx bench/fleet.ts
 */
import { CloudWatchLogsClient, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { mapLimit } from '../common/concurrency.ts';
import { customMetricsPerHost, FLEET_METRICS, type MetricGranularity } from '../common/metric-names.ts';
import { RESULT_SCHEMA, type ResultDocument } from '../common/result-schema.ts';
import { createSqsJobQueue } from '../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../functions/aws/ssm-transport.ts';
import { collectCommand } from '../functions/collect/collect-command.ts';
import { type CollectJob, parseCollectJob } from '../functions/collect/job.ts';
import { dispatchRound } from '../functions/dispatch/dispatch-round.ts';
import { discoverInstances } from '../functions/enrollment/discover-instances.ts';
import { createCloudWatchLogSink } from '../functions/logs/log-writer.ts';
import { createEmfMetrics } from '../functions/metrics/emit-metrics.ts';
import { passFail as pass, printTable } from './table.ts';

const HOSTS = 10_000;
const LATENCY_MS = 50;
const RESOURCES_PER_HOST = 3;
/** Share of hosts still running at the first look, failed, flagged, and blind. */
const SLOW = 0.02;
const FAILED = 0.01;
const FLAGGED = 0.05;
const BLIND = 0.005;
/** SQS batch size of the collector's event source and concurrent collector invocations. */
const SQS_BATCH = 10;
const COLLECTOR_CONCURRENCY = 20;

/** Prices from ../shared/reference/aws-limits.md. */
const PRICES = {
  lambdaGbSecondArm: 0.0000133,
  lambdaPerRequest: 0.2 / 1_000_000,
  logIngestPerGb: 0.5,
  customMetricMonth: 0.3,
  alarmMonth: 0.1,
};
/** Assumed function memory (serverless.yml) and the stack's fleet alarms (flagged, worst latency, worst loss, blind, DLQ). */
const LAMBDA_MEMORY_GB = 0.5;
const FLEET_ALARMS = 5;
const ROUNDS_PER_MONTH = (30 * 24 * 60) / 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

function resultStdout(hostIndex: number): string {
  const flagged = hostIndex % Math.round(1 / FLAGGED) === 0;
  const hops = Array.from({ length: 6 }, (_, i) => ({
    ttl: i + 1,
    host: `10.${i}.0.1`,
    lossPct: 0,
    sent: 25,
    lastMs: 10 + i,
    avgMs: flagged ? 90 + i : 10 + i,
    bestMs: 9,
    worstMs: 20,
    stdevMs: 1.1,
  }));
  const resources = Array.from({ length: RESOURCES_PER_HOST }, (_, r) => ({
    target: `10.20.${r}.10`,
    address: `10.20.${r}.10`,
    method: 'icmp' as const,
    latencyMs: flagged ? 95 : 15,
    latencyBasis: 'icmp-echo' as const,
    requestMs: null,
    lossPct: 0,
    latencyFlag: flagged,
    lossFlag: false,
    verdict: flagged ? ('latency' as const) : ('ok' as const),
    unmeasured: null,
    trouble: null,
    hops,
    errors: [],
    durationMs: 25_000,
  }));
  const doc: ResultDocument = {
    schema: RESULT_SCHEMA,
    agentVersion: '1.0.0',
    hostname: `connector-${hostIndex}`,
    outcome: 'completed',
    error: null,
    mtrId: flagged ? '20260101120000' : '0',
    startedAt: '2026-01-01T12:00:00.000Z',
    finishedAt: '2026-01-01T12:00:27.000Z',
    timings: { totalMs: 27_000, probesMs: 25_000, gatewayDiscoveryMs: 30 },
    settings: null,
    summary: {
      resources: RESOURCES_PER_HOST,
      flagged: flagged ? RESOURCES_PER_HOST : 0,
      latencyFlag: flagged,
      lossFlag: false,
      worstLatencyMs: flagged ? 95 : 15,
      worstLossPct: 0,
    },
    resources,
    gateway: { ip: '203.0.113.5', source: 'openvpn3', latencyMs: 12, lossPct: 0, hops, errors: [] },
    seed: {
      HOSTNAME: `connector-${hostIndex}`,
      'RESOURCE(S)': resources.map((r) => r.target),
      GATEWAY_IP: '203.0.113.5',
      LATENCY_FLAG: flagged ? '1' : '0',
      'LATENCY_(ms)': flagged ? '95' : '15',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': flagged ? '20260101120000' : '0',
    },
    files: [],
    warnings: [],
    truncated: null,
  };
  return JSON.stringify(doc);
}

interface RoundFigures {
  granularity: MetricGranularity;
  calls: Record<string, number>;
  dispatchMs: number;
  collectMs: number;
  /** Sum of the collector invocations' durations, as Lambda bills them. */
  collectBilledMs: number;
  collectInvocations: number;
  logBytes: number;
  emfBytes: number;
  peakRssMb: number;
  hostsWritten: number;
}

async function runRound(granularity: MetricGranularity): Promise<RoundFigures> {
  const calls: Record<string, number> = {};
  const count = (name: string) => {
    calls[name] = (calls[name] ?? 0) + 1;
  };
  const answer = async <T>(name: string, value: () => T): Promise<T> => {
    count(name);
    await sleep(LATENCY_MS);
    return value();
  };
  const ec2Mock = mockClient(EC2Client);
  const ssmMock = mockClient(SSMClient);
  const sqsMock = mockClient(SQSClient);
  const logsMock = mockClient(CloudWatchLogsClient);
  const blindEvery = Math.round(1 / BLIND);
  const failedEvery = Math.round(1 / FAILED);
  const slowEvery = Math.round(1 / SLOW);
  const indexOf = (instanceId: string) => Number.parseInt(instanceId.slice(2), 16);

  ec2Mock.on(DescribeInstancesCommand).callsFake((input: { NextToken?: string }) =>
    answer('EC2 DescribeInstances', () => {
      const start = Number(input.NextToken ?? '0');
      const end = Math.min(HOSTS, start + 1000);
      return {
        Reservations: [
          {
            Instances: Array.from({ length: end - start }, (_, i) => ({
              InstanceId: id(start + i),
              Tags: [{ Key: 'CloudConnexaMonitor', Value: 'enabled' }],
            })),
          },
        ],
        NextToken: end < HOSTS ? String(end) : undefined,
      };
    }),
  );
  ssmMock.on(DescribeInstanceInformationCommand).callsFake((input: { Filters?: { Values?: string[] }[] }) =>
    answer('SSM DescribeInstanceInformation', () => ({
      InstanceInformationList: (input.Filters?.[0]?.Values ?? []).map((instanceId) => ({
        InstanceId: instanceId,
        PingStatus: indexOf(instanceId) % blindEvery === 1 ? 'ConnectionLost' : 'Online',
      })),
    })),
  );
  const commands = new Map<string, { ids: string[]; looks: number }>();
  ssmMock.on(SendCommandCommand).callsFake((input: { InstanceIds?: string[] }) =>
    answer('SSM SendCommand', () => {
      const commandId = `cmd-${commands.size + 1}`;
      commands.set(commandId, { ids: input.InstanceIds ?? [], looks: 0 });
      return { Command: { CommandId: commandId } };
    }),
  );
  ssmMock.on(ListCommandInvocationsCommand).callsFake((input: { CommandId?: string; NextToken?: string }) =>
    answer('SSM ListCommandInvocations', () => {
      const command = commands.get(input.CommandId ?? '');
      if (command === undefined) return { CommandInvocations: [] };
      command.looks++;
      return {
        CommandInvocations: command.ids.map((instanceId) => {
          const running = command.looks === 1 && indexOf(instanceId) % slowEvery === 3;
          const failed = indexOf(instanceId) % failedEvery === 7;
          const status = running ? 'InProgress' : failed ? 'Failed' : 'Success';
          return { InstanceId: instanceId, Status: status, StatusDetails: status };
        }),
      };
    }),
  );
  ssmMock.on(GetCommandInvocationCommand).callsFake((input: { InstanceId?: string }) =>
    answer('SSM GetCommandInvocation', () => {
      const n = indexOf(input.InstanceId ?? 'i-0');
      const failed = n % failedEvery === 7;
      return failed
        ? {
            Status: 'Failed',
            StatusDetails: 'Failed',
            ResponseCode: 3,
            StandardOutputContent: '',
            StandardErrorContent: 'mtr: command not found',
          }
        : {
            Status: 'Success',
            StatusDetails: 'Success',
            ResponseCode: 0,
            StandardOutputContent: resultStdout(n),
            StandardErrorContent: '',
          };
    }),
  );
  const queue: { job: CollectJob; delay: number }[] = [];
  sqsMock.on(SendMessageCommand).callsFake((input: { MessageBody?: string; DelaySeconds?: number }) =>
    answer('SQS SendMessage', () => {
      queue.push({ job: parseCollectJob(input.MessageBody ?? ''), delay: input.DelaySeconds ?? 0 });
      return { MessageId: String(queue.length) };
    }),
  );
  let logBytes = 0;
  logsMock.on(PutLogEventsCommand).callsFake((input: { logEvents?: { message?: string }[] }) =>
    answer('Logs PutLogEvents', () => {
      for (const e of input.logEvents ?? []) logBytes += Buffer.byteLength(e.message ?? '', 'utf8') + 26;
      return {};
    }),
  );

  const ec2 = new EC2Client({ region: 'eu-west-1' });
  const ssm = new SSMClient({ region: 'eu-west-1' });
  const sqs = new SQSClient({ region: 'eu-west-1' });
  const logs = createCloudWatchLogSink(
    new CloudWatchLogsClient({ region: 'eu-west-1' }),
    'CloudConnexa-Monitor-Logs',
  );
  const transport = createSsmTransport(ssm, { documentName: 'cc-monitor', timeoutSeconds: 120 });
  const jobQueue = createSqsJobQueue(sqs, 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect');

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 25);

  // EMF goes to stdout in Lambda (and is billed as log ingestion): count it, do not print it.
  let emfBytes = 0;
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    emfBytes += Buffer.byteLength(String(chunk), 'utf8') + 26;
    return true;
  }) as typeof process.stdout.write;

  const metricsOptions = { namespace: 'CloudConnexa', serviceName: 'bench', stage: 'bench', granularity };
  let dispatchMs = 0;
  let collectMs = 0;
  let collectBilledMs = 0;
  let collectInvocations = 0;
  let hostsWritten = 0;
  try {
    const dispatchStart = performance.now();
    const dispatchMetrics = createEmfMetrics(metricsOptions);
    await dispatchRound(
      {
        inventory: {
          discover: () =>
            discoverInstances({ ec2, ssm }, { tagKey: 'CloudConnexaMonitor', tagValue: 'enabled' }),
        },
        transport,
        queue: jobQueue,
        logs,
        metrics: dispatchMetrics,
        now: Date.now,
      },
      {
        stage: 'bench',
        roundId: 'bench-round',
        tagKey: 'CloudConnexaMonitor',
        defaults: {
          resources: '10.20.0.10,10.20.1.10,10.20.2.10',
          count: 25,
          intervalSec: 1,
          latencyThresholdMs: 75,
          lossThresholdPct: 5,
          hops: 3,
          lossRule: 'persistent',
          tcpPort: 443,
        },
        logDir: '/home/ubuntu/Connexa-Logs',
        allowInstall: false,
        commandTimeoutSeconds: 120,
        executionTimeoutSeconds: 600,
      },
    );
    dispatchMetrics.flush();
    dispatchMs = performance.now() - dispatchStart;

    // Collection: each wave is what SQS has released; delays are not waited
    // for (they are idle time, not work), every job is processed.
    const collectStart = performance.now();
    while (queue.length > 0) {
      const wave = queue.splice(0, queue.length);
      const batches: CollectJob[][] = [];
      for (let i = 0; i < wave.length; i += SQS_BATCH)
        batches.push(wave.slice(i, i + SQS_BATCH).map((w) => w.job));
      await mapLimit(batches, COLLECTOR_CONCURRENCY, async (batch) => {
        collectInvocations++;
        const started = performance.now();
        const metrics = createEmfMetrics(metricsOptions);
        for (const job of batch) {
          const result = await collectCommand(
            { transport, queue: jobQueue, logs, lookup: logs, metrics, now: Date.now },
            job,
            { redelivered: false },
          );
          hostsWritten += result.written.length + result.deadline.length;
        }
        metrics.flush();
        collectBilledMs += performance.now() - started;
      });
    }
    collectMs = performance.now() - collectStart;
  } finally {
    process.stdout.write = write;
    clearInterval(sampler);
    ec2Mock.restore();
    ssmMock.restore();
    sqsMock.restore();
    logsMock.restore();
  }
  return {
    granularity,
    calls,
    dispatchMs,
    collectMs,
    collectBilledMs,
    collectInvocations,
    logBytes,
    emfBytes,
    peakRssMb: peakRss / 1024 / 1024,
    hostsWritten,
  };
}

function costPerHostMonth(f: RoundFigures, hosts: number) {
  const requests = (1 + f.collectInvocations) * ROUNDS_PER_MONTH * PRICES.lambdaPerRequest;
  const gbSeconds = ((f.dispatchMs + f.collectBilledMs) / 1000) * LAMBDA_MEMORY_GB;
  const compute = gbSeconds * ROUNDS_PER_MONTH * PRICES.lambdaGbSecondArm;
  const ingest = ((f.logBytes + f.emfBytes) * ROUNDS_PER_MONTH * PRICES.logIngestPerGb) / 1e9;
  const fleetMetrics = Object.keys(FLEET_METRICS).length * PRICES.customMetricMonth;
  const alarms = FLEET_ALARMS * PRICES.alarmMonth;
  const shared = (requests + compute + ingest + fleetMetrics + alarms) / hosts;
  const perHostMetrics = customMetricsPerHost(f.granularity, RESOURCES_PER_HOST) * PRICES.customMetricMonth;
  return {
    requests: requests / hosts,
    compute: compute / hosts,
    ingest: ingest / hosts,
    fixed: (fleetMetrics + alarms) / hosts,
    beforePerHostMetrics: shared,
    perHostMetrics,
    total: shared + perHostMetrics,
  };
}

const usd = (n: number) => `$${n.toFixed(4)}`;

export async function runFleetBench(): Promise<void> {
  const rounds: RoundFigures[] = [];
  for (const granularity of ['fleet', 'host', 'resource'] as const) rounds.push(await runRound(granularity));
  const first = rounds[0];
  if (first === undefined) return;
  const hostRounds = HOSTS;

  console.log(`\nFleet bench: ${HOSTS} enrolled instances, mocked AWS answering after ${LATENCY_MS} ms`);
  console.log(
    `(${BLIND * 100}% blind, ${SLOW * 100}% still running at the first look, ${FAILED * 100}% failed, ${FLAGGED * 100}% flagged)\n`,
  );
  printTable({
    title: 'API calls per round (granularity fleet)',
    headers: ['api', 'calls', 'per host'],
    rows: Object.entries(first.calls)
      .sort()
      .map(([api, n]) => [api, String(n), (n / hostRounds).toFixed(4)]),
  });
  printTable({
    title: 'Dispatch and collection of one round',
    headers: [
      'granularity',
      'dispatch s',
      'collection s',
      'collector invocations',
      'hosts written',
      'peak RSS MB',
      'log MB/round',
      'EMF MB/round',
    ],
    rows: rounds.map((f) => [
      f.granularity,
      (f.dispatchMs / 1000).toFixed(2),
      (f.collectMs / 1000).toFixed(2),
      String(f.collectInvocations),
      String(f.hostsWritten),
      String(Math.round(f.peakRssMb)),
      (f.logBytes / 1e6).toFixed(2),
      (f.emfBytes / 1e6).toFixed(2),
    ]),
    notes: [
      'The three granularities run one after another in one process: later peak RSS figures include earlier garbage.',
    ],
  });
  printTable({
    title: `Cost per host-month at 5-minute rounds (${ROUNDS_PER_MONTH} rounds, ${LAMBDA_MEMORY_GB * 1024} MB arm64, ${RESOURCES_PER_HOST} resources/host)`,
    headers: [
      'granularity',
      'Lambda requests',
      'Lambda GB-s',
      'log ingestion',
      'fleet metrics+alarms',
      'before per-host metrics',
      'per-host metrics',
      'total',
    ],
    rows: rounds.map((f) => {
      const c = costPerHostMonth(f, HOSTS);
      return [
        f.granularity,
        usd(c.requests),
        usd(c.compute),
        usd(c.ingest),
        usd(c.fixed),
        usd(c.beforePerHostMetrics),
        `${customMetricsPerHost(f.granularity, RESOURCES_PER_HOST)} x $0.30 = ${usd(c.perHostMetrics)}`,
        usd(c.total),
      ];
    }),
  });
  const sendPer50 = ((first.calls['SSM SendCommand'] ?? 0) / HOSTS) * 50;
  const getPerHost = (first.calls['SSM GetCommandInvocation'] ?? 0) / HOSTS;
  const putPerHost = (first.calls['Logs PutLogEvents'] ?? 0) / HOSTS;
  const worstBefore = Math.max(...rounds.map((f) => costPerHostMonth(f, HOSTS).beforePerHostMetrics));
  const worstDispatchMs = Math.max(...rounds.map((f) => f.dispatchMs));
  printTable({
    title: 'Fleet goals',
    headers: ['goal', 'measured', 'result'],
    rows: [
      ['<= 1 SendCommand per 50 hosts', sendPer50.toFixed(3), pass(sendPer50 <= 1)],
      ['<= 1.1 GetCommandInvocation per host-round', getPerHost.toFixed(3), pass(getPerHost <= 1.1)],
      ['<= 1 PutLogEvents per host-round', putPerHost.toFixed(3), pass(putPerHost <= 1)],
      [
        'dispatch of 10,000 hosts within 60 s',
        `${(worstDispatchMs / 1000).toFixed(2)} s`,
        pass(worstDispatchMs <= 60_000),
      ],
      ['< $0.05 per host-month before per-host metrics', usd(worstBefore), pass(worstBefore < 0.05)],
    ],
  });
}

// Run directly (not when bench/run.ts imports it).
if (/bench[\\/]fleet\.ts$/.test(process.argv[1] ?? '')) {
  runFleetBench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
