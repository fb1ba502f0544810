import { chunk, mapLimit } from '../common/concurrency.ts';
import { customMetricsPerHost, FLEET_METRICS, type MetricGranularity } from '../common/metric-names.ts';
import { RESULT_SCHEMA, type ResultDocument } from '../common/result-schema.ts';
import {
  createDynamoDbClient,
  createEc2Client,
  createLogsClient,
  createSqsClient,
  createSsmClient,
} from '../functions/aws/clients.ts';
import { createDynamoDbClaimStore } from '../functions/aws/dynamodb-claims.ts';
import { createSqsJobQueue } from '../functions/aws/sqs-queue.ts';
import { createSsmTransport } from '../functions/aws/ssm-transport.ts';
import { collectBatch } from '../functions/collect/handler.ts';
import { CLAIM_TTL_SECONDS } from '../functions/collect/job-claims.ts';
import { dispatchRound } from '../functions/dispatch/dispatch-round.ts';
import { roundClaimKey } from '../functions/dispatch/round-claim.ts';
import { discoverInstances } from '../functions/enrollment/discover-instances.ts';
import { createCloudWatchLogSink } from '../functions/logs/log-writer.ts';
import { createEmfMetrics } from '../functions/metrics/emit-metrics.ts';
import {
  type FaultRates,
  type FleetShape,
  instanceIdOf,
  NO_FAULTS,
  type QueuedMessage,
  SimulatedAws,
} from './fleet-aws.ts';
import { passFail as pass, printTable } from './table.ts';

const HOSTS = 10_000;
const LATENCY_MS = 50;
const RESOURCES_PER_HOST = 3;
const SHAPE: FleetShape = {
  hosts: HOSTS,
  blind: 0.005,
  slow: 0.02,
  failed: 0.01,
  flagged: 0.05,
  // The first look comes 42 s after SendCommand (expected run time + 5 s): slow
  // hosts are still running then and finish before the second, 15 s later.
  runMs: 30_000,
  slowRunMs: 50_000,
};
/** SQS event source and queue settings of serverless.yml. */
const SQS_BATCH = 10;
const COLLECTOR_CONCURRENCY = 20;
const VISIBILITY_TIMEOUT_MS = 360_000;
const MAX_RECEIVE_COUNT = 5;
const MONITOR_LOG_GROUP = 'CloudConnexa-Monitor-Logs';
const CLAIMS_TABLE = 'cloudconnexa-monitor-bench-claims';
const ROUND_ID = '20260101T120000Z-bench000';
const ROUND_EVENT = { time: '2026-01-01T12:00:00Z' };

export const ONE_PERCENT: FaultRates = {
  throttle: 0.01,
  duplicateSend: 0.01,
  duplicateDelivery: 0.01,
  rejectedEvents: 0.01,
  lostPutResponse: 0.01,
  terminated: 0.01,
  failedSendCommand: 0.01,
  collectorCrash: 0.01,
};

const FAULT_LABELS: Record<keyof FaultRates, string> = {
  throttle: 'throttled calls',
  duplicateSend: 'SendMessage stored twice',
  duplicateDelivery: 'messages delivered twice',
  rejectedEvents: 'PutLogEvents refusing events',
  lostPutResponse: 'PutLogEvents stored, answer lost',
  terminated: 'instances terminated',
  failedSendCommand: 'SendCommand calls failed',
  collectorCrash: 'collector invocations killed',
};

/**
 * Prices from ../shared/reference/aws-limits.md; DynamoDB's are its on-demand
 * prices in us-east-1 (AWS pricing page, since the November 2024 reduction):
 * a write request unit per write of an item up to 1 KB (a write whose condition
 * fails is billed too), a read request unit per strongly consistent read up to
 * 4 KB, storage per GB-month (the first 25 GB free, not counted here).
 */
const PRICES = {
  lambdaGbSecondArm: 0.0000133,
  lambdaPerRequest: 0.2 / 1_000_000,
  logIngestPerGb: 0.5,
  customMetricMonth: 0.3,
  alarmMonth: 0.1,
  dynamoWritePerMillion: 0.625,
  dynamoReadPerMillion: 0.125,
  dynamoStorageGbMonth: 0.25,
};
/** Assumed function memory (serverless.yml) and the stack's fleet alarms (flagged, worst latency, worst loss, blind, DLQ). */
const LAMBDA_MEMORY_GB = 0.5;
const FLEET_ALARMS = 5;
const ROUNDS_PER_MONTH = (30 * 24 * 60) / 5;

function resultStdout(hostIndex: number): string {
  const flagged = hostIndex % Math.round(1 / SHAPE.flagged) === 0;
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
    jitterMs: 0.9,
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
    jitterMs: 0.9,
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
      jitterFlag: false,
      worstJitterMs: 0.9,
    },
    resources,
    gateway: { ip: '203.0.113.5', source: 'openvpn3', latencyMs: 12, lossPct: 0, hops, errors: [] },
    seed: {
      HOSTNAME: `connector-${hostIndex}`,
      'RESOURCE(S)': resources.map((r) => r.target),
      GATEWAY_IP: '203.0.113.5',
      LATENCY_FLAG: flagged ? '1' : '0',
      'LATENCY_(ms)': flagged ? '95.0' : '15.0',
      'LATENCY_THRESHOLD_(ms)': '75',
      LOSS_FLAG: '0',
      'HOP_LOSS_(%)': '0.0',
      'LOSS_THRESHOLD_(%)': '5',
      'MTR-ID_(YYYYMMDDHHMMSS)': flagged ? '20260101120000' : '0',
    },
    files: [],
    warnings: [],
    truncated: null,
  };
  return JSON.stringify(doc);
}

export interface Scenario {
  name: string;
  hosts: number;
  granularity: MetricGranularity;
  faults: FaultRates;
  logGroupDeleted?: boolean;
  /** The scheduled event delivered twice: two dispatch invocations of the round at once. */
  dispatchTwice?: boolean;
}

export interface Integrity {
  hosts: number;
  recorded: number;
  /** Hosts with no record of the round. */
  lost: number;
  /** Records beyond the first, over all hosts (a host written twice counts 1). */
  duplicated: number;
  kinds: Record<string, number>;
  /** Hosts whose batch failed at SendCommand (a failed call, or a refusal not isolated). */
  sendCommandFailed: number;
  /** Hosts SSM refused at SendCommand (InvalidInstanceId), recorded blind; the rest of their batch was sent. */
  sendCommandRefused: number;
  /** Of those, hosts that were not terminated: isolation blamed the wrong instance (goal: 0). */
  refusedNotTerminated: number;
  metrics: { checked: number; failed: number; blind: number; misconfigured: number };
}

export interface RoundFigures {
  scenario: Scenario;
  calls: Record<string, number>;
  /** Calls a fault answered, per API. */
  faultedCalls: Record<string, number>;
  injected: Record<keyof FaultRates, number>;
  dispatchMs: number;
  collectMs: number;
  /** Sum of the collector invocations' durations, as Lambda bills them. */
  collectBilledMs: number;
  collectInvocations: number;
  /** Virtual minutes from dispatch to an empty queue. */
  roundMinutes: number;
  logBytes: number;
  emfBytes: number;
  peakRssMb: number;
  integrity: Integrity;
  deadLetters: { count: number; reasons: string[] };
  collectorErrorLines: number;
  /** Claim items the round left in the table, and their stored size (DynamoDB counts 100 bytes of overhead per item). */
  claimItems: number;
  claimItemBytes: number;
  /** Dispatch invocations that found the round claimed and sent nothing. */
  duplicateDispatches: number;
}

/** An item's size as DynamoDB bills it: attribute names and values, plus 100 bytes per item. */
function itemBytes(item: Record<string, unknown>): number {
  let bytes = 100;
  for (const [name, value] of Object.entries(item)) bytes += name.length + JSON.stringify(value).length;
  return bytes;
}

function emfSum(lines: string[]) {
  const sum = { checked: 0, failed: 0, blind: 0, misconfigured: 0 };
  const add = (value: unknown) =>
    Array.isArray(value) ? value.reduce((n: number, v) => n + Number(v), 0) : Number(value ?? 0);
  for (const line of lines) {
    if (!line.startsWith('{"_aws"')) continue;
    const emf = JSON.parse(line) as Record<string, unknown>;
    sum.checked += add(emf[FLEET_METRICS.hostsChecked]);
    sum.failed += add(emf[FLEET_METRICS.hostsFailed]);
    sum.blind += add(emf[FLEET_METRICS.hostsBlind]);
    sum.misconfigured += add(emf[FLEET_METRICS.hostsMisconfigured]);
  }
  return sum;
}

function integrityOf(aws: SimulatedAws, hosts: number, emf: string[]): Integrity {
  const group = aws.streams.get(MONITOR_LOG_GROUP) ?? new Map();
  const kinds: Record<string, number> = {};
  let lost = 0;
  let duplicated = 0;
  let recorded = 0;
  let sendCommandFailed = 0;
  let sendCommandRefused = 0;
  let refusedNotTerminated = 0;
  for (let n = 0; n < hosts; n++) {
    const records = (group.get(instanceIdOf(n)) ?? [])
      .filter((e: { message: string }) => e.message.startsWith('{"record":'))
      .map((e: { message: string }) => JSON.parse(e.message) as Record<string, unknown>)
      .filter((r: Record<string, unknown>) => r.roundId === ROUND_ID);
    if (records.length === 0) lost++;
    else recorded++;
    duplicated += Math.max(0, records.length - 1);
    for (const r of records) {
      const kind = r.status === 'CollectorDeadline' ? 'deadline' : String(r.record);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      if (r.status === 'SendCommandFailed') sendCommandFailed++;
      if (r.status === 'SendCommandRefused') {
        sendCommandRefused++;
        if (!aws.terminated.has(instanceIdOf(n))) refusedNotTerminated++;
      }
    }
  }
  return {
    hosts,
    recorded,
    lost,
    duplicated,
    kinds,
    sendCommandFailed,
    sendCommandRefused,
    refusedNotTerminated,
    metrics: emfSum(emf),
  };
}

/** One round of a scenario; `latencyMs` is how long each simulated call takes (real time). */
export async function runRound(scenario: Scenario, latencyMs = LATENCY_MS): Promise<RoundFigures> {
  const aws = new SimulatedAws({ ...SHAPE, hosts: scenario.hosts }, scenario.faults, {
    latencyMs,
    seed: 20260101,
    monitorLogGroup: MONITOR_LOG_GROUP,
    logGroupDeleted: scenario.logGroupDeleted ?? false,
    resultStdout,
  });
  // Steady state: every host's stream exists from earlier rounds.
  if (scenario.logGroupDeleted !== true) {
    const group = new Map<string, { timestamp: number; message: string }[]>();
    for (let n = 0; n < scenario.hosts; n++) group.set(instanceIdOf(n), []);
    aws.streams.set(MONITOR_LOG_GROUP, group);
  }
  const region = { region: 'eu-west-1' };
  const ec2 = createEc2Client(region);
  const ssm = createSsmClient(region);
  const sqs = createSqsClient(region);
  const logsClient = createLogsClient(region);
  const now = () => aws.clock.now;
  const logs = createCloudWatchLogSink(logsClient, MONITOR_LOG_GROUP, now);
  const claims = createDynamoDbClaimStore(createDynamoDbClient(region), CLAIMS_TABLE);
  const transport = createSsmTransport(ssm, { documentName: 'cc-monitor', timeoutSeconds: 120 });
  const queue = createSqsJobQueue(sqs, 'https://sqs.eu-west-1.amazonaws.com/123456789012/collect');

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 25);
  // EMF goes to stdout in Lambda (billed as log ingestion): captured there (Powertools
  // also flushes on its own at 100 values), kept for the sums, lost after a crash.
  const emf: string[] = [];
  let emfBytes = 0;
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    // Anything else on stdout (a test runner's report) goes through untouched.
    if (!text.startsWith('{"_aws"')) return (stdoutWrite as (...args: unknown[]) => boolean)(chunk, ...rest);
    if (aws.killed()) return true;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      emf.push(line);
      emfBytes += Buffer.byteLength(line, 'utf8') + 26;
    }
    return true;
  }) as typeof process.stdout.write;
  const metricsOptions = {
    namespace: 'CloudConnexa',
    serviceName: 'bench',
    stage: 'bench',
    granularity: scenario.granularity,
  };
  let collectorErrorLines = 0;
  const log = (line: Record<string, unknown>) => {
    if (line.level === 'error') collectorErrorLines++;
  };
  const deadLetters: QueuedMessage[] = [];
  const reasons = new Map<string, string>();
  let dispatchMs = 0;
  let collectMs = 0;
  let collectBilledMs = 0;
  let collectInvocations = 0;
  let duplicateDispatches = 0;
  const startedAt = aws.clock.now;
  // The records writer and the queue log to the console; a benchmark prints tables only.
  const quiet = { log: console.log, error: console.error };
  console.log = () => {};
  console.error = () => {};
  try {
    const dispatchStart = performance.now();
    // EventBridge delivers the scheduled event at least once: with dispatchTwice, two
    // invocations of the same event run at once (the second finds the round claimed).
    const dispatches = await Promise.all(
      Array.from({ length: scenario.dispatchTwice === true ? 2 : 1 }, async () => {
        const dispatchMetrics = createEmfMetrics(metricsOptions);
        try {
          return await dispatchRound(
            {
              inventory: {
                discover: () =>
                  discoverInstances({ ec2, ssm }, { tagKey: 'CloudConnexaMonitor', tagValue: 'enabled' }),
              },
              transport,
              queue,
              logs,
              metrics: dispatchMetrics,
              now,
              claims,
            },
            {
              stage: 'bench',
              roundId: ROUND_ID,
              roundClaimKey: roundClaimKey(ROUND_EVENT, ROUND_ID),
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
                jitterThresholdMs: 0,
              },
              logDir: '/home/ubuntu/Connexa-Logs',
              allowInstall: false,
              commandTimeoutSeconds: 120,
              executionTimeoutSeconds: 240,
            },
          );
        } finally {
          dispatchMetrics.flush();
        }
      }),
    );
    duplicateDispatches = dispatches.filter((d) => d.duplicateOf !== undefined).length;
    dispatchMs = performance.now() - dispatchStart;

    // Collection: waves of what SQS releases at the virtual time; each message
    // visible at once, in batches of 10, to at most 20 invocations at a time.
    const collectStart = performance.now();
    for (let wave = aws.nextWave(); wave.length > 0; wave = aws.nextWave()) {
      const deliveries = aws.deliveries(wave);
      const outcomes = await mapLimit(chunk(deliveries, SQS_BATCH), COLLECTOR_CONCURRENCY, async (batch) => {
        collectInvocations++;
        const started = performance.now();
        const failed = await aws.runInvocation(aws.crashPoint(), async () => {
          const metrics = createEmfMetrics(metricsOptions);
          const response = await collectBatch(
            { Records: batch.map((m) => sqsRecord(m)) },
            { transport, queue, logs, lookup: logs, claims, metrics, now, log },
          );
          metrics.flush();
          return aws.killed() ? null : new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
        });
        collectBilledMs += performance.now() - started;
        return { batch, failed };
      });
      for (const message of wave) {
        const tries = outcomes.filter((o) => o.batch.includes(message));
        message.receiveCount += tries.reduce((n, o) => n + o.batch.filter((m) => m === message).length, 0);
        // Deleted when one delivery succeeded; a killed invocation reports nothing.
        if (tries.some((o) => o.failed !== null && !o.failed.has(message.messageId))) continue;
        if (message.receiveCount >= MAX_RECEIVE_COUNT) {
          deadLetters.push(message);
          continue;
        }
        message.visibleAt = aws.clock.now + VISIBILITY_TIMEOUT_MS;
        aws.queue.push(message);
      }
      aws.clock.now += 1000;
    }
    collectMs = performance.now() - collectStart;
  } finally {
    process.stdout.write = stdoutWrite;
    console.log = quiet.log;
    console.error = quiet.error;
    clearInterval(sampler);
    aws.restore();
  }
  for (const message of deadLetters) {
    const body = JSON.parse(message.body) as { lastError?: string };
    const reason = (body.lastError ?? 'no reason in the job').slice(0, 160);
    reasons.set(reason, reason);
  }
  return {
    scenario,
    calls: aws.calls,
    faultedCalls: aws.faultedCalls,
    injected: aws.injected,
    dispatchMs,
    collectMs,
    collectBilledMs,
    collectInvocations,
    roundMinutes: (aws.clock.now - startedAt) / 60_000,
    logBytes: aws.logBytes,
    emfBytes,
    peakRssMb: peakRss / 1024 / 1024,
    integrity: integrityOf(aws, scenario.hosts, emf),
    deadLetters: { count: deadLetters.length, reasons: [...reasons.keys()] },
    collectorErrorLines,
    duplicateDispatches,
    claimItems: aws.claimTable.items.size,
    claimItemBytes: [...aws.claimTable.items.values()].reduce((n, item) => n + itemBytes(item), 0),
  };
}

function sqsRecord(message: QueuedMessage) {
  return {
    messageId: message.messageId,
    body: message.body,
    receiptHandle: message.messageId,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount + 1),
      SentTimestamp: '0',
      SenderId: 'bench',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:collect',
    awsRegion: 'eu-west-1',
  };
}

/** DynamoDB calls of the claim table in one round, by kind. */
function claimCalls(f: RoundFigures) {
  const calls = (api: string) => f.calls[`DynamoDB ${api} (claims)`] ?? 0;
  return { writes: calls('PutItem') + calls('UpdateItem'), reads: calls('GetItem') };
}

/** The claim table per month for the fleet: requests, and the items its TTL keeps. */
function claimTableCost(f: RoundFigures): number {
  const { writes, reads } = claimCalls(f);
  // Items under 1 KB: one write unit each; strongly consistent reads under 4 KB: one read unit.
  const requests =
    ((writes * PRICES.dynamoWritePerMillion + reads * PRICES.dynamoReadPerMillion) / 1_000_000) *
    ROUNDS_PER_MONTH;
  const roundsKept = CLAIM_TTL_SECONDS / 300;
  const storage = ((f.claimItemBytes * roundsKept) / 1e9) * PRICES.dynamoStorageGbMonth;
  return requests + storage;
}

function costPerHostMonth(f: RoundFigures, hosts: number) {
  const requests = (1 + f.collectInvocations) * ROUNDS_PER_MONTH * PRICES.lambdaPerRequest;
  const gbSeconds = ((f.dispatchMs + f.collectBilledMs) / 1000) * LAMBDA_MEMORY_GB;
  const compute = gbSeconds * ROUNDS_PER_MONTH * PRICES.lambdaGbSecondArm;
  const ingest = ((f.logBytes + f.emfBytes) * ROUNDS_PER_MONTH * PRICES.logIngestPerGb) / 1e9;
  const fleetMetrics = Object.keys(FLEET_METRICS).length * PRICES.customMetricMonth;
  const alarms = FLEET_ALARMS * PRICES.alarmMonth;
  const claims = claimTableCost(f);
  const shared = (requests + compute + ingest + claims + fleetMetrics + alarms) / hosts;
  const perHostMetrics =
    customMetricsPerHost(f.scenario.granularity, RESOURCES_PER_HOST) * PRICES.customMetricMonth;
  return {
    requests: requests / hosts,
    compute: compute / hosts,
    ingest: ingest / hosts,
    claims: claims / hosts,
    fixed: (fleetMetrics + alarms) / hosts,
    beforePerHostMetrics: shared,
    perHostMetrics,
    total: shared + perHostMetrics,
  };
}

const usd = (n: number) => `$${n.toFixed(4)}`;
const perHost = (f: RoundFigures, api: string) => (f.calls[api] ?? 0) / f.scenario.hosts;
/** Calls per host-round less the calls faults answered: what the goals of a clean round bound. */
const perHostBeyondFaults = (f: RoundFigures, api: string) =>
  ((f.calls[api] ?? 0) - (f.faultedCalls[api] ?? 0)) / f.scenario.hosts;

export async function runFleetBench(options: { quick?: boolean } = {}): Promise<void> {
  const granularities: MetricGranularity[] =
    options.quick === true ? ['host'] : ['fleet', 'host', 'resource'];
  const clean: RoundFigures[] = [];
  for (const granularity of granularities)
    clean.push(
      await runRound({ name: `clean, ${granularity}`, hosts: HOSTS, granularity, faults: NO_FAULTS }),
    );
  const faulted = await runRound({
    name: '1 % faults, host',
    hosts: HOSTS,
    granularity: 'host',
    faults: ONE_PERCENT,
    dispatchTwice: true,
  });
  // Without terminated instances no batch is refused, so the collection faults meet every online host.
  const collectionFaults = await runRound({
    name: '1 % faults, none terminated',
    hosts: HOSTS,
    granularity: 'host',
    faults: { ...ONE_PERCENT, terminated: 0 },
  });
  const deleted = await runRound({
    name: 'log group deleted',
    hosts: 500,
    granularity: 'host',
    faults: NO_FAULTS,
    logGroupDeleted: true,
  });
  const baseline = clean.find((f) => f.scenario.granularity === 'host') ?? clean[0];
  if (baseline === undefined) return;
  const all = [...clean, faulted, collectionFaults, deleted];

  console.log(`\nFleet bench: ${HOSTS} enrolled instances, simulated AWS answering after ${LATENCY_MS} ms`);
  console.log(
    `(${SHAPE.blind * 100}% blind, ${SHAPE.slow * 100}% still running at the first look, ${SHAPE.failed * 100}% failed, ${SHAPE.flagged * 100}% flagged; host streams exist from earlier rounds)\n`,
  );
  printTable({
    title: 'Records per host-round (goal: 0 lost, 0 duplicated)',
    headers: [
      'round',
      'hosts',
      'lost',
      'duplicated',
      'result',
      'failure',
      'deadline',
      'blind',
      'dispatch-failed',
      'of which SendCommand failed',
      'blind of which SendCommand refused',
      'HostsChecked metric',
      'HostsFailed+Blind metric',
      'DLQ messages',
    ],
    rows: all.map((f) => {
      const k = f.integrity.kinds;
      return [
        f.scenario.name,
        String(f.integrity.hosts),
        String(f.integrity.lost),
        String(f.integrity.duplicated),
        String(k.result ?? 0),
        String(k.failure ?? 0),
        String(k.deadline ?? 0),
        String(k.blind ?? 0),
        String(k['dispatch-failed'] ?? 0),
        String(f.integrity.sendCommandFailed),
        String(f.integrity.sendCommandRefused),
        String(f.integrity.metrics.checked),
        String(f.integrity.metrics.failed + f.integrity.metrics.blind),
        String(f.deadLetters.count),
      ];
    }),
    notes: [
      'HostsChecked should equal the result records; a collector killed after writing hosts but before printing their metrics loses those data points (EMF is flushed after every job).',
      'SendCommand refused: a batch holding a terminated instance fails whole with InvalidInstanceId; the instance is recorded blind (SendCommandRefused) and the rest of its batch sent again. SendCommand failed: a call that failed otherwise (500).',
      'Log group deleted: nothing can be written; the jobs back off 30 s to 900 s and end in the dead-letter queue with the reason.',
    ],
  });
  printTable({
    title: 'Faults injected',
    headers: ['fault', faulted.scenario.name, collectionFaults.scenario.name],
    rows: [
      ...(Object.keys(FAULT_LABELS) as (keyof FaultRates)[]).map((k) => [
        FAULT_LABELS[k],
        String(faulted.injected[k]),
        String(collectionFaults.injected[k]),
      ]),
      [
        'scheduled event delivered twice (dispatch runs found claimed)',
        `${faulted.scenario.dispatchTwice === true ? 1 : 0} (${faulted.duplicateDispatches})`,
        `${collectionFaults.scenario.dispatchTwice === true ? 1 : 0} (${collectionFaults.duplicateDispatches})`,
      ],
    ],
  });
  const apis = [...new Set(all.flatMap((f) => Object.keys(f.calls)))].sort();
  printTable({
    title: 'API calls per host-round, side by side',
    headers: ['api', ...[baseline, faulted, collectionFaults, deleted].map((f) => f.scenario.name)],
    rows: apis.map((api) => [
      api,
      ...[baseline, faulted, collectionFaults, deleted].map((f) => perHost(f, api).toFixed(4)),
    ]),
    notes: [
      '(claims): dispatch claims the round and each collect job is claimed and committed in the claim table (DynamoDB, on demand): a PutItem and an UpdateItem per job, a GetItem only when a copy finds a job committed with a follow-up.',
      `Log group deleted: ${deleted.scenario.hosts} hosts; ${Object.entries(deleted.calls)
        .filter(([api]) => api.includes('PutLogEvents') || api.includes('GetCommandInvocation'))
        .map(([api, n]) => `${n} ${api}`)
        .join(
          ', ',
        )} in the whole round (before the fix: 53,873 PutLogEvents and 27,232 GetCommandInvocation), ${deleted.roundMinutes.toFixed(0)} virtual minutes until the dead-letter queue; reason: ${deleted.deadLetters.reasons[0] ?? 'none'}`,
    ],
  });
  printTable({
    title: 'Dispatch and collection of one round',
    headers: [
      'round',
      'dispatch s',
      'collection s',
      'collector invocations',
      'virtual minutes',
      'peak RSS MB',
      'log MB/round',
      'EMF MB/round',
    ],
    rows: all.map((f) => [
      f.scenario.name,
      (f.dispatchMs / 1000).toFixed(2),
      (f.collectMs / 1000).toFixed(2),
      String(f.collectInvocations),
      f.roundMinutes.toFixed(1),
      String(Math.round(f.peakRssMb)),
      (f.logBytes / 1e6).toFixed(2),
      (f.emfBytes / 1e6).toFixed(2),
    ]),
    notes: [
      'The rounds run one after another in one process: later peak RSS figures include earlier garbage.',
    ],
  });
  printTable({
    title: `Cost per host-month at 5-minute rounds (${ROUNDS_PER_MONTH} rounds, ${LAMBDA_MEMORY_GB * 1024} MB arm64, ${RESOURCES_PER_HOST} resources/host)`,
    headers: [
      'granularity',
      'Lambda requests',
      'Lambda GB-s',
      'log ingestion',
      'claim table',
      'fleet metrics+alarms',
      'before per-host metrics',
      'per-host metrics',
      'total',
    ],
    rows: clean.map((f) => {
      const c = costPerHostMonth(f, HOSTS);
      return [
        f.scenario.granularity,
        usd(c.requests),
        usd(c.compute),
        usd(c.ingest),
        usd(c.claims),
        usd(c.fixed),
        usd(c.beforePerHostMetrics),
        `${customMetricsPerHost(f.scenario.granularity, RESOURCES_PER_HOST)} x $0.30 = ${usd(c.perHostMetrics)}`,
        usd(c.total),
      ];
    }),
    notes: [
      `Claim table (DynamoDB on demand): ${(claimCalls(baseline).writes / HOSTS).toFixed(4)} writes and ${(claimCalls(baseline).reads / HOSTS).toFixed(4)} reads per host-round at $${PRICES.dynamoWritePerMillion} / $${PRICES.dynamoReadPerMillion} per million; ${baseline.claimItems} items per round of about ${Math.round(baseline.claimItemBytes / Math.max(1, baseline.claimItems))} bytes, kept ${CLAIM_TTL_SECONDS / 86_400} days by the TTL: ${((baseline.claimItemBytes * (CLAIM_TTL_SECONDS / 300)) / 1e9).toFixed(2)} GB at $${PRICES.dynamoStorageGbMonth}/GB-month (the first 25 GB are free).`,
    ],
  });
  const claimCallsPerHost = (f: RoundFigures) =>
    Object.entries(f.calls)
      .filter(([api]) => api.endsWith('(claims)'))
      .reduce((n, [, calls]) => n + calls, 0) / f.scenario.hosts;
  const worstBefore = Math.max(...clean.map((f) => costPerHostMonth(f, HOSTS).beforePerHostMetrics));
  const worstDispatchMs = Math.max(...[...clean, faulted, collectionFaults].map((f) => f.dispatchMs));
  const goals: [string, string, boolean][] = [];
  for (const f of [baseline, faulted, collectionFaults]) {
    const tag = f === baseline ? ' (clean)' : ` (${f.scenario.name})`;
    const calls = (api: string) => perHostBeyondFaults(f, api);
    const send50 = calls('SSM SendCommand') * 50;
    goals.push(
      [`0 hosts without a record${tag}`, String(f.integrity.lost), f.integrity.lost === 0],
      [`0 records written twice${tag}`, String(f.integrity.duplicated), f.integrity.duplicated === 0],
      [`<= 1 SendCommand per 50 hosts${tag}`, send50.toFixed(3), send50 <= 1],
      [
        `<= 1.1 GetCommandInvocation per host-round${tag}`,
        calls('SSM GetCommandInvocation').toFixed(3),
        calls('SSM GetCommandInvocation') <= 1.1,
      ],
      [
        `<= 1 PutLogEvents per host-round${tag}`,
        calls('Logs PutLogEvents').toFixed(3),
        calls('Logs PutLogEvents') <= 1,
      ],
      [
        `<= 0.1 claim calls per host-round${tag}`,
        claimCallsPerHost(f).toFixed(3),
        claimCallsPerHost(f) <= 0.1,
      ],
    );
  }
  goals.push(
    [
      `terminated instances recorded blind, no other host refused (${faulted.scenario.name})`,
      `${faulted.integrity.sendCommandRefused} refused, ${faulted.integrity.refusedNotTerminated} not terminated`,
      faulted.integrity.sendCommandRefused > 0 && faulted.integrity.refusedNotTerminated === 0,
    ],
    [
      'dispatch of 10,000 hosts within 60 s',
      `${(worstDispatchMs / 1000).toFixed(2)} s`,
      worstDispatchMs <= 60_000,
    ],
    ['< $0.05 per host-month before per-host metrics', usd(worstBefore), worstBefore < 0.05],
    [
      'log group deleted: bounded (< 5 % of the calls before the fix) and in the DLQ',
      `${(deleted.calls['Logs PutLogEvents'] ?? 0) + (deleted.calls['SSM GetCommandInvocation'] ?? 0)} calls, ${deleted.deadLetters.count} DLQ`,
      (deleted.calls['Logs PutLogEvents'] ?? 0) + (deleted.calls['SSM GetCommandInvocation'] ?? 0) <
        0.05 * (53_873 + 27_232) && deleted.deadLetters.count > 0,
    ],
  );
  printTable({
    title: 'Fleet goals',
    headers: ['goal', 'measured', 'result'],
    rows: goals.map(([goal, measured, ok]) => [goal, measured, pass(ok)]),
    notes: [
      'Under faults, every call a fault answered (throttled, events refused, answer lost, SendCommand refused for a terminated instance) is made again: the table above shows all calls, the goals count the calls beyond those.',
    ],
  });
}

// Run directly (not when bench/run.ts imports it).
if (/bench[\\/]fleet\.ts$/.test(process.argv[1] ?? '')) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  runFleetBench({ quick: process.argv.includes('--quick') }).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
