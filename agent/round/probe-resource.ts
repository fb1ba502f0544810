/**
 * One resource, end to end: resolve, mtr, judge; and when the destination
 * ignores ICMP, measure it by TCP connect time (for URLs, that of each HTTP
 * request) before calling it unreachable. A step that fails leaves the
 * resource `unmeasured` with its reason, which the flag rule flags
 * (common/flag-rule.ts); only a host-wide failure (ENVIRONMENT_CODES) throws.
 */
import { type ErrorInfo, MonitorError, toErrorInfo } from '../../common/errors.ts';
import { unmeasuredJudgement } from '../../common/flag-rule.ts';
import type { ResourceResult, RoundSettings } from '../../common/result-schema.ts';
import { fallbackAttemptTimeoutMs } from '../../common/round-budget.ts';
import type { ResourceSpec } from '../../common/settings.ts';
import { analysePath, type PathThresholds } from '../analysis/analyse-path.ts';
import { judgeIcmp, judgeWithFallback, type ResourceJudgement } from '../analysis/judge-fallback.ts';
import { bandOfPath, bandOfSamples, type ProbedResource } from '../history/round-history.ts';
import { parseMtrJson } from '../mtr/parse-mtr-json.ts';
import type { ProbeSamples } from '../probes/tcp-probe.ts';
import type { RoundDeps } from './round-deps.ts';

/** Failures that mean this host cannot run rounds at all, not that one path is bad. */
export const ENVIRONMENT_CODES = new Set(['E_MTR_MISSING', 'E_MTR_PERMISSION']);

export function thresholdsOf(settings: RoundSettings): PathThresholds {
  return {
    latencyThresholdMs: settings.latencyThresholdMs,
    lossThresholdPct: settings.lossThresholdPct,
    tunnelHops: settings.hops,
    lossRule: settings.lossRule,
    jitterThresholdMs: settings.jitterThresholdMs,
  };
}

/** The resource's result, and the spread of its probes for the round history. */
export async function probeResource(
  spec: ResourceSpec,
  settings: RoundSettings,
  deps: RoundDeps,
): Promise<ProbedResource> {
  const measured = await measureResource(spec, settings, deps);
  const band = measured.samples === null ? bandOfPath(measured.result) : bandOfSamples(measured.samples);
  return { result: measured.result, band: measured.result.latencyMs === null ? null : band };
}

async function measureResource(
  spec: ResourceSpec,
  settings: RoundSettings,
  deps: RoundDeps,
): Promise<{ result: ResourceResult; samples: (number | null)[] | null }> {
  const started = deps.monotonicMs();
  const result = (
    address: string | null,
    judgement: ResourceJudgement,
    hops: ResourceResult['hops'],
    errors: ResourceResult['errors'],
  ): ResourceResult => ({
    target: spec.target,
    address,
    method: judgement.method,
    latencyMs: judgement.latencyMs,
    latencyBasis: judgement.latencyBasis,
    requestMs: judgement.requestMs,
    lossPct: judgement.lossPct,
    latencyFlag: judgement.latencyFlag,
    lossFlag: judgement.lossFlag,
    verdict: judgement.verdict,
    unmeasured: judgement.unmeasured,
    trouble: judgement.trouble,
    errors,
    durationMs: Math.round(deps.monotonicMs() - started),
    hops,
    jitterMs: judgement.jitterMs,
  });
  // Nothing observed is no reason to stay quiet: unmeasured, and flagged as lost.
  const failed = (
    error: unknown,
    address: string | null,
    hops: ResourceResult['hops'] = null,
  ): { result: ResourceResult; samples: null } => {
    const info: ErrorInfo = toErrorInfo(error);
    return { result: result(address, unmeasuredJudgement(info), hops, [info]), samples: null };
  };

  let resolved: { address: string; family: 4 | 6 };
  try {
    resolved = await deps.resolve(spec.host);
  } catch (error) {
    return failed(error, null);
  }

  let hops: ResourceResult['hops'];
  try {
    const text = await deps.runMtr({
      address: resolved.address,
      family: resolved.family,
      count: settings.count,
      intervalSec: settings.intervalSec,
    });
    hops = parseMtrJson(text).hops;
  } catch (error) {
    if (error instanceof MonitorError && ENVIRONMENT_CODES.has(error.code)) throw error;
    return failed(error, resolved.address);
  }

  const thresholds = thresholdsOf(settings);
  const analysis = analysePath(hops, resolved.address, thresholds);
  let judgement: ResourceJudgement;
  let fallbackSamples: (number | null)[] | null = null;
  const errors: ResourceResult['errors'] = [];
  if (analysis.destinationAnswered) {
    judgement = judgeIcmp(analysis);
  } else {
    const probeOptions = {
      address: resolved.address,
      count: settings.count,
      intervalMs: settings.intervalSec * 1000,
      timeoutMs: fallbackAttemptTimeoutMs(settings.latencyThresholdMs),
    };
    let samples: ProbeSamples;
    try {
      samples =
        spec.url !== null
          ? await deps.httpProbe({ ...probeOptions, url: spec.url })
          : await deps.tcpProbe({ ...probeOptions, port: spec.port ?? settings.tcpPort });
    } catch (error) {
      // The probe could not run at all (not: ran and got no answer). The path is kept as evidence.
      return failed(error, resolved.address, hops);
    }
    fallbackSamples = samples.rttsMs;
    judgement = judgeWithFallback(
      analysis,
      { method: samples.method, rttsMs: samples.rttsMs, requestsMs: samples.requestsMs },
      thresholds,
    );
    for (const reason of samples.errors) {
      errors.push({ code: 'E_PROBE', message: `${samples.method} probe to ${resolved.address}: ${reason}` });
    }
  }
  return { result: result(resolved.address, judgement, hops, errors), samples: fallbackSamples };
}
