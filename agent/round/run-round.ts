/**
 * One monitoring round: every resource and the gateway probed concurrently
 * (bounded), each judged on its own, the old tool's files written, and one
 * result document returned whatever happened. Errors that stop the round
 * (bad log dir, mtr missing, another round running) become the document's
 * outcome and the process exit code, never a stack trace.
 */
import { Semaphore } from '../../common/concurrency.ts';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError, MonitorError, toErrorInfo } from '../../common/errors.ts';
import { summariseResources } from '../../common/flag-rule.ts';
import { roundMtrTexts } from '../../common/mtr-report-text.ts';
import { EXIT_CODES, RESULT_SCHEMA } from '../../common/result-contract.ts';
import type {
  FileWritten,
  GatewayResult,
  ResourceResult,
  ResultDocument,
  ResultSummary,
} from '../../common/result-schema.ts';
import { GATEWAY_DISCOVERY_TIMEOUT_MS, roundExpectedMs } from '../../common/round-budget.ts';
import { serializeSeedRecord } from '../../common/seed-line.ts';
import { analysePath } from '../analysis/analyse-path.ts';
import type { CheckOptions } from '../cli/resolve-options.ts';
import { appendLine } from '../files/append-line.ts';
import { acquireRoundLock, type RoundLock } from '../files/lock.ts';
import { type LogDir, prepareLogDir } from '../files/log-dir.ts';
import { writeMtrFiles } from '../files/mtr-files.ts';
import { formatMtrId } from '../files/mtr-id.ts';
import { pruneMtrFiles, rotateIfNeeded } from '../files/rotate.ts';
import { buildSeedRecord } from '../files/seed-record.ts';
import {
  appendRound,
  HISTORY_FILE,
  type HistoryRound,
  type PathMemory,
  type RecentHistory,
  readRecentRounds,
} from '../history/history-store.ts';
import { applyHistory, type ProbedResource, type RoundHistory } from '../history/round-history.ts';
import { parseMtrJson } from '../mtr/parse-mtr-json.ts';
import { recordTunnel } from '../tunnel/round-tunnel.ts';
import type { TunnelObservation } from '../tunnel/tunnel-state.ts';
import { fitResult } from './fit-result.ts';
import { outcomeOf } from './outcome-of.ts';
import { ENVIRONMENT_CODES, probeResource, thresholdsOf } from './probe-resource.ts';
import type { RoundDeps } from './round-deps.ts';

export const REPORT_FILE = 'LATENCY-LOSS-CONNEXA-REPORT.json';

export interface RoundOutput {
  document: ResultDocument;
  exitCode: number;
}

/** A result document for a round that could not run (bad input, environment, busy). */
export function failedRoundDocument(
  error: unknown,
  deps: Pick<RoundDeps, 'agentVersion' | 'hostname' | 'now'>,
  startedAt = deps.now(),
) {
  const outcome = outcomeOf(error);
  const document: ResultDocument = {
    schema: RESULT_SCHEMA,
    agentVersion: deps.agentVersion,
    hostname: deps.hostname(),
    outcome,
    error: toErrorInfo(error),
    mtrId: '0',
    startedAt: startedAt.toISOString(),
    finishedAt: deps.now().toISOString(),
    timings: { totalMs: 0, probesMs: 0, gatewayDiscoveryMs: 0 },
    settings: null,
    summary: emptySummary(),
    resources: [],
    gateway: null,
    seed: null,
    files: [],
    warnings: [],
    truncated: null,
  };
  return { document, exitCode: EXIT_CODES[outcome] };
}

function emptySummary(): ResultSummary {
  return summariseResources([]);
}

/** The lock of the round in progress, so a signal handler can release it before exiting. */
let activeLock: RoundLock | null = null;

export function releaseActiveLock(): void {
  activeLock?.release();
  activeLock = null;
}

export async function runRound(options: CheckOptions, deps: RoundDeps): Promise<RoundOutput> {
  const startedAt = deps.now();
  const t0 = deps.monotonicMs();
  let lock: RoundLock | null = null;
  let logDir: LogDir | null = null;
  try {
    logDir = prepareLogDir(options.logDir);
    lock = acquireRoundLock(logDir);
    activeLock = lock;
    await deps.checkMtr();
    const document = await probeAndRecord(options, logDir, startedAt, t0, deps);
    return { document: fitResult(document), exitCode: EXIT_CODES[document.outcome] };
  } catch (error) {
    const failed = failedRoundDocument(error, deps, startedAt);
    failed.document.settings = options.settings;
    failed.document.timings.totalMs = Math.round(deps.monotonicMs() - t0);
    return failed;
  } finally {
    lock?.release();
    activeLock = null;
    logDir?.close();
  }
}

async function probeAndRecord(
  options: CheckOptions,
  logDir: LogDir,
  startedAt: Date,
  t0: number,
  deps: RoundDeps,
): Promise<ResultDocument> {
  const { settings } = options;
  const warnings: string[] = [];
  const pool = new Semaphore(settings.concurrency);
  const total = options.resources.length;
  let done = 0;
  deps.onProgress({
    type: 'start',
    resources: total,
    expectedMs: roundExpectedMs(settings, total + 1),
  });

  // A host-wide failure (mtr missing or not permitted) ends the round. The other
  // probes are stopped at once: none may outlive the lock this round releases.
  let hostFailure: { error: unknown } | null = null;
  const guard = async <T>(work: () => Promise<T>): Promise<T | null> => {
    try {
      return await work();
    } catch (error) {
      if (hostFailure === null) {
        hostFailure = { error };
        deps.killProbes();
      }
      return null;
    }
  };

  const resourcesWork = Promise.all(
    options.resources.map((spec) =>
      guard(() =>
        pool.use(async () => {
          const probedResource = await probeResource(spec, settings, deps);
          done++;
          deps.onProgress({ type: 'resource', target: spec.target, done, total });
          return probedResource;
        }),
      ),
    ),
  );
  const gatewayStarted = deps.monotonicMs();
  let gatewayDiscoveryMs = 0;
  let seenTunnel: TunnelObservation | undefined;
  const gatewayWork = guard(async (): Promise<GatewayResult> => {
    const found = await deps.discoverGateway({
      gatewayIp: options.gatewayIp,
      openvpnManagement: options.openvpnManagement,
      openvpnLog: options.openvpnLog,
      timeoutMs: GATEWAY_DISCOVERY_TIMEOUT_MS,
      observeTunnel: true,
    });
    seenTunnel = found.tunnel;
    gatewayDiscoveryMs = Math.round(deps.monotonicMs() - gatewayStarted);
    warnings.push(...found.warnings);
    deps.onProgress({ type: 'gateway', ip: found.ip });
    const gateway: GatewayResult = {
      ip: found.ip,
      source: found.source,
      latencyMs: null,
      lossPct: null,
      hops: null,
      errors: [...found.errors],
    };
    if (found.ip === null) return gateway;
    // The gateway path runs outside the tunnel; it is evidence for CloudConnexa support, never a flag.
    return pool.use(async () => {
      try {
        const text = await deps.runMtr({
          address: found.ip as string,
          family: found.ip?.includes(':') ? 6 : 4,
          count: settings.count,
          intervalSec: settings.intervalSec,
        });
        const hops = parseMtrJson(text).hops;
        const analysis = analysePath(hops, found.ip as string, thresholdsOf(settings));
        return { ...gateway, hops, latencyMs: analysis.latencyMs, lossPct: analysis.lossPct };
      } catch (error) {
        if (error instanceof MonitorError && ENVIRONMENT_CODES.has(error.code)) throw error;
        return { ...gateway, errors: [...gateway.errors, toErrorInfo(error)] };
      }
    });
  });

  const [probed, gatewayProbed] = await Promise.all([resourcesWork, gatewayWork]);
  const failure = hostFailure as { error: unknown } | null;
  if (failure !== null) throw failure.error;
  const gateway = gatewayProbed as GatewayResult;
  const probesMs = Math.round(deps.monotonicMs() - t0);
  const history = holdAgainstHistory(
    logDir,
    probed.filter((r): r is ProbedResource => r !== null),
    settings,
    warnings,
  );
  const resources = history.resources;
  for (const r of resources) {
    if (r.unmeasured !== null) {
      warnings.push(`${r.target}: not measured (${r.unmeasured.reason}), flagged: ${r.unmeasured.detail}`);
    }
  }

  const hostname = deps.hostname();
  const seed = buildSeedRecord({
    hostname,
    resources,
    gatewayIp: gateway.ip,
    settings,
    mtrId: formatMtrId(startedAt),
  });
  // The seed record decides the id ("0" when nothing was flagged): files and document follow it.
  const mtrId = seed['MTR-ID_(YYYYMMDDHHMMSS)'];
  // Probing is done: a file that cannot be written must not throw the measurements away.
  let files: FileWritten[] = [];
  let fileError: EnvironmentError | null = null;
  try {
    const round: HistoryRound = {
      at: startedAt.toISOString(),
      latencyThresholdMs: settings.latencyThresholdMs,
      lossThresholdPct: settings.lossThresholdPct,
      resources: history.entries,
      // The report marks tunnel-down periods from it; unknown is left out of the line.
      tunnel: seenTunnel === undefined || seenTunnel.state === 'unknown' ? null : seenTunnel.state,
    };
    files = recordFiles(logDir, mtrId, seed, resources, gateway, options, { round, paths: history.paths });
  } catch (error) {
    const code = errnoOf(error) ?? 'error';
    // The files module's errors already name the file, what was found there and what to do.
    fileError =
      error instanceof EnvironmentError
        ? error
        : new EnvironmentError(
            'E_LOG_DIR',
            `the report or MTR files in ${logDir.path} cannot be written (${code}: ${error instanceof Error ? error.message : String(error)}); make them writable by the user running the agent`,
            logDir.path,
            { cause: error },
          );
  }

  const summary = summariseResources(resources);
  // The tunnel (issue 10 §1): its cause, when it explains the flags, is the first warning.
  const tunnel =
    seenTunnel === undefined ? null : recordTunnel(logDir, seenTunnel, startedAt, summary.flagged);
  if (tunnel?.cause) warnings.unshift(tunnel.cause);
  warnings.push(...(tunnel?.warnings ?? []));

  return {
    schema: RESULT_SCHEMA,
    agentVersion: deps.agentVersion,
    hostname,
    outcome: fileError === null ? 'completed' : 'environment',
    error: fileError === null ? null : fileError.toInfo(),
    mtrId,
    startedAt: startedAt.toISOString(),
    finishedAt: deps.now().toISOString(),
    timings: { totalMs: Math.round(deps.monotonicMs() - t0), probesMs, gatewayDiscoveryMs },
    settings,
    summary,
    resources,
    gateway,
    seed,
    files,
    warnings,
    truncated: null,
    tunnel: tunnel?.tunnel ?? null,
  };
}

/**
 * Path changes and baselines from the round history. A history that cannot be
 * read costs them for this round, never the round: a warning says why (and
 * the append that follows meets the same problem, which ends the round with
 * outcome `environment` like any file the agent cannot write).
 */
function holdAgainstHistory(
  logDir: LogDir,
  probed: ProbedResource[],
  settings: CheckOptions['settings'],
  warnings: string[],
): RoundHistory & { paths: PathMemory | null } {
  let past: RecentHistory['past'] = new Map();
  let paths: PathMemory | null = null;
  try {
    const read = readRecentRounds(logDir);
    past = read.past;
    paths = read.paths;
    if (read.skipped > 0) {
      warnings.push(`round history: ${read.skipped} damaged line(s) or entries of ${HISTORY_FILE} skipped`);
    }
    for (const note of read.notes) warnings.push(`round history: ${note}`);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    warnings.push(`round history not read, so no path changes or baselines this round: ${reason}`);
  }
  return { ...applyHistory(probed, past, settings.baselineFlag === true), paths };
}

function recordFiles(
  logDir: LogDir,
  mtrId: string,
  seed: ReturnType<typeof buildSeedRecord>,
  resources: ResourceResult[],
  gateway: GatewayResult,
  options: CheckOptions,
  history: { round: HistoryRound; paths: PathMemory | null },
): FileWritten[] {
  const reportPath = logDir.display(REPORT_FILE);
  rotateIfNeeded(logDir, REPORT_FILE, {
    maxBytes: options.rotation.maxReportBytes,
    keep: options.rotation.keepReports,
  });
  appendLine(logDir, REPORT_FILE, serializeSeedRecord(seed));
  const files: FileWritten[] = [{ kind: 'report', path: reportPath }];
  if (mtrId !== '0') {
    const texts = roundMtrTexts(mtrId, resources, gateway);
    files.push(
      ...writeMtrFiles({ dir: logDir, mtrId, resourceText: texts.resource, gatewayText: texts.gateway }),
    );
  }
  appendRound(logDir, history.round, history.paths);
  files.push({ kind: 'history', path: logDir.display(HISTORY_FILE) });
  // Every round, not only flagged ones, so a lowered --max-mtr-files takes effect at once.
  pruneMtrFiles(logDir, { maxFiles: options.rotation.maxMtrFiles });
  return files;
}
