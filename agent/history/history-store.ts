/**
 * The round history: one line per round in `cc-monitor-history.jsonl` in the
 * log directory, appended at the end of every round, read back for path
 * changes and baselines (the next rounds) and for the HTML history report.
 * It is the agent's own file, beside the old tool's files, whose names and
 * keys stay as they were.
 *
 * A line is a JSON object, its entries positional arrays (a line per round
 * for weeks, read back every round: short to write and quick to parse):
 *
 *   {"hv":2,"at":"2026-01-01T12:00:00.000Z","lt":75,"lp":5,"ad":["10.199.100.1","10.20.0.5"],"r":[
 *     ["db.corp.internal",0,12.3,11.9,14.2,0.4,11.8,3,[0,null,1],"10.20.0.5",0,"latency",["latency",1,"tunnel"]]]}
 *
 * `hv` the line format (2); `at` the round's start (ISO 8601, UTC); `lt`/`lp`
 * the latency (ms) and loss (%) thresholds of the round; `ad` the hop
 * addresses of the round, each once (paths share their first hops); `r` one
 * entry per resource, by position (F below): target; loss (%); latency
 * (ms, as judged); the fastest and slowest probe and their standard deviation
 * (ms: the band of a SmokePing-style graph; mtr reports no median, so the
 * centre is the mean); the baseline (ms) it was held against; flags (1: a
 * path change was reported, 2: far above the baseline); the hops as
 * positions in `ad` (null: silent; 0: the path of the last line that wrote
 * one, see below; null for the list: no path); the address (0: the target;
 * null: it did not resolve); the method (0: `icmp`); the verdict (0: `ok`);
 * the trouble spot (kind, hop, side). Numbers not measured are null; trailing
 * fields at their default (0, or null for the trouble spot) are left out.
 * `tn`, when present, is the tunnel's state in the round (one of
 * HISTORY_TUNNEL_STATES; left out when not known): the HTML report marks the
 * rounds it was not `up`. Lines of format 1 (the same fields as keys of an
 * object per entry: t, loss, ms, lo, hi, sd, bm, pc, far, h, a, m, v, tr,
 * keys of empty values left out) are still read.
 *
 * Paths rarely change, so the hops are written only when the path differs
 * from the last one written for the target, when that one is
 * PATH_REFRESH_LINES lines back or more, and on the first line of a file; an
 * entry without them (0, or left out) has the path of the last line that
 * wrote it (null: no path). So every run of
 * PATH_REFRESH_LINES lines names every path, and a reader of the last
 * RECENT_ROUNDS lines knows the path of the newest RECENT_ROUNDS −
 * PATH_REFRESH_LINES rounds, more than the path rule's window.
 *
 * Bounded: past HISTORY_LIMITS.fileBytes the file is rotated like the JSON
 * report (`.1`, `.2`; the oldest dropped), so the store never holds more than
 * (keep + 1) × fileBytes (24 MiB) plus one line, and always at least keep ×
 * fileBytes (16 MiB) of the newest rounds once it has rotated: under 7 KB a
 * round on average for 50 resources on 10-hop IPv4 paths with every field
 * set (about 5 KB in format 2), so 7 days of 5-minute rounds (2,016 rounds,
 * about 10 MB) always fit (tested in test/unit/history/history-store.test.ts).
 * Every read is bounded too: a round reads at most tailBytes from the end,
 * and only as far back as its RECENT_ROUNDS lines need (read-lines.ts).
 *
 * Untrusted like everything in the log directory: written and read through
 * the directory handle as its acting user (append-line.ts, read-lines.ts,
 * rotate.ts); a line that does not parse or breaks a bound is skipped, and an
 * entry that does is skipped alone, so a damaged file never stops a round.
 */
import { isCalendarDate } from '../../common/calendar-date.ts';
import {
  PROBE_METHODS,
  RESULT_LIMITS,
  TROUBLE_KINDS,
  TROUBLE_SIDES,
  TUNNEL_STATES,
  VERDICTS,
} from '../../common/result-contract.ts';
import type { ProbeMethod, TroubleSpot, Verdict } from '../../common/result-schema.ts';
import { LIMITS } from '../../common/settings.ts';
import { appendLine } from '../files/append-line.ts';
import type { LogDir } from '../files/log-dir.ts';
import { readLastLines } from '../files/read-lines.ts';
import { rotateIfNeeded } from '../files/rotate.ts';
import { BASELINE_RULE } from './baseline.ts';
import { type HopAddresses, PATH_RULE } from './path-change.ts';

export const HISTORY_FILE = 'cc-monitor-history.jsonl';

export const HISTORY_LIMITS = {
  /** Rotate the file past this size. */
  fileBytes: 8 * 1024 * 1024,
  /** Rotated copies kept. */
  keep: 2,
  /** The most a round reads from the end of the history. */
  tailBytes: 4 * 1024 * 1024,
  /**
   * A round's first read from the end, doubled until RECENT_ROUNDS lines are
   * found: about what they take for 50 resources (lines of 4 to 12 KB, the
   * longer ones every PATH_REFRESH_LINES), so a steady history is read once.
   */
  firstReadBytes: 256 * 1024,
  /** A longer line is skipped unread (an honest round stays below: under 700 KB with 255 IPv6 hops on 50 paths). */
  maxLineBytes: 1024 * 1024,
} as const;

/**
 * The tunnel states a line may carry in `tn`: those of the result's
 * `tunnel.state`. A round whose tunnel is unknown (or not looked at) is
 * written without `tn`.
 */
export const HISTORY_TUNNEL_STATES = TUNNEL_STATES;
export type HistoryTunnelState = (typeof HISTORY_TUNNEL_STATES)[number];

/** A path is written again after this many lines even when it has not changed (see above). */
export const PATH_REFRESH_LINES = 16;

/** Rounds a round reads back: enough for both rules. */
export const RECENT_ROUNDS = Math.max(PATH_RULE.windowRounds, BASELINE_RULE.windowRounds);

const LINE_VERSION = 2;
/** The first format, entries as objects: still read, no longer written. */
const LINE_VERSION_KEYED = 1;

/** Positions in a format-2 entry. */
const F = {
  t: 0,
  loss: 1,
  ms: 2,
  lo: 3,
  hi: 4,
  sd: 5,
  bm: 6,
  flags: 7,
  h: 8,
  a: 9,
  m: 10,
  v: 11,
  tr: 12,
} as const;
/** What a left-out trailing field stands for (the target, loss and numbers are always written). */
const TRAILING_DEFAULTS: readonly unknown[] = [
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  0,
  0,
  0,
  0,
  0,
  null,
];
const FLAG_PATH_CHANGE = 1;
const FLAG_FAR = 2;

/** One resource in one round. */
export interface HistoryEntry {
  target: string;
  address: string | null;
  method: ProbeMethod | null;
  verdict: Verdict;
  /** Milliseconds, the latency as judged; null when nothing answered. */
  latencyMs: number | null;
  /** The round's fastest and slowest probe and their standard deviation (ms); null when not known. */
  lowMs: number | null;
  highMs: number | null;
  stdevMs: number | null;
  lossPct: number;
  /** Addresses of the responding hops by position; null when the round had no path. */
  hops: HopAddresses | null;
  trouble: Pick<TroubleSpot, 'kind' | 'hop' | 'side'> | null;
  /** A path change was reported for this round. */
  pathChanged: boolean;
  /** The baseline (ms) this round was held against; null when there was none. */
  baselineMs: number | null;
  /** Far above the baseline (flagged only with --baseline-flag on). */
  far: boolean;
}

export interface HistoryRound {
  /** The round's start, ISO 8601 UTC. */
  at: string;
  latencyThresholdMs: number;
  lossThresholdPct: number;
  resources: HistoryEntry[];
  /** What the round saw of the tunnel; absent or null when not recorded. */
  tunnel?: HistoryTunnelState | null;
}

// ---------------------------------------------------------------- the line format

type Wire = Record<string, unknown>;

/**
 * The last path written for each target, as the lines read so far say:
 * `linesAgo` counts the lines after the one that wrote it. A reader builds it
 * (HistoryRead.paths); the writer leaves out a path it knows.
 */
export type PathMemory = Map<string, { hops: HopAddresses | null; linesAgo: number }>;

/**
 * One round as its line (no newline), leaving out the paths `memory` (the
 * lines before it) already has; null or empty memory writes every path. Hop
 * lists are written as null in a line that would pass maxLineBytes.
 */
export function encodeRound(round: HistoryRound, memory: PathMemory | null = null): string {
  const line = JSON.stringify(toWire(round, true, memory));
  return Buffer.byteLength(line) <= HISTORY_LIMITS.maxLineBytes
    ? line
    : JSON.stringify(toWire(round, false, null));
}

function samePath(a: HopAddresses | null, b: HopAddresses | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((hop, i) => hop === b[i]);
}

function toWire(round: HistoryRound, withHops: boolean, memory: PathMemory | null): Wire {
  const addresses = new Map<string, number>();
  const indexOf = (address: string | null): number | null => {
    if (address === null) return null;
    const known = addresses.get(address);
    if (known !== undefined) return known;
    addresses.set(address, addresses.size);
    return addresses.size - 1;
  };
  const r = round.resources.map((e) => {
    const known = memory?.get(e.target);
    const fresh = known !== undefined && known.linesAgo + 1 < PATH_REFRESH_LINES;
    let hops: unknown = 0;
    if (!withHops) hops = null;
    else if (!fresh || !samePath(known.hops, e.hops)) hops = e.hops === null ? null : e.hops.map(indexOf);
    const wire: unknown[] = [
      e.target,
      e.lossPct,
      e.latencyMs,
      e.lowMs,
      e.highMs,
      e.stdevMs,
      e.baselineMs,
      (e.pathChanged ? FLAG_PATH_CHANGE : 0) | (e.far ? FLAG_FAR : 0),
      hops,
      e.address === e.target ? 0 : e.address,
      e.method === 'icmp' ? 0 : e.method,
      e.verdict === 'ok' ? 0 : e.verdict,
      e.trouble === null ? null : [e.trouble.kind, e.trouble.hop, e.trouble.side],
    ];
    while (wire.length > F.flags && wire[wire.length - 1] === TRAILING_DEFAULTS[wire.length - 1]) wire.pop();
    return wire;
  });
  const wire: Wire = {
    hv: LINE_VERSION,
    at: round.at,
    lt: round.latencyThresholdMs,
    lp: round.lossThresholdPct,
    ad: [...addresses.keys()],
    r,
  };
  if (round.tunnel != null) wire.tn = round.tunnel;
  return wire;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

export interface DecodedRound {
  round: HistoryRound;
  /** Entries left out because they broke a bound. */
  skippedEntries: number;
}

/**
 * Reads one line; null when it is not a round line this version wrote (it is
 * then skipped). A path the line leaves out is taken from `memory`, the lines
 * before it (null when they do not have it), and `memory` is brought up to
 * this line.
 */
export function decodeRound(line: string, memory: PathMemory = new Map()): DecodedRound | null {
  if (line.length > HISTORY_LIMITS.maxLineBytes) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(value) || (value.hv !== LINE_VERSION && value.hv !== LINE_VERSION_KEYED)) return null;
  const decodeEntry = value.hv === LINE_VERSION ? decodePositional : decodeKeyed;
  const { at, lt, lp, ad, r, tn } = value;
  if (
    typeof at !== 'string' ||
    !ISO_TIMESTAMP.test(at) ||
    !isCalendarDate(at) ||
    !Number.isFinite(Date.parse(at))
  )
    return null;
  const latencyThresholdMs = numberIn(lt, 0, LIMITS.latencyThresholdMs.max);
  const lossThresholdPct = numberIn(lp, 0, 100);
  if (latencyThresholdMs === null || lossThresholdPct === null) return null;
  if (tn !== undefined && !(HISTORY_TUNNEL_STATES as readonly unknown[]).includes(tn)) return null;
  if (!Array.isArray(r) || r.length > LIMITS.maxResources) return null;
  const addresses = ad ?? [];
  if (!Array.isArray(addresses) || addresses.length > r.length * RESULT_LIMITS.maxHops) return null;
  if (!areHopAddresses(addresses)) return null;
  // Indexed loops and forEach: these run before the code is compiled, where for-of costs an iterator per step.
  const resources: HistoryEntry[] = [];
  const written: PathsWritten = new Map();
  for (let i = 0; i < r.length; i++) {
    const entry = decodeEntry(r[i], addresses as string[], memory, written);
    if (entry !== null) resources.push(entry);
  }
  memory.forEach((value) => {
    value.linesAgo++;
  });
  written.forEach((hops, target) => {
    const known = memory.get(target);
    if (known === undefined) memory.set(target, { hops, linesAgo: 0 });
    else {
      known.hops = hops;
      known.linesAgo = 0;
    }
  });
  const round: HistoryRound = { at, latencyThresholdMs, lossThresholdPct, resources };
  if (tn !== undefined) round.tunnel = tn as HistoryTunnelState;
  return {
    round,
    skippedEntries: r.length - resources.length,
  };
}

/** The paths a line wrote, by target (entries that left theirs out are not in it). */
type PathsWritten = Map<string, HopAddresses | null>;

/** Decodes one entry (null: it broke a bound), adding the path it wrote, if any, to `written`. */
type EntryDecoder = (
  wire: unknown,
  addresses: readonly string[],
  memory: PathMemory,
  written: PathsWritten,
) => HistoryEntry | null;

/**
 * A format-2 entry: positions as F, trailing fields at their default left
 * out. The one check of an entry's fields (format 1 is brought to this shape
 * first): it runs for every resource of every line a round reads, mostly
 * before the code is compiled, so it is straight-line code with few calls and
 * no intermediate objects.
 */
const decodePositional: EntryDecoder = (wire, addresses, memory, written) => {
  if (!Array.isArray(wire)) return null;
  const n = wire.length;
  if (n <= F.bm || n > F.tr + 1) return null;
  const target: unknown = wire[F.t];
  if (typeof target !== 'string' || target === '' || target.length > RESULT_LIMITS.maxTargetChars)
    return null;
  const lossPct: unknown = wire[F.loss];
  if (typeof lossPct !== 'number' || !(lossPct >= 0 && lossPct <= 100)) return null;
  const ms = optionalMs(wire[F.ms]);
  const lo = optionalMs(wire[F.lo]);
  const hi = optionalMs(wire[F.hi]);
  const sd = optionalMs(wire[F.sd]);
  const bm = optionalMs(wire[F.bm]);
  if (ms === undefined || lo === undefined || hi === undefined || sd === undefined || bm === undefined)
    return null;
  const flags: unknown = n > F.flags ? wire[F.flags] : 0;
  if (flags !== 0 && flags !== 1 && flags !== 2 && flags !== 3) return null;
  let hops: HopAddresses | null | undefined = null;
  const rawHops: unknown = n > F.h ? wire[F.h] : 0;
  if (rawHops === 0) hops = memory.get(target)?.hops ?? null;
  else if (rawHops !== null) {
    hops = decodeHops(rawHops, addresses);
    if (hops === undefined) return null;
  }
  const address: unknown = n > F.a && wire[F.a] !== 0 ? wire[F.a] : target;
  if (address !== null && (typeof address !== 'string' || address.length > RESULT_LIMITS.maxAddressChars))
    return null;
  let method: unknown = 'icmp';
  let verdict: unknown = 'ok';
  let trouble: HistoryEntry['trouble'] | undefined = null;
  if (n > F.m) {
    if (wire[F.m] !== 0) method = wire[F.m];
    if (method !== null && !(PROBE_METHODS as readonly unknown[]).includes(method)) return null;
    if (n > F.v && wire[F.v] !== 0) verdict = wire[F.v];
    if (!(VERDICTS as readonly unknown[]).includes(verdict)) return null;
    if (n > F.tr && wire[F.tr] !== null) {
      trouble = decodeTrouble(wire[F.tr]);
      if (trouble === undefined) return null;
    }
  }
  if (rawHops !== 0) written.set(target, hops);
  return {
    target,
    address: address as string | null,
    method: method as ProbeMethod | null,
    verdict: verdict as Verdict,
    latencyMs: ms,
    lowMs: lo,
    highMs: hi,
    stdevMs: sd,
    lossPct,
    hops,
    trouble,
    pathChanged: (flags & FLAG_PATH_CHANGE) !== 0,
    baselineMs: bm,
    far: (flags & FLAG_FAR) !== 0,
  };
};

/**
 * A format-1 entry: an object whose keys of empty values are left out,
 * brought to the format-2 shape. A value format 2 reads as "left out" (0 for
 * the hops, address, method or verdict; null for the trouble spot) was never
 * a valid format-1 value, and still is not.
 */
const decodeKeyed: EntryDecoder = (wire, addresses, memory, written) => {
  if (!isRecord(wire) || !flag(wire.pc) || !flag(wire.far)) return null;
  const { h, a, m, v, tr } = wire;
  if (h === 0 || a === 0 || m === 0 || v === 0 || tr === null) return null;
  return decodePositional(
    [
      wire.t,
      wire.loss,
      wire.ms ?? null,
      wire.lo ?? null,
      wire.hi ?? null,
      wire.sd ?? null,
      wire.bm ?? null,
      (wire.pc === 1 ? FLAG_PATH_CHANGE : 0) | (wire.far === 1 ? FLAG_FAR : 0),
      h === undefined ? 0 : h,
      a === undefined ? 0 : a,
      m === undefined ? 0 : m,
      v === undefined ? 0 : v,
      tr === undefined ? null : tr,
    ],
    addresses,
    memory,
    written,
  );
};

/** Absent or null: null; a round trip in range: the number; anything else: undefined (invalid). */
function optionalMs(value: unknown): number | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === 'number' && value >= 0 && value <= RESULT_LIMITS.maxMs ? value : undefined;
}

function numberIn(value: unknown, min: number, max: number): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? value : null;
}

function flag(value: unknown): boolean {
  return value === undefined || value === 1;
}

/**
 * Every one a hop address. A loop of its own: run for every address of every
 * line, it is the first code to be optimized, and a small function is quick
 * to compile where decodeRound, with the decoders inlined, is not.
 */
function areHopAddresses(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (typeof a !== 'string' || a === '' || a.length > RESULT_LIMITS.maxHopHostChars) return false;
  }
  return true;
}

/** Positions in the round's address list, or null; undefined when one is not. */
function decodeHops(value: unknown, addresses: readonly string[]): HopAddresses | undefined {
  if (!Array.isArray(value) || value.length > RESULT_LIMITS.maxHops) return undefined;
  const hops: HopAddresses = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const index: unknown = value[i];
    // A whole number from 0 (>>> 0 keeps exactly those below 2^32), then in the list's range.
    if (index === null) hops[i] = null;
    else if (typeof index === 'number' && index >>> 0 === index && index < addresses.length)
      hops[i] = addresses[index] as string;
    else return undefined;
  }
  return hops;
}

function decodeTrouble(value: unknown): HistoryEntry['trouble'] | undefined {
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [kind, hop, side] = value as unknown[];
  if (!(TROUBLE_KINDS as readonly unknown[]).includes(kind)) return undefined;
  if (!(TROUBLE_SIDES as readonly unknown[]).includes(side)) return undefined;
  if (typeof hop !== 'number' || !Number.isInteger(hop) || hop < 1 || hop > RESULT_LIMITS.maxTtl) {
    return undefined;
  }
  return { kind: kind as TroubleSpot['kind'], hop, side: side as TroubleSpot['side'] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------- the file

/**
 * Appends the round, rotating the file first when it has passed its bound.
 * `paths`: what the history read this round said (HistoryRead.paths); the
 * paths it knows are left out of the line, except on the first line of a
 * file. Throws E_LOG_DIR.
 */
export function appendRound(dir: LogDir, round: HistoryRound, paths: PathMemory | null = null): void {
  const rotated = rotateIfNeeded(dir, HISTORY_FILE, {
    maxBytes: HISTORY_LIMITS.fileBytes,
    keep: HISTORY_LIMITS.keep,
  });
  appendLine(dir, HISTORY_FILE, encodeRound(round, rotated.length > 0 ? null : paths));
}

export interface HistoryRead {
  /** Oldest first. */
  rounds: HistoryRound[];
  /** Lines and entries skipped because they did not parse or broke a bound. */
  skipped: number;
  /** The byte budget ran out before the oldest round asked for was reached. */
  truncated: boolean;
  /** Rotated copies that could not be read, and why. */
  notes: string[];
  /** The last path written for each target, for the next line (appendRound). */
  paths: PathMemory;
}

const rotatedName = (n: number): string => `${HISTORY_FILE}.${n}`;

/**
 * The last `maxRounds` rounds (fewer when the history is younger or the
 * budget runs out), from the current file and, when it holds fewer, the
 * newest rotated copy. Throws E_LOG_DIR when the current file is not one the
 * agent may read (a rotated copy that is not is noted and left out).
 */
export function readRecentRounds(dir: LogDir, maxRounds = RECENT_ROUNDS): HistoryRead {
  return readFiles(dir, [HISTORY_FILE, rotatedName(1)], {
    maxRounds,
    maxBytes: HISTORY_LIMITS.tailBytes,
    firstReadBytes: HISTORY_LIMITS.firstReadBytes,
  });
}

export interface HistoryQuery {
  /** Rounds that started at or after this time only. */
  since?: Date | null;
  /** This target's entries only (rounds without it are left out). */
  resource?: string | null;
  /** Bytes read at most, newest first; default: the whole store. */
  maxBytes?: number;
}

/**
 * The stored rounds, oldest first, from the rotated copies and the current
 * file, filtered by `since` and `resource`: what the HTML history report is
 * drawn from. Bounded by `maxBytes` (default: the largest the store can be),
 * reading the newest rounds first. Throws E_LOG_DIR as readRecentRounds.
 */
export function readHistory(dir: LogDir, query: HistoryQuery = {}): HistoryRead {
  const names = [HISTORY_FILE];
  for (let n = 1; n <= HISTORY_LIMITS.keep; n++) names.push(rotatedName(n));
  const read = readFiles(dir, names, {
    maxRounds: Number.POSITIVE_INFINITY,
    maxBytes:
      query.maxBytes ?? (HISTORY_LIMITS.keep + 1) * HISTORY_LIMITS.fileBytes + HISTORY_LIMITS.maxLineBytes,
  });
  return { ...read, rounds: filterRounds(read.rounds, query) };
}

/** The rounds that `since` and `resource` select (see HistoryQuery), in the order given. Pure. */
export function filterRounds(
  rounds: readonly HistoryRound[],
  query: Pick<HistoryQuery, 'since' | 'resource'>,
): HistoryRound[] {
  const since = query.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const resource = query.resource ?? null;
  const kept: HistoryRound[] = [];
  for (const round of rounds) {
    if (Date.parse(round.at) < since) continue;
    const resources =
      resource === null ? round.resources : round.resources.filter((e) => e.target === resource);
    if (resources.length > 0) kept.push({ ...round, resources });
  }
  return kept;
}

/** `names` newest file first; reads each from its end until the rounds or the bytes are used up. */
function readFiles(
  dir: LogDir,
  names: readonly string[],
  o: { maxRounds: number; maxBytes: number; firstReadBytes?: number },
): HistoryRead {
  const newestFirst: string[][] = [];
  const notes: string[] = [];
  let lines = 0;
  let bytes = 0;
  let truncated = false;
  for (const [index, name] of names.entries()) {
    if (lines >= o.maxRounds) break;
    if (bytes >= o.maxBytes) {
      truncated = true;
      break;
    }
    let read: ReturnType<typeof readLastLines>;
    try {
      read = readLastLines(dir, name, {
        maxLines: o.maxRounds - lines,
        maxBytes: o.maxBytes - bytes,
        ...(o.firstReadBytes === undefined ? {} : { firstReadBytes: o.firstReadBytes }),
      });
    } catch (error) {
      // The current file is the round's own business; a rotated copy is only older evidence.
      if (index === 0) throw error;
      notes.push(error instanceof Error ? error.message : String(error));
      break;
    }
    if (read === null) continue;
    bytes += read.bytes;
    lines += read.lines.length;
    newestFirst.push(read.lines);
    if (!read.fromStart) {
      truncated = lines < o.maxRounds;
      break;
    }
  }
  // Oldest first, so that each line finds the paths the lines before it wrote.
  const paths: PathMemory = new Map();
  const rounds: HistoryRound[] = [];
  let skipped = 0;
  for (const line of newestFirst.reverse().flat()) {
    const decoded = decodeRound(line, paths);
    if (decoded === null) {
      skipped++;
      for (const value of paths.values()) value.linesAgo++;
    } else {
      skipped += decoded.skippedEntries;
      rounds.push(decoded.round);
    }
  }
  return { rounds, skipped, truncated, notes, paths };
}
