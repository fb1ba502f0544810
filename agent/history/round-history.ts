/**
 * A round's resources held against their history: each gets `pathChange`
 * (path-change.ts) and `baseline` (baseline.ts) from the earlier rounds of
 * the same target on this host, `--baseline-flag on` turns a round far above
 * its baseline into a latency flag, and the round becomes the history entries
 * the store keeps (history-store.ts). No I/O.
 */
import type { ResourceResult } from '../../common/result-schema.ts';
import { normalizeAddress, round3 } from '../analysis/analyse-path.ts';
import { computeBaseline } from './baseline.ts';
import type { HistoryEntry, TargetPast } from './history-store.ts';
import { detectPathChange, hopAddresses } from './path-change.ts';

/** The spread of a round's probes to the destination (ms); null parts were not measured. */
export interface LatencyBand {
  lowMs: number | null;
  highMs: number | null;
  stdevMs: number | null;
}

/** A resource as probed, with the spread of its probes, which the document does not carry. */
export interface ProbedResource {
  result: ResourceResult;
  band: LatencyBand | null;
}

/** The band of the TCP/HTTP fallback's answered attempts (connect times, ms); null without any. */
export function bandOfSamples(rttsMs: readonly (number | null)[]): LatencyBand | null {
  const answered = rttsMs.filter((ms): ms is number => ms !== null && Number.isFinite(ms));
  if (answered.length === 0) return null;
  const mean = answered.reduce((sum, ms) => sum + ms, 0) / answered.length;
  const variance = answered.reduce((sum, ms) => sum + (ms - mean) ** 2, 0) / answered.length;
  return {
    lowMs: round3(Math.min(...answered)),
    highMs: round3(Math.max(...answered)),
    stdevMs: round3(Math.sqrt(variance)),
  };
}

/** The band of an ICMP-measured destination: mtr's Best, Wrst and StDev at the destination's hop. */
export function bandOfPath(result: Pick<ResourceResult, 'hops' | 'address'>): LatencyBand | null {
  const { hops, address } = result;
  if (hops === null || address === null) return null;
  const wanted = normalizeAddress(address);
  const hop = hops.find((h) => h.host !== null && normalizeAddress(h.host) === wanted);
  if (hop === undefined || hop.avgMs === null) return null;
  return { lowMs: hop.bestMs, highMs: hop.worstMs, stdevMs: hop.stdevMs };
}

export interface RoundHistory {
  resources: ResourceResult[];
  entries: HistoryEntry[];
}

const NOTHING: readonly never[] = [];

/**
 * `past`: what the stored rounds say per target (readRecentRounds). Returns
 * the resources in the order given, each with `pathChange` and `baseline`
 * (set on the probed result itself, which the round owns; a result the
 * baseline flag changes is a copy), and the round's history entries.
 */
export function applyHistory(
  probed: readonly ProbedResource[],
  past: ReadonlyMap<string, TargetPast>,
  baselineFlag: boolean,
): RoundHistory {
  const resources: ResourceResult[] = [];
  const entries: HistoryEntry[] = [];
  for (let i = 0; i < probed.length; i++) {
    const { result, band } = probed[i] as ProbedResource;
    const hops = result.hops === null ? null : hopAddresses(result.hops, result.address);
    const earlier = past.get(result.target);
    // An ICMP echo is one kind of round trip, a TCP handshake (tcp and http) another.
    const latencies =
      earlier === undefined || result.method === null
        ? NOTHING
        : result.method === 'icmp'
          ? earlier.icmpMs
          : earlier.tcpMs;
    const pathChange = hops === null ? null : detectPathChange(earlier?.paths ?? NOTHING, hops);
    const baseline = result.latencyMs === null ? null : computeBaseline(latencies, result.latencyMs);
    let judged = result;
    if (baselineFlag && baseline?.far === true && !result.latencyFlag) {
      // A latency was measured, so the verdict was ok or loss: the flag rule counts it from here on.
      judged = { ...result, latencyFlag: true, verdict: result.lossFlag ? 'latency+loss' : 'latency' };
    }
    // Filled in, not copied: a copy of every resource of every round costs more than the rules themselves.
    judged.pathChange = pathChange;
    judged.baseline = baseline;
    resources.push(judged);
    entries.push({
      target: judged.target,
      address: judged.address,
      method: judged.method,
      verdict: judged.verdict,
      latencyMs: judged.latencyMs,
      lowMs: band?.lowMs ?? null,
      highMs: band?.highMs ?? null,
      stdevMs: band?.stdevMs ?? null,
      lossPct: judged.lossPct,
      hops,
      trouble:
        judged.trouble === null
          ? null
          : { kind: judged.trouble.kind, hop: judged.trouble.hop, side: judged.trouble.side },
      pathChanged: pathChange !== null,
    });
  }
  return { resources, entries };
}
