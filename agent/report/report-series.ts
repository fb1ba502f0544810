/**
 * The history report's numbers: the stored rounds (history-store.ts) turned
 * into one series per resource, each at most REPORT_LIMITS.maxPoints points
 * long however many rounds there are (so the page stays small), with the
 * summary figures and the events its table lists. Pure. At most
 * REPORT_LIMITS.maxResources resources (the ones seen in the newest rounds)
 * and maxEvents events each, so a history of many targets cannot blow up the page.
 *
 * A point is one round, or, past maxPoints rounds, the rounds of one equal
 * slice of the report's time span: its latency is the median of the rounds'
 * latencies, its outer band the fastest and slowest probe of those rounds,
 * its inner band the median of each round's latency ∓ one standard deviation
 * (mtr reports the mean and spread of the probes, no median: see
 * history-store.ts), its loss the highest, its verdict the most severe.
 */
import type { Verdict } from '../../common/result-schema.ts';
import { LIMITS } from '../../common/settings.ts';
import type { HistoryEntry, HistoryRound, HistoryTunnelState } from '../history/history-store.ts';

export const REPORT_LIMITS = {
  /** Points per chart at most: the page's size does not grow with the history. */
  maxPoints: 240,
  /**
   * Resources charted at most: those seen in the newest rounds. Two full
   * rounds' worth (LIMITS.maxResources each), so a changed resource list still
   * shows the old and the new; a history naming new targets every round (churn
   * or a hostile log dir) then cannot grow the page past a few MB.
   */
  maxResources: 2 * LIMITS.maxResources,
  /** Events listed per resource at most (the newest). */
  maxEvents: 25,
  /** A pause longer than this many usual round intervals leaves a gap in the chart. */
  gapFactor: 2.5,
} as const;

/** Least to most severe: the verdict a point of several rounds shows. */
const SEVERITY: readonly Verdict[] = ['ok', 'latency', 'loss', 'latency+loss', 'unmeasured', 'unreachable'];
/** Tunnel states a chart marks (shaded periods), most severe first. */
export const TUNNEL_MARKED: readonly HistoryTunnelState[] = ['down', 'reconnecting'];

export interface ReportPoint {
  /** Epoch ms: the first and last round in the point. */
  from: number;
  to: number;
  rounds: number;
  /** ms; null when no round of the point was measured. */
  ms: number | null;
  lowMs: number | null;
  highMs: number | null;
  innerLowMs: number | null;
  innerHighMs: number | null;
  lossPct: number;
  /** A round's loss above its threshold. */
  lossOver: boolean;
  flagged: number;
  verdict: Verdict;
  pathChanges: number;
  latencyThresholdMs: number;
  lossThresholdPct: number;
  /** The most severe tunnel state of its rounds; null when none was recorded. */
  tunnel: HistoryTunnelState | null;
}

export interface ReportEvent {
  kind: 'flag' | 'path-change' | 'tunnel';
  /** ISO times of the first and last round of the event. */
  from: string;
  to: string;
  rounds: number;
  /** verdict, or tunnel state; '' for path changes. */
  detail: string;
}

export interface ResourceStats {
  rounds: number;
  /** Rounds with a latency. */
  measured: number;
  medianMs: number | null;
  p95Ms: number | null;
  lowestMs: number | null;
  highestMs: number | null;
  maxLossPct: number;
  meanLossPct: number;
  flagged: number;
  byVerdict: Partial<Record<Verdict, number>>;
  pathChanges: number;
  /** Rounds whose tunnel was down or reconnecting. */
  tunnelNotUp: number;
  latencyThresholdMs: number;
  lossThresholdPct: number;
}

export interface ResourceSeries {
  target: string;
  /** The newest round's address and method. */
  address: string | null;
  method: HistoryEntry['method'];
  points: ReportPoint[];
  stats: ResourceStats;
  /** Newest first, at most maxEvents. */
  events: ReportEvent[];
  /** Events left out of `events`. */
  moreEvents: number;
}

export interface ReportSeries {
  /** Epoch ms of the oldest and newest round. */
  start: number;
  end: number;
  rounds: number;
  /** The usual time between points (ms): a slice, or the median interval between rounds. */
  stepMs: number;
  /** Rounds per point at most (1: every round is drawn). */
  roundsPerPoint: number;
  /** At most maxResources, in the order they first appear. */
  resources: ResourceSeries[];
  /** Resources in the rounds left out of `resources` (seen only in older rounds). */
  resourcesLeftOut: number;
}

/** One resource in one round: the rounds' epoch ms, the start as written. */
export interface Sample {
  at: number;
  iso: string;
  entry: HistoryEntry;
  round: HistoryRound;
}

/** `rounds` oldest first (readHistory); resources in the order they first appear. Null for no rounds. */
export function buildSeries(rounds: readonly HistoryRound[]): ReportSeries | null {
  const timed = rounds
    .map((round) => ({ round, at: Date.parse(round.at) }))
    .sort((a, b) => a.at - b.at)
    // The same round twice (read across a rotation): once.
    .filter((r, i, all) => i === 0 || r.at !== all[i - 1]?.at);
  const first = timed[0];
  const last = timed[timed.length - 1];
  if (first === undefined || last === undefined) return null;
  const start = first.at;
  const end = last.at;
  const bucketed = timed.length > REPORT_LIMITS.maxPoints;
  const stepMs = bucketed ? (end - start) / REPORT_LIMITS.maxPoints : medianInterval(timed.map((r) => r.at));
  // Which resources to chart first, so that only theirs are gathered.
  const { kept, total } = newestTargets(timed, REPORT_LIMITS.maxResources);
  const byTarget = new Map<string, Sample[]>();
  for (const { round, at } of timed) {
    for (const entry of round.resources) {
      if (!kept.has(entry.target)) continue;
      const list = byTarget.get(entry.target) ?? [];
      list.push({ at, iso: round.at, entry, round });
      byTarget.set(entry.target, list);
    }
  }
  const series: ReportSeries = {
    start,
    end,
    rounds: timed.length,
    stepMs,
    roundsPerPoint: 1,
    resources: [],
    resourcesLeftOut: total,
  };
  for (const [target, samples] of byTarget) addResource(series, target, samples);
  return series;
}

/**
 * The series of one resource from its samples (oldest first, at least one)
 * into `series` (its `resourcesLeftOut` counted down).
 */
export function addResource(series: ReportSeries, target: string, samples: Sample[]): void {
  const { start, end } = series;
  const groups =
    series.rounds > REPORT_LIMITS.maxPoints ? slice(samples, start, end) : samples.map((s) => [s]);
  for (const g of groups) series.roundsPerPoint = Math.max(series.roundsPerPoint, g.length);
  const newest = (samples[samples.length - 1] as Sample).entry;
  const events = eventsOf(samples);
  series.resources.push({
    target,
    address: newest.address,
    method: newest.method,
    points: groups.map(pointOf),
    stats: statsOf(samples),
    events: events.slice(0, REPORT_LIMITS.maxEvents),
    moreEvents: Math.max(0, events.length - REPORT_LIMITS.maxEvents),
  });
  series.resourcesLeftOut--;
}

/** What the page and stderr say when resources are left out; null when none is. */
export function resourcesLeftOutNote(series: ReportSeries): string | null {
  if (series.resourcesLeftOut === 0) return null;
  return `${series.resourcesLeftOut} resource(s) left out: the report charts at most ${REPORT_LIMITS.maxResources}, those seen in the newest rounds (--resource draws any one of them).`;
}

/**
 * The `max` targets last seen most recently (ties: the first to appear), and
 * how many targets the rounds name. `timed` oldest first.
 */
function newestTargets(
  timed: ReadonlyArray<{ round: HistoryRound; at: number }>,
  max: number,
): { kept: Set<string>; total: number } {
  // Insertion order is first appearance; the value is the last round's time.
  const lastSeen = new Map<string, number>();
  for (const { round, at } of timed) for (const entry of round.resources) lastSeen.set(entry.target, at);
  if (lastSeen.size <= max) return { kept: new Set(lastSeen.keys()), total: lastSeen.size };
  const ranked = [...lastSeen].map(([target, at], order) => ({ target, at, order }));
  ranked.sort((a, b) => b.at - a.at || a.order - b.order);
  return { kept: new Set(ranked.slice(0, max).map((t) => t.target)), total: lastSeen.size };
}

/** `times` ascending. */
export function medianInterval(times: number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) gaps.push((times[i] as number) - (times[i - 1] as number));
  // One round: an hour's width, so that it shows as a block and the axis has a span.
  return median(gaps) ?? 3_600_000;
}

function slice(samples: Sample[], start: number, end: number): Sample[][] {
  const n = REPORT_LIMITS.maxPoints;
  const groups: Sample[][] = [];
  let index = -1;
  for (const s of samples) {
    const i = Math.max(0, Math.min(n - 1, Math.floor(((s.at - start) / (end - start)) * n)));
    if (i !== index) {
      groups.push([]);
      index = i;
    }
    groups[groups.length - 1]?.push(s);
  }
  return groups;
}

function pointOf(group: Sample[]): ReportPoint {
  const entries = group.map((s) => s.entry);
  const measured = entries.filter((e) => e.latencyMs !== null);
  const lows = entries.map((e) => e.lowMs).filter(isNumber);
  const highs = entries.map((e) => e.highMs).filter(isNumber);
  const spread = measured.filter((e) => e.stdevMs !== null);
  let tunnel: HistoryTunnelState | null = null;
  for (const s of group) {
    const state = s.round.tunnel ?? null;
    if (state !== null && (tunnel === null || tunnelRank(state) > tunnelRank(tunnel))) tunnel = state;
  }
  return {
    from: (group[0] as Sample).at,
    to: (group[group.length - 1] as Sample).at,
    rounds: group.length,
    ms: median(measured.map((e) => e.latencyMs as number)),
    lowMs: lows.length > 0 ? Math.min(...lows) : null,
    highMs: highs.length > 0 ? Math.max(...highs) : null,
    innerLowMs: median(spread.map((e) => Math.max(0, (e.latencyMs as number) - (e.stdevMs as number)))),
    innerHighMs: median(spread.map((e) => (e.latencyMs as number) + (e.stdevMs as number))),
    lossPct: Math.max(...entries.map((e) => e.lossPct)),
    lossOver: group.some((s) => s.entry.lossPct > s.round.lossThresholdPct),
    flagged: entries.filter((e) => e.verdict !== 'ok').length,
    verdict: entries.reduce<Verdict>(
      (worst, e) => (severity(e.verdict) > severity(worst) ? e.verdict : worst),
      'ok',
    ),
    pathChanges: entries.filter((e) => e.pathChanged).length,
    latencyThresholdMs: Math.max(...group.map((s) => s.round.latencyThresholdMs)),
    lossThresholdPct: Math.max(...group.map((s) => s.round.lossThresholdPct)),
    tunnel,
  };
}

const severity = (verdict: Verdict): number => SEVERITY.indexOf(verdict);
const tunnelRank = (state: HistoryTunnelState): number =>
  state === 'up' ? 0 : state === 'unknown' ? 1 : state === 'reconnecting' ? 2 : 3;

function statsOf(samples: Sample[]): ResourceStats {
  const latencies = samples
    .map((s) => s.entry.latencyMs)
    .filter(isNumber)
    .sort((a, b) => a - b);
  const byVerdict: Partial<Record<Verdict, number>> = {};
  for (const { entry } of samples) {
    if (entry.verdict !== 'ok') byVerdict[entry.verdict] = (byVerdict[entry.verdict] ?? 0) + 1;
  }
  const losses = samples.map((s) => s.entry.lossPct);
  const newest = (samples[samples.length - 1] as Sample).round;
  return {
    rounds: samples.length,
    measured: latencies.length,
    medianMs: median(latencies),
    p95Ms: latencies.length === 0 ? null : (latencies[Math.ceil(latencies.length * 0.95) - 1] as number),
    lowestMs: latencies[0] ?? null,
    highestMs: latencies[latencies.length - 1] ?? null,
    maxLossPct: Math.max(...losses),
    meanLossPct: losses.reduce((a, b) => a + b, 0) / losses.length,
    flagged: samples.filter((s) => s.entry.verdict !== 'ok').length,
    byVerdict,
    pathChanges: samples.filter((s) => s.entry.pathChanged).length,
    tunnelNotUp: samples.filter((s) => TUNNEL_MARKED.includes(s.round.tunnel as HistoryTunnelState)).length,
    latencyThresholdMs: newest.latencyThresholdMs,
    lossThresholdPct: newest.lossThresholdPct,
  };
}

/** Runs of rounds with the same flag or tunnel state, and each path change; newest first. */
function eventsOf(samples: Sample[]): ReportEvent[] {
  const events: ReportEvent[] = [];
  let flag: ReportEvent | null = null;
  let tunnel: ReportEvent | null = null;
  for (const s of samples) {
    const verdict = s.entry.verdict;
    if (flag !== null && flag.detail !== verdict) flag = null;
    if (verdict !== 'ok') {
      if (flag === null) {
        flag = { kind: 'flag', from: s.iso, to: s.iso, rounds: 0, detail: verdict };
        events.push(flag);
      }
      flag.to = s.iso;
      flag.rounds++;
    }
    const state = s.round.tunnel ?? null;
    if (tunnel !== null && tunnel.detail !== state) tunnel = null;
    if (state !== null && TUNNEL_MARKED.includes(state)) {
      if (tunnel === null) {
        tunnel = { kind: 'tunnel', from: s.iso, to: s.iso, rounds: 0, detail: state };
        events.push(tunnel);
      }
      tunnel.to = s.iso;
      tunnel.rounds++;
    }
    if (s.entry.pathChanged)
      events.push({ kind: 'path-change', from: s.iso, to: s.iso, rounds: 1, detail: '' });
  }
  return events.reverse();
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function isNumber(value: number | null): value is number {
  return value !== null;
}
