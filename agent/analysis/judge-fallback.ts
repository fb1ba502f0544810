/**
 * Turns a path analysis (and, when the destination ignores ICMP, a TCP connect
 * or HTTP timing of it) into the verdict reported for a resource.
 *
 * Many resources (Windows hosts, AWS security groups without ICMP) never answer
 * mtr's probes although they serve traffic; calling them unreachable would raise
 * alarms for healthy resources, so their latency and loss come from the
 * fallback instead. What the path says still counts where the loss rule lets
 * it: its latency flag (from the first hops) always, its loss flag only under
 * rule `any-hop`, whose reading (the old script's) is loss at any of the first
 * hops; under `persistent` loss the destination does not confirm is not loss.
 *
 * Each method is judged by what it measures, so every latency held against
 * the threshold is one network round trip like mtr's ICMP echo: the TCP
 * probe's connect time, and for URLs the TCP connect time of each HTTP(S)
 * request's own connection (`latencyBasis` `tcp-connect`). The full request
 * time (TCP and TLS handshakes plus the server's time to its response
 * headers: several round trips) is reported as `requestMs`, never judged:
 * compared with an ICMP threshold it would flag a healthy URL early. Loss is
 * the share of attempts whose connection got no answer; a request that
 * connected but got no response is the server's business, shown in errors.
 * Jitter is mtr's mean jitter over the connect times (agent/analysis/jitter.ts).
 */

import { MonitorError } from '../../common/errors.ts';
import { type Judgement, verdictOf } from '../../common/flag-rule.ts';
import type { TroubleSpot } from '../../common/result-schema.ts';
import { type PathAnalysis, type PathThresholds, round3, troubleSide } from './analyse-path.ts';
import { isJitterAbove, meanJitterMs } from './jitter.ts';

export interface FallbackMeasurement {
  method: 'tcp' | 'http';
  /** TCP connect time per attempt, in ms; null when that attempt's connection got no answer. */
  rttsMs: (number | null)[];
  /** Method http: time to the response headers per attempt, in ms; null without a response. */
  requestsMs?: (number | null)[];
}

export type ResourceJudgement = Judgement;

/** The destination answered ICMP: the analysis is the verdict. */
export function judgeIcmp(analysis: PathAnalysis): ResourceJudgement {
  if (!analysis.destinationAnswered) {
    throw new MonitorError(
      'E_INTERNAL',
      'judgeIcmp needs a destination that answered ICMP; use judgeWithFallback for a silent destination',
    );
  }
  return {
    method: 'icmp',
    latencyMs: analysis.latencyMs,
    latencyBasis: analysis.latencyMs === null ? null : 'icmp-echo',
    requestMs: null,
    lossPct: round3(analysis.lossPct),
    latencyFlag: analysis.latencyFlag,
    lossFlag: analysis.lossFlag,
    trouble: analysis.trouble,
    verdict: verdictOf({
      latency: analysis.latencyFlag,
      loss: analysis.lossFlag,
      jitter: analysis.jitterFlag,
    }),
    unmeasured: null,
    jitterMs: analysis.jitterMs,
  };
}

/**
 * The destination did not answer ICMP. With a fallback that got at least one
 * answer, the fallback measures the destination; without one the resource is
 * unreachable. A destination that did answer ICMP is judged by judgeIcmp.
 */
export function judgeWithFallback(
  analysis: PathAnalysis,
  fallback: FallbackMeasurement | null,
  thresholds: PathThresholds,
): ResourceJudgement {
  if (analysis.destinationAnswered) return judgeIcmp(analysis);
  // Beyond the last hop that answered is where the silence (or the unmeasured
  // trouble) starts.
  const beyondHop = (analysis.lastRespondingHop ?? 0) + 1;
  // Without an answer the silence may start anywhere, even inside the tunnel;
  // with one, the fallback measured the destination, which is the resource side.
  const beyond = (kind: TroubleSpot['kind'], atDestination: boolean): TroubleSpot => ({
    kind,
    hop: beyondHop,
    host: null,
    side: troubleSide(beyondHop, thresholds, atDestination),
  });
  const answers = (fallback?.rttsMs ?? []).filter((rtt): rtt is number => rtt !== null);
  if (fallback === null || answers.length === 0) {
    return {
      method: null,
      latencyMs: null,
      latencyBasis: null,
      requestMs: null,
      lossPct: 100,
      // The silent destination does not erase a slow tunnel seen on the first hops.
      latencyFlag: analysis.latencyFlag,
      lossFlag: true,
      trouble: beyond('loss', false),
      verdict: 'unreachable',
      unmeasured: null,
      jitterMs: null,
    };
  }
  const latencyMs = round3(mean(answers));
  const responses = (fallback.requestsMs ?? []).filter((ms): ms is number => ms !== null);
  const requestMs = fallback.method === 'http' && responses.length > 0 ? round3(mean(responses)) : null;
  const fallbackLossPct = round3(((fallback.rttsMs.length - answers.length) / fallback.rttsMs.length) * 100);
  // With a silent destination the analysis' latency flag can only come from
  // the first hops, which the old rule keeps counting.
  const latencyFlag = latencyMs > thresholds.latencyThresholdMs || analysis.latencyFlag;
  const anyHopLoss = thresholds.lossRule === 'any-hop' && analysis.lossFlag;
  const lossFlag = fallbackLossPct > thresholds.lossThresholdPct || anyHopLoss;
  const lossPct = anyHopLoss ? round3(Math.max(fallbackLossPct, analysis.lossPct)) : fallbackLossPct;
  const rawJitterMs = meanJitterMs(fallback.rttsMs);
  const jitterMs = rawJitterMs === null ? null : round3(rawJitterMs);
  const jitterFlag = isJitterAbove(jitterMs, thresholds);
  return {
    method: fallback.method,
    latencyMs,
    latencyBasis: 'tcp-connect',
    requestMs,
    lossPct,
    latencyFlag,
    lossFlag,
    trouble: pickTrouble(
      analysis.trouble,
      { latency: latencyFlag, loss: lossFlag, jitter: jitterFlag },
      (kind) => beyond(kind, true),
    ),
    verdict: verdictOf({ latency: latencyFlag, loss: lossFlag, jitter: jitterFlag }),
    unmeasured: null,
    jitterMs,
  };
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function pickTrouble(
  fromPath: TroubleSpot | null,
  flags: Record<TroubleSpot['kind'], boolean>,
  beyond: (kind: TroubleSpot['kind']) => TroubleSpot,
): TroubleSpot | null {
  // The path's spot explains the fallback's finding only when it is the same kind of trouble.
  if (fromPath !== null && flags[fromPath.kind]) return fromPath;
  const kind = (['loss', 'latency', 'jitter'] as const).find((k) => flags[k]);
  return kind === undefined ? null : beyond(kind);
}
