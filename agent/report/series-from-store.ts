/**
 * The report's series (report-series.ts) drawn from the stored history as it
 * is read (history-store.ts openStoredHistory), without holding its rounds:
 * the same series buildSeries gives for the rounds readHistory and
 * filterRounds would give, at a cost bounded by what the page draws.
 *
 * Two passes over the same bytes. The first keeps a number per selected
 * round (its time, to sort, drop a round read twice and slice the span) and
 * a few per resource (when it was first and last seen, to choose the
 * REPORT_LIMITS.maxResources charted: those seen in the newest rounds). The
 * second keeps, for the charted resources only, each round's figures as
 * numbers (latency, band, loss, verdict, path change) and, per round they
 * appear in, its thresholds and tunnel state; each resource's series is then
 * built from them by the same code as buildSeries'. So memory grows with the
 * rounds of the charted resources and the count of resource names, never
 * with the entries of the others, and every line is decoded twice.
 */

import { VERDICTS } from '../../common/result-contract.ts';
import type { Verdict } from '../../common/result-schema.ts';
import { LIMITS } from '../../common/settings.ts';
import {
  HISTORY_TUNNEL_STATES,
  type HistoryEntry,
  type HistoryRound,
  type HistoryTunnelState,
  type StoredHistory,
} from '../history/history-store.ts';
import { NameCount } from './name-count.ts';
import {
  addResource,
  medianInterval,
  REPORT_LIMITS,
  type ReportSeries,
  type Sample,
} from './report-series.ts';

export interface SeriesQuery {
  since: Date | null;
  resource: string | null;
}

export interface StoredSeries {
  /** As buildSeries(filterRounds(rounds, query)); null: no round selected. */
  series: ReportSeries | null;
  /** Rounds selected (a round read twice counted twice, as filterRounds does). */
  rounds: number;
  /** Resources named in them. */
  resources: number;
  /** Lines and entries skipped (the first pass's count). */
  skipped: number;
  /** The start of the newest round with an entry, as written; null: none. */
  newestAt: string | null;
  /** With `resource`: whether any round names it; else true. */
  resourceFound: boolean;
  /** With `resource`: the first LISTED_RESOURCES resources the history names, first seen first ... */
  known: string[];
  /** ... of this many (counted by hash: a crafted store can make it lower, never below `known`'s length). */
  knownCount: number;
}

/** Keeps the `n` entries of the highest values (ties: all of them). */
function keepNewest(seen: Map<string, number>, n: number): void {
  if (seen.size <= n) return;
  const cut = [...seen.values()].sort((a, b) => b - a)[n - 1] as number;
  seen.forEach((value, key) => {
    if (value < cut) seen.delete(key);
  });
}

/** Per-round codes: tunnel state (index in HISTORY_TUNNEL_STATES + 1, 0: none). */
const NO_TUNNEL = 0;

/** Selection: the rounds of `query` (at or after `since`, with an entry of `resource`); the entries it draws. */
function selected(round: HistoryRound, query: SeriesQuery): HistoryEntry[] | null {
  if (query.since !== null && Date.parse(round.at) < query.since.getTime()) return null;
  const entries =
    query.resource === null ? round.resources : round.resources.filter((e) => e.target === query.resource);
  return entries.length > 0 ? entries : null;
}

/** A charted resource's rounds, in the order read. */
interface Charted {
  target: string;
  /** Per sample: the selected round's index, the figures (NaN: null), verdict × 2 + path change. */
  round: number[];
  ms: number[];
  lo: number[];
  hi: number[];
  sd: number[];
  loss: number[];
  code: number[];
  /** The newest round's address and method, and that round's time. */
  address: string | null;
  method: HistoryEntry['method'];
  newest: number;
  /** Its first round's time, and its entry's place among those read (ties: the first read). */
  firstAt: number;
  firstSeq: number;
}

const orNaN = (value: number | null): number => (value === null ? Number.NaN : value);
const orNull = (value: number): number | null => (Number.isNaN(value) ? null : value);

/** Candidates kept while reading: the charted ones and those of one round tied with the last of them. */
const CANDIDATES = REPORT_LIMITS.maxResources + LIMITS.maxResources;
/** Resources --resource's error names. */
export const LISTED_RESOURCES = 20;

/** See the module's description. `stored` is visited twice. */
export function seriesFromStore(stored: Pick<StoredHistory, 'visit'>, query: SeriesQuery): StoredSeries {
  // ---- first pass: the rounds' times, the resources seen last
  const at: number[] = [];
  /** Indices of selected rounds whose time an earlier selected round has (read twice: drawn once). */
  const twice = new Set<number>();
  let seenAt: Set<number> | null = null;
  let latest = Number.NEGATIVE_INFINITY;
  /**
   * Per resource, the newest round it was seen in, for the CANDIDATES seen
   * last only: past twice as many, those seen longest ago are dropped. One
   * round names at most LIMITS.maxResources, so fewer than CANDIDATES are
   * seen at or after the round of the last one charted, and one dropped is
   * never charted (a time it is seen again, however old, is then its own).
   */
  const lastSeen = new Map<string, number>();
  let newestAt: string | null = null;
  let resourceFound = query.resource === null;
  const known = query.resource === null ? null : new NameCount();
  const listed: string[] = [];
  const first = stored.visit(
    (round) => {
      if (round.resources.length === 0) return;
      newestAt = round.at;
      if (known !== null) {
        for (const e of round.resources) {
          if (known.add(e.target) && listed.length < LISTED_RESOURCES) listed.push(e.target);
          if (e.target === query.resource) resourceFound = true;
        }
      }
      const entries = selected(round, query);
      if (entries === null) return;
      const k = at.length;
      const t = Date.parse(round.at);
      at.push(t);
      // In order (the usual store), a later time is new; out of order, every time seen is looked up.
      let again = false;
      if (t <= latest) {
        if (seenAt === null) seenAt = new Set(at.slice(0, k));
        again = seenAt.has(t);
      }
      seenAt?.add(t);
      latest = Math.max(latest, t);
      if (again) twice.add(k);
      else {
        for (const e of entries) {
          const seen = lastSeen.get(e.target);
          if (seen === undefined || t > seen) lastSeen.set(e.target, t);
        }
      }
      if (lastSeen.size > 2 * CANDIDATES) keepNewest(lastSeen, CANDIDATES);
    },
    { paths: false },
  );
  const result: StoredSeries = {
    series: null,
    rounds: at.length,
    resources: 0,
    skipped: first.skipped,
    newestAt,
    resourceFound,
    known: listed,
    knownCount: known?.size ?? 0,
  };
  const times = at.filter((_, k) => !twice.has(k)).sort((a, b) => a - b);
  const start = times[0];
  const end = times[times.length - 1];
  if (start === undefined || end === undefined) return result;

  // The candidates: seen at or after the round of the last one charted.
  keepNewest(lastSeen, REPORT_LIMITS.maxResources);
  const charted = new Map<string, Charted>();
  for (const target of lastSeen.keys()) {
    charted.set(target, {
      target,
      round: [],
      ms: [],
      lo: [],
      hi: [],
      sd: [],
      loss: [],
      code: [],
      address: null,
      method: null,
      newest: Number.NEGATIVE_INFINITY,
      firstAt: Number.POSITIVE_INFINITY,
      firstSeq: 0,
    });
  }

  // ---- second pass: the charted resources' figures, and the rounds they appear in
  const rounds = at.length;
  const roundAt: number[] = new Array(rounds).fill(0);
  const latencyThreshold: number[] = new Array(rounds).fill(0);
  const lossThreshold: number[] = new Array(rounds).fill(0);
  const tunnel: number[] = new Array(rounds).fill(NO_TUNNEL);
  /** A round's start as written, when it is not what toISOString gives for its time. */
  const written = new Map<number, string>();
  /**
   * The names that are not candidates, of the rounds drawn and of the rounds
   * read twice, by hash (see name-count.ts): with the candidates not
   * charted, the resources left out.
   */
  const notCandidates = new NameCount();
  const twiceNotCandidates = new NameCount();
  let k = -1;
  let sequence = 0;
  stored.visit(
    (round) => {
      const entries = selected(round, query);
      if (entries === null) return;
      k++;
      // The bytes are those of the first pass; should they have changed under us, extra rounds are left out.
      if (k >= rounds) return;
      if (twice.has(k)) {
        for (const e of entries) if (!charted.has(e.target)) twiceNotCandidates.add(e.target);
        return;
      }
      const t = Date.parse(round.at);
      let used = false;
      for (const e of entries) {
        sequence++;
        const c = charted.get(e.target);
        if (c === undefined) {
          notCandidates.add(e.target);
          continue;
        }
        if (t < c.firstAt) {
          c.firstAt = t;
          c.firstSeq = sequence;
        }
        used = true;
        c.round.push(k);
        c.ms.push(orNaN(e.latencyMs));
        c.lo.push(orNaN(e.lowMs));
        c.hi.push(orNaN(e.highMs));
        c.sd.push(orNaN(e.stdevMs));
        c.loss.push(e.lossPct);
        c.code.push(VERDICTS.indexOf(e.verdict) * 2 + (e.pathChanged ? 1 : 0));
        if (t >= c.newest) {
          c.newest = t;
          c.address = e.address;
          c.method = e.method;
        }
      }
      if (!used) return;
      roundAt[k] = t;
      latencyThreshold[k] = round.latencyThresholdMs;
      lossThreshold[k] = round.lossThresholdPct;
      tunnel[k] = round.tunnel == null ? NO_TUNNEL : HISTORY_TUNNEL_STATES.indexOf(round.tunnel) + 1;
      if (new Date(t).toISOString() !== round.at) written.set(k, round.at);
    },
    { paths: false },
  );

  // Seen in the newest rounds (ties: the first seen), charted in the order first seen.
  const byFirst = (a: Charted, b: Charted): number => a.firstAt - b.firstAt || a.firstSeq - b.firstSeq;
  const chosen = [...charted.values()]
    .filter((c) => c.round.length > 0)
    .sort((a, b) => b.newest - a.newest || byFirst(a, b))
    .slice(0, REPORT_LIMITS.maxResources)
    .sort(byFirst);
  // Left out: the names that were no candidates, and the candidates not charted (by name, exactly). Two names
  // that share a hash count once, so a crafted store can lower this count, but never to 0 when one is left
  // out, and never by a charted name.
  const leftOut = notCandidates;
  const isChosen = new Set(chosen);
  charted.forEach((c) => {
    if (c.round.length > 0 && !isChosen.has(c)) leftOut.add(c.target);
  });
  let onlyTwice = 0;
  for (const h of twiceNotCandidates.hashes()) if (!leftOut.hasHash(h)) onlyTwice++;
  result.resources = chosen.length + leftOut.size + onlyTwice;

  const series: ReportSeries = {
    start,
    end,
    rounds: times.length,
    stepMs:
      times.length > REPORT_LIMITS.maxPoints
        ? (end - start) / REPORT_LIMITS.maxPoints
        : medianInterval(times),
    roundsPerPoint: 1,
    resources: [],
    // addResource counts each charted one down.
    resourcesLeftOut: chosen.length + leftOut.size,
  };
  for (const c of chosen) {
    // Oldest first; a sort is stable, so the entries of one round keep their order.
    const order = c.round
      .map((_, n) => n)
      .sort((a, b) => (roundAt[c.round[a] as number] as number) - (roundAt[c.round[b] as number] as number));
    const samples = order.map((n) => sampleOf(c, n));
    addResource(series, c.target, samples);
    // Those of one resource at a time: dropped before the next.
    c.round = [];
  }
  result.series = series;
  return result;

  function sampleOf(c: Charted, n: number): Sample {
    const r = c.round[n] as number;
    const t = roundAt[r] as number;
    const iso = written.get(r) ?? new Date(t).toISOString();
    const code = c.code[n] as number;
    const state = tunnel[r] as number;
    const entry: HistoryEntry = {
      target: c.target,
      address: c.address,
      method: c.method,
      verdict: VERDICTS[code >> 1] as Verdict,
      latencyMs: orNull(c.ms[n] as number),
      lowMs: orNull(c.lo[n] as number),
      highMs: orNull(c.hi[n] as number),
      stdevMs: orNull(c.sd[n] as number),
      lossPct: c.loss[n] as number,
      hops: null,
      trouble: null,
      pathChanged: (code & 1) === 1,
    };
    const round: HistoryRound = {
      at: iso,
      latencyThresholdMs: latencyThreshold[r] as number,
      lossThresholdPct: lossThreshold[r] as number,
      resources: [],
    };
    if (state !== NO_TUNNEL) round.tunnel = HISTORY_TUNNEL_STATES[state - 1] as HistoryTunnelState;
    return { at: t, iso, entry, round };
  }
}
