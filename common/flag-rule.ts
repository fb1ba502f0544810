/**
 * The flag rule: which resources raise an alarm, stated once for the agent
 * (summary, seed line, files, table) and the collector (log records, metrics).
 *
 * A resource is flagged when its latency or its loss is above its threshold
 * (`latencyFlag`, `lossFlag`, decided by agent/analysis/). A resource the round
 * could not measure is flagged too: verdict `unmeasured`, with the reason in
 * `unmeasured` (its name did not resolve, mtr failed, timed out or printed
 * nothing readable, the TCP/HTTP fallback could not run). It counts as lost:
 * `lossFlag` true, `lossPct` 100, `latencyMs` null, no trouble spot.
 *
 * Why: for a monitor, silence while something is broken is the worst failure.
 * Private names often resolve only through the tunnel and fail exactly when it
 * breaks, and a probe that cannot run sees nothing of the path; reporting such
 * a resource as unflagged would keep every alarm quiet.
 *
 * So an unmeasured resource counts wherever a flagged one does: `summary.flagged`,
 * `summary.lossFlag`, `summary.worstLossPct` (100); the seed line (`LOSS_FLAG`
 * "1", so the old metric filter fires; `HOP_LOSS_(%)` "100.0" when it is the
 * worst resource); HostsFlagged, HostFlagged, WorstLossPct, HostLossPct and
 * ResourceLossPct (100). It has no path to show, so it gets no MTR-RESOURCE
 * section (see mtrResourceSections in common/mtr-report-text.ts).
 *
 * Jitter (issue 10): with `--jitter-threshold` set, a resource whose mean
 * jitter (`jitterMs`) is above it is flagged too. The verdict carries that
 * flag (`jitter`, `latency+jitter`, `loss+jitter`, `latency+loss+jitter`)
 * instead of a third boolean: the document is near its size limit and every
 * per-resource key costs 50 times over. A jitter flag counts wherever a flag
 * does (summary.flagged, HostFlagged, MTR files), and sets the seed line's
 * LATENCY_FLAG "1": jitter is variation of latency, and the old metric filter
 * `HighLatencyOrLoss` and the dashboard's anomalies table read only
 * LATENCY_FLAG and LOSS_FLAG, so a host whose user asked for jitter alarms
 * gets them there too. `summary.latencyFlag` stays the resources'
 * `latencyFlag` (their average round trip); `summary.jitterFlag` is the jitter's.
 *
 * No Node imports: shared with the Lambda functions.
 */
import type { ErrorCode, ErrorInfo } from './errors.ts';
import type {
  ResourceResult,
  ResultSummary,
  Unmeasured,
  UnmeasuredReason,
  Verdict,
} from './result-schema.ts';

/** The part of a resource result that says how it was judged. */
export type Judgement = Pick<
  ResourceResult,
  | 'method'
  | 'latencyMs'
  | 'latencyBasis'
  | 'requestMs'
  | 'lossPct'
  | 'latencyFlag'
  | 'lossFlag'
  | 'trouble'
  | 'verdict'
  | 'unmeasured'
  | 'jitterMs'
>;

/** Flagged: latency, loss or jitter above threshold, or unmeasured (which sets lossFlag). */
export function isFlagged(resource: Pick<ResourceResult, 'latencyFlag' | 'lossFlag' | 'verdict'>): boolean {
  return resource.latencyFlag || resource.lossFlag || hasJitterFlag(resource);
}

// ---- jitter (issue 10)

const JITTER_VERDICTS: ReadonlySet<Verdict> = new Set([
  'jitter',
  'latency+jitter',
  'loss+jitter',
  'latency+loss+jitter',
]);

/** The resource's jitter is above the jitter threshold: its verdict names `jitter`. */
export function hasJitterFlag(resource: Pick<ResourceResult, 'verdict'>): boolean {
  return JITTER_VERDICTS.has(resource.verdict);
}

/** What the seed line's LATENCY_FLAG says of a resource: its latency or its jitter is flagged. */
export function setsSeedLatencyFlag(resource: Pick<ResourceResult, 'latencyFlag' | 'verdict'>): boolean {
  return resource.latencyFlag || hasJitterFlag(resource);
}

/** The verdict of a measured resource: its flagged kinds joined by `+` (latency, loss, jitter), else `ok`. */
export function verdictOf(flags: { latency: boolean; loss: boolean; jitter: boolean }): Verdict {
  const kinds = (['latency', 'loss', 'jitter'] as const).filter((kind) => flags[kind]);
  return kinds.length === 0 ? 'ok' : (kinds.join('+') as Verdict);
}

export function isUnmeasured(resource: Pick<ResourceResult, 'verdict'>): boolean {
  return resource.verdict === 'unmeasured';
}

/** The error code of a path's failure mapped to the reason reported for it. */
export function unmeasuredReasonOf(code: ErrorCode): UnmeasuredReason {
  switch (code) {
    case 'E_RESOLVE':
      return 'dns';
    case 'E_MTR_FAILED':
      return 'mtr-failed';
    case 'E_MTR_TIMEOUT':
      return 'mtr-timeout';
    case 'E_MTR_OUTPUT':
      return 'mtr-output';
    default:
      return 'probe-failed';
  }
}

/** The judgement of a resource the round could not measure: flagged as lost. */
export function unmeasuredJudgement(error: ErrorInfo): Judgement {
  const unmeasured: Unmeasured = { reason: unmeasuredReasonOf(error.code), detail: error.message };
  return {
    method: null,
    latencyMs: null,
    latencyBasis: null,
    requestMs: null,
    lossPct: 100,
    latencyFlag: false,
    lossFlag: true,
    trouble: null,
    verdict: 'unmeasured',
    unmeasured,
    jitterMs: null,
  };
}

/**
 * The round's summary, from its resources and nothing else, so the document,
 * the collector's host figures and the per-resource metrics cannot disagree.
 * `worstLatencyMs` covers resources with a measured latency; `worstLossPct`
 * covers all of them (an unmeasured one counts 100).
 */
export function summariseResources(
  resources: readonly Pick<
    ResourceResult,
    'latencyFlag' | 'lossFlag' | 'latencyMs' | 'lossPct' | 'verdict' | 'jitterMs'
  >[],
): ResultSummary {
  const latencies = resources.map((r) => r.latencyMs).filter((v): v is number => v !== null);
  const jitters = resources.map((r) => r.jitterMs).filter((v): v is number => v !== null);
  return {
    resources: resources.length,
    flagged: resources.filter(isFlagged).length,
    latencyFlag: resources.some((r) => r.latencyFlag),
    lossFlag: resources.some((r) => r.lossFlag),
    worstLatencyMs: latencies.length > 0 ? Math.max(...latencies) : null,
    worstLossPct: resources.length > 0 ? Math.max(...resources.map((r) => r.lossPct)) : null,
    jitterFlag: resources.some(hasJitterFlag),
    worstJitterMs: jitters.length > 0 ? Math.max(...jitters) : null,
  };
}
