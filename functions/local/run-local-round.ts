/**
 * One monitoring round on this machine through the Lambda code path:
 * dispatchRound() then collectCommand() for every queued job until the queue
 * is empty, with the local adapters in place of EC2/SSM/SQS/CloudWatch. The
 * configuration goes through the Lambda's loadConfig, so local options are
 * validated exactly like stage parameters.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '../../common/errors.ts';
import { parseResultDocument, type ResultDocument } from '../../common/result-schema.ts';
import { SSM_PARAMETERS } from '../../common/ssm-parameters.ts';
import { STACK_PARAM_DEFAULTS } from '../../common/stack-params.ts';
import { resolveAgentPath } from '../../ssm/document.ts';
import type { CollectResult } from '../collect/collect-command.ts';
import { createMemoryClaimStore } from '../collect/job-claims.ts';
import { processJob, queuedJobKey } from '../collect/process-job.ts';
import { type FunctionConfig, loadConfig } from '../config.ts';
import { type DispatchSummary, dispatchRound } from '../dispatch/dispatch-round.ts';
import { createFileLogSink, type FileLogSink } from './file-log-sink.ts';
import { createFileEmfMetrics } from './file-metrics.ts';
import { createLocalInventory } from './local-inventory.ts';
import { createLocalJobQueue, type DrainReport } from './local-queue.ts';
import { createLocalTransport } from './local-transport.ts';

/** Values as a user types them (strings), validated by loadConfig like stage parameters. */
export interface LocalRoundSettings {
  resources: string;
  count: string;
  intervalSec: string;
  latencyThresholdMs: string;
  lossThresholdPct: string;
  hops: string;
  lossRule: string;
  tcpPort: string;
  metricGranularity: string;
  executionTimeoutSeconds: string;
  /** Default: the stage param's (off). */
  jitterThresholdMs?: string;
}

export interface LocalRoundOptions {
  /** Where the log streams, metrics and SSM work files go. */
  outDir: string;
  /** The agent's --log-dir (SSM parameter LogDir): absolute. */
  logDir: string;
  settings: LocalRoundSettings;
  instances?: number;
  blind?: number;
  /** Tags on every online instance (per-host overrides such as `CloudConnexaMonitor:Count`). */
  tags?: Record<string, string>;
  /** Longest wait between collect attempts (default 0.5 s). */
  pollSeconds?: number;
  /** Defaults to dist/agent-fleet.js (or $CCM_AGENT_BUNDLE). */
  agentPath?: string;
  /** Extra environment for the document's script. */
  env?: Record<string, string>;
  onProgress?: (line: string) => void;
  /** Receives a stop() that kills the runs in progress (Ctrl-C). */
  onStart?: (controls: { stop(): void }) => void;
}

export type HostState = 'checked' | 'flagged' | 'failed' | 'blind' | 'misconfigured' | 'not-recorded';

export interface HostReport {
  instanceId: string;
  state: HostState;
  /** The result document read back from the stream (checked and flagged hosts). */
  result: ResultDocument | null;
  /** This round's JSON records in the stream (result, failure, blind, ...). */
  records: Record<string, unknown>[];
  streamPath: string;
}

export interface LocalRoundReport {
  roundId: string;
  config: FunctionConfig;
  dispatch: DispatchSummary;
  collect: { written: number; duplicates: number; deadline: number; drain: DrainReport };
  counts: {
    dispatched: number;
    checked: number;
    flagged: number;
    failed: number;
    blind: number;
    misconfigured: number;
  };
  hosts: HostReport[];
  files: {
    logGroupDir: string;
    logStreams: string[];
    metrics: string;
    agentLogDir: string;
    ssmWorkDir: string;
  };
  emf: string[];
}

export const LOCAL_STAGE = 'local';
const LOG_DIR_PATTERN = SSM_PARAMETERS.find((p) => p.name === 'LogDir')?.allowedPattern ?? '^/';

/** Same shape as roundIdFor() of the dispatch handler: sortable, then a short unique part. */
export function localRoundId(now: Date): string {
  const time = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
  return `${time}-${randomUUID().slice(0, 8)}`;
}

/** The Lambda environment this run corresponds to. */
export function localConfigEnv(options: LocalRoundOptions): Record<string, string> {
  const s = options.settings;
  return {
    STAGE: LOCAL_STAGE,
    LOG_GROUP_NAME: STACK_PARAM_DEFAULTS.logGroupName,
    DOCUMENT_NAME: 'CloudConnexa-Monitor-local',
    // Required by loadConfig; the local queue is in memory and never calls it.
    COLLECT_QUEUE_URL: 'https://localhost/in-memory-collect-queue',
    // Required by loadConfig; the local round keeps its claims in memory.
    CLAIMS_TABLE_NAME: 'in-memory-claims',
    TAG_KEY: STACK_PARAM_DEFAULTS.tagKey,
    TAG_VALUE: STACK_PARAM_DEFAULTS.tagValue,
    METRIC_GRANULARITY: s.metricGranularity,
    DEFAULT_RESOURCES: s.resources,
    DEFAULT_COUNT: s.count,
    DEFAULT_INTERVAL_SEC: s.intervalSec,
    DEFAULT_LATENCY_THRESHOLD_MS: s.latencyThresholdMs,
    DEFAULT_LOSS_THRESHOLD_PCT: s.lossThresholdPct,
    DEFAULT_HOPS: s.hops,
    DEFAULT_LOSS_RULE: s.lossRule,
    DEFAULT_TCP_PORT: s.tcpPort,
    DEFAULT_JITTER_THRESHOLD_MS: s.jitterThresholdMs ?? STACK_PARAM_DEFAULTS.jitterThresholdMs,
    LOG_DIR: options.logDir,
    ALLOW_INSTALL: 'false',
    COMMAND_TIMEOUT_SECONDS: '30',
    EXECUTION_TIMEOUT_SECONDS: s.executionTimeoutSeconds,
    PLUGIN_NAME: 'runMonitorAgent',
  };
}

/** The Lambda variable each local option feeds, so a refused value is reported under the option's name. */
const OPTION_OF_VARIABLE: Record<string, string> = {
  METRIC_GRANULARITY: '--granularity',
  DEFAULT_RESOURCES: '--resources',
  DEFAULT_COUNT: '--count',
  DEFAULT_INTERVAL_SEC: '--interval',
  DEFAULT_LATENCY_THRESHOLD_MS: '--latency-threshold',
  DEFAULT_LOSS_THRESHOLD_PCT: '--loss-threshold',
  DEFAULT_HOPS: '--hops',
  DEFAULT_LOSS_RULE: '--loss-rule',
  DEFAULT_TCP_PORT: '--tcp-port',
  DEFAULT_JITTER_THRESHOLD_MS: '--jitter-threshold',
  LOG_DIR: '--log-dir',
  EXECUTION_TIMEOUT_SECONDS: '--execution-timeout',
};

export function loadLocalConfig(options: LocalRoundOptions): FunctionConfig {
  try {
    return loadConfig(localConfigEnv(options));
  } catch (error) {
    const option = error instanceof InvalidInputError ? OPTION_OF_VARIABLE[error.field] : undefined;
    if (error instanceof InvalidInputError && option !== undefined) {
      throw new InvalidInputError(option, error.value, error.allowed, { cause: error });
    }
    throw error;
  }
}

function jsonRecord(message: string): Record<string, unknown> | null {
  if (!message.startsWith('{"record":')) return null;
  try {
    const value: unknown = JSON.parse(message);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function hostReport(sink: FileLogSink, instanceId: string, roundId: string): HostReport {
  const records = sink
    .read(instanceId)
    .map((event) => jsonRecord(event.message))
    .filter((r): r is Record<string, unknown> => r !== null && r.roundId === roundId);
  const kinds = new Set(records.map((r) => r.record));
  let result: ResultDocument | null = null;
  const resultRecord = records.find((r) => r.record === 'result');
  if (resultRecord !== undefined) result = parseResultDocument(JSON.stringify(resultRecord));
  let state: HostState = 'not-recorded';
  if (result !== null) state = result.summary.latencyFlag || result.summary.lossFlag ? 'flagged' : 'checked';
  else if (kinds.has('failure') || kinds.has('dispatch-failed')) state = 'failed';
  else if (kinds.has('blind')) state = 'blind';
  else if (kinds.has('misconfigured')) state = 'misconfigured';
  return { instanceId, state, result, records, streamPath: sink.streamPath(instanceId) };
}

export async function runLocalRound(options: LocalRoundOptions): Promise<LocalRoundReport> {
  const say = options.onProgress ?? (() => undefined);
  const outDir = resolve(options.outDir);
  if (!new RegExp(LOG_DIR_PATTERN).test(options.logDir)) {
    throw new InvalidInputError(
      '--log-dir',
      options.logDir,
      `an absolute path matching the SSM parameter pattern ${LOG_DIR_PATTERN} (letters, digits, . _ - /)`,
    );
  }
  const config = loadLocalConfig(options);
  const agentPath = options.agentPath ?? resolveAgentPath();
  const pollSeconds = options.pollSeconds ?? 0.5;
  const logGroupDir = join(outDir, config.logGroupName);
  const metricsPath = join(outDir, 'metrics.emf.jsonl');
  const ssmWorkDir = join(outDir, 'ssm');
  mkdirSync(logGroupDir, { recursive: true });

  const inventory = createLocalInventory({
    tagKey: config.tagKey,
    tagValue: config.tagValue,
    instances: options.instances ?? 1,
    blind: options.blind ?? 0,
    tags: options.tags ?? {},
  });
  const transport = createLocalTransport({
    agentPath,
    workDir: ssmWorkDir,
    executionTimeoutSeconds: config.executionTimeoutSeconds,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  const queue = createLocalJobQueue({ pollSeconds });
  const sink = createFileLogSink(logGroupDir);
  const metricsOptions = {
    namespace: config.metricsNamespace,
    serviceName: config.serviceName,
    stage: config.stage,
    granularity: config.metricGranularity,
  };
  const emf: string[] = [];
  options.onStart?.({ stop: () => transport.close() });

  const roundId = localRoundId(new Date());
  // Round and job claims in memory: one process, the same conditions as the Lambda's table.
  const claims = createMemoryClaimStore();
  try {
    const dispatchMetrics = createFileEmfMetrics(metricsOptions, metricsPath);
    let dispatch: DispatchSummary;
    try {
      dispatch = await dispatchRound(
        { inventory, transport, queue, logs: sink, metrics: dispatchMetrics, now: Date.now, claims },
        { ...config, roundId },
      );
    } finally {
      dispatchMetrics.flush();
      emf.push(...dispatchMetrics.lines());
    }
    say(
      `round ${roundId}: ${dispatch.enrolled} enrolled, ${dispatch.dispatched} dispatched in ${dispatch.commands} command(s), ${dispatch.blind} blind, ${dispatch.misconfigured} misconfigured`,
    );

    const collected = { written: 0, duplicates: 0, deadline: 0 };
    // Enough attempts at the shortened polling to reach the job's deadline.
    const maxAttempts =
      Math.ceil(
        (config.commandTimeoutSeconds + config.executionTimeoutSeconds + 60) / Math.max(pollSeconds, 0.1),
      ) + 10;
    const drain = await queue.drain(async (job) => {
      // One metrics instance per delivery, flushed at its end, as one collector invocation.
      const metrics = createFileEmfMetrics(metricsOptions, metricsPath);
      let result: CollectResult;
      try {
        result = await processJob(
          { transport, queue, logs: sink, lookup: sink, claims, metrics, now: Date.now },
          job,
          { maxAttempts },
        );
      } finally {
        metrics.flush();
        emf.push(...metrics.lines());
      }
      // Another delivery holds the job: back to the queue, as the Lambda hands it back to SQS.
      if (result.outcome === 'busy') throw new Error(`collect job ${queuedJobKey(job)} is busy`);
      collected.written += result.written.length;
      collected.duplicates += result.duplicates.length;
      collected.deadline += result.deadline.length;
      for (const id of result.written) say(`collected ${id} (job ${queuedJobKey(job)})`);
      for (const id of result.deadline) say(`deadline passed for ${id} (job ${queuedJobKey(job)})`);
    });
    await transport.idle();

    const ids = [...inventory.online, ...inventory.blind].map((i) => i.instanceId);
    const hosts = ids.map((id) => hostReport(sink, id, roundId));
    const count = (...states: HostState[]) => hosts.filter((h) => states.includes(h.state)).length;
    return {
      roundId,
      config,
      dispatch,
      collect: { ...collected, drain },
      counts: {
        dispatched: dispatch.dispatched,
        checked: count('checked', 'flagged'),
        flagged: count('flagged'),
        failed: count('failed'),
        blind: count('blind'),
        misconfigured: count('misconfigured'),
      },
      hosts,
      files: {
        logGroupDir,
        logStreams: ids.map((id) => sink.streamPath(id)),
        metrics: metricsPath,
        agentLogDir: config.logDir,
        ssmWorkDir,
      },
      emf,
    };
  } finally {
    transport.close();
  }
}
