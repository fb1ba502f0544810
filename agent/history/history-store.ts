/**
 * The round history: one line per round in `cc-monitor-history.jsonl` in the
 * log directory, appended at the end of every round, read back for path
 * changes and baselines (the next rounds) and for the HTML history report.
 * It is the agent's own file, beside the old tool's files, whose names and
 * keys stay as they were.
 *
 * A line is a JSON object, one per round, its entries by column (a line per
 * round for weeks, read back every round: short to write, and quick to parse
 * for what the rules read):
 *
 *   {"hv":4,"at":"2026-01-01T12:00:00.000Z","lt":75,"lp":5,"ad":["10.199.100.1","10.20.0.5"],
 *    "t":["db.corp.internal","10.20.0.7"],"ms":[12300,55100],"m":[0,"tcp"],"h":[[0,null,1],0],
 *    "b":"[[0,11900,14200,400,1,\"10.20.0.5\",\"latency\",[\"latency\",1,\"tunnel\"]],[0,50100,61200,2100]]"}
 *
 * `hv` the line format (4); `at` the round's start (ISO 8601, UTC); `lt`/`lp`
 * the latency (ms) and loss (%) thresholds of the round; `ad` the hop
 * addresses of the round, each once (paths share their first hops). Then
 * what the rules read, one column each, an entry per resource: `t` the
 * target; `ms` the latency as judged (µs; null: nothing answered); `m` the
 * method (0: `icmp`; the column left out when every entry's is); `h` the
 * hops as positions in `ad` (null: silent; 0: the path of the last line that
 * wrote one, see below; null for the list: no path; the column left out when
 * every entry's is 0). Then `b`, what only the report reads, as JSON text, so
 * that a round's JSON.parse passes over it as one string: per entry, loss
 * (%); the fastest and slowest probe and their standard deviation (µs: the
 * band of a SmokePing-style graph; mtr reports no median, so the centre is
 * the mean); flags (1: a path change was reported); the address (0: the
 * target; null: it did not resolve); the verdict (0: `ok`); the trouble spot
 * (kind, hop, side); trailing fields at their default (0, or null for the
 * trouble spot) left out. Numbers not measured are null. `tn`, when present,
 * is the tunnel's state in the round (one of HISTORY_TUNNEL_STATES; left out
 * when not known): the HTML report marks the rounds it was not `up`.
 *
 * Older lines are still read: format 3 (`r`, one array per entry, by
 * position, F3 below: target, loss, latency, fastest, slowest, standard
 * deviation (µs), flags, hops, address, method, verdict, trouble spot, the
 * same values as format 4), format 2 (the same in milliseconds, with the
 * baseline the round was held against after the standard deviation, and
 * flag 2 for "far above it") and format 1 (the fields as keys of an object
 * per entry: t, loss, ms, lo, hi, sd, bm, pc, far, h, a, m, v, tr, keys of
 * empty values left out). Nothing reads the baseline or the far flag (the
 * rules recompute the baseline from the latencies; the report draws
 * neither), so formats 3 and 4 do not write them. Both readers bring a
 * format-4 entry to the format-3 positions (columnEntries) and an older one
 * to the columns (ruleColumns), so that each checks every format alike.
 *
 * Paths rarely change, so the hops are written only when the path differs
 * from the last one written for the target, when that one is
 * PATH_REFRESH_LINES lines back or more or in another file (a rotated copy:
 * each file names its own paths, so dropping the oldest copy leaves every
 * line's path in the store), and on the first line of a file; an
 * entry without them (0, or left out) has the path of the last line that
 * wrote it (null: no path). So every run of
 * PATH_REFRESH_LINES lines names every path, and a reader of the last
 * RECENT_ROUNDS lines knows the path of the newest RECENT_ROUNDS −
 * PATH_REFRESH_LINES rounds, more than the path rule's window.
 *
 * Two readers. A round (readRecentRounds) reads what the rules read, per
 * target: the latency with its method and the paths of the newest rounds;
 * it checks the bounds of exactly those fields (and the hops only of the
 * lines the path rule and the writer need), builds no entry objects, and
 * leaves the other fields unread (`b` stays a string). The report (openStoredHistory, visiting
 * the rounds oldest first as they are read in chunks, holding none of them;
 * readHistory collects them) decodes and checks every field of every line
 * (decodeRound); a line longer than maxLineBytes is skipped unread. Paths
 * are remembered by the line that wrote them (PathMemory), so a line costs
 * the paths it writes, never the count of targets known. So "damaged" differs
 * between them: an entry whose latency, method, target or needed hops break
 * a bound is skipped by both; one whose other fields do (the verdict, the
 * band, the trouble spot, the line's time or thresholds) still counts for
 * the rules, which never read those fields and so cannot be misled by them,
 * and is skipped by the report.
 *
 * A path left out of a line is resolved by both readers (and so the writer
 * may leave it out) only when they agree on the last line that wrote it: the
 * writer's memory (RecentHistory.paths) leaves a target out when a line in
 * its refresh window wrote it a path that the report's reader takes and the
 * round's does not (an entry skipped for its latency or method), that the
 * report's reader skips (a line whose own fields break a bound), or two
 * paths; and is empty when the file ends with bytes no newline closes, which
 * the append makes a line (append-line.ts); and it is used only when the
 * file is, at the append, as it was read (PathMemory.file), since the round
 * writes other files in between. Lines slipped into the history by another
 * user cannot then change the path the report gives the agent's own rounds
 * (test/unit/history/history-attacks.test.ts), short of one landing in the
 * microseconds between the append's fstat and its write. That is a promise
 * about lines added; "as it was read" is the file's identity and size, not
 * its bytes. The user who owns the log directory owns this file too (the
 * agent acts as that user, log-dir.ts) and can rewrite it, the agent's own
 * lines included, at any time: no check at the append can stop that (a
 * rewrite to the same size passes this one), and none is attempted; the
 * report of such a directory is only as true as its owner lets it be.
 *
 * Bounded: past HISTORY_LIMITS.fileBytes the file is rotated like the JSON
 * report (`.1`, `.2`; the oldest dropped), so the store never holds more than
 * (keep + 1) × fileBytes (24 MiB) plus one line, and always at least keep ×
 * fileBytes (16 MiB) of the newest rounds once it has rotated: under 7 KB a
 * round on average for 50 resources on 10-hop IPv4 paths with every field
 * set (about 4.4 KB in format 4), so 7 days of 5-minute rounds (2,016 rounds,
 * about 10 MB) always fit (tested in test/unit/history/history-store.test.ts).
 * Every read is bounded too: a round reads at most tailBytes from the end,
 * and only as far back as its RECENT_ROUNDS lines need (read-lines.ts).
 *
 * Untrusted like everything in the log directory: written and read through
 * the directory handle as its acting user (append-line.ts, read-lines.ts,
 * rotate.ts); a line that does not parse or breaks a bound is skipped, and an
 * entry that does is skipped alone, so a damaged file never stops a round.
 */
import * as fs from 'node:fs';
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
import {
  type FileState,
  forEachLine,
  type HeldFile,
  openForReading,
  readLastLines,
  sameFile,
} from '../files/read-lines.ts';
import { rotateIfNeeded } from '../files/rotate.ts';
import { BASELINE_RULE } from './baseline.ts';
import { HOP_ADDRESS, type HopAddresses, PATH_RULE } from './path-change.ts';

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

const LINE_VERSION = 4;
/** The formats still read: 3 (entries as arrays), 2 (the same with the baseline) and 1 (entries as objects). */
const LINE_VERSION_POSITIONAL = 3;
const LINE_VERSION_BASELINE = 2;
const LINE_VERSION_KEYED = 1;

/** Where each field of a positional entry is. */
export interface Layout {
  t: number;
  loss: number;
  ms: number;
  lo: number;
  hi: number;
  sd: number;
  flags: number;
  h: number;
  a: number;
  m: number;
  v: number;
  tr: number;
  /** The round trips' unit: this many to the millisecond. */
  perMs: number;
  /** Format 2's flags may say "far" (2), unread. */
  far: boolean;
}
/**
 * Positions in a format-3 entry, and in a format-4 entry brought to it
 * (columnEntries); the fields before `flags` are always written. Round trips
 * in whole microseconds: JSON.parse reads an integer much faster than a
 * decimal (a round reads RECENT_ROUNDS lines of them), and ms × 1000
 * rounded, divided back, is the same number for the milliseconds with 3
 * decimals the agent keeps (round3, mtr's own figures).
 */
// biome-ignore format: a table
const F3: Layout = { t: 0, loss: 1, ms: 2, lo: 3, hi: 4, sd: 5, flags: 6, h: 7, a: 8, m: 9, v: 10, tr: 11, perMs: 1000, far: false };
/** Format 2: the baseline (unread) at 6, the fields from `flags` on one further; milliseconds. */
// biome-ignore format: a table
const F2: Layout = { t: 0, loss: 1, ms: 2, lo: 3, hi: 4, sd: 5, flags: 7, h: 8, a: 9, m: 10, v: 11, tr: 12, perMs: 1, far: true };
/** Format 1 brought to the format-3 positions (keyedAsPositional); milliseconds. */
const F1: Layout = { ...F3, perMs: 1 };

/** A round trip (ms) as formats 3 and 4 write it. */
const toMicroseconds = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 1000));
/** Fields of a format-4 band entry always written (loss, fastest, slowest, standard deviation); the flags are next. */
export const BAND_WRITTEN = 4;
/** What a left-out trailing field of a band entry stands for: flags, address, verdict, trouble spot. */
export const BAND_DEFAULTS: readonly unknown[] = [undefined, undefined, undefined, undefined, 0, 0, 0, null];
const FLAG_PATH_CHANGE = 1;
/** Format 2's "far above the baseline", no longer written or read. */
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
 * The last path written for each target, as the lines read so far say: the
 * number of the line that wrote it (the first line read is 0), and `lines`,
 * the lines read (every line, round or not). A line's paths are set without
 * touching the others, so reading costs per path written, not per target
 * known. A reader builds it (HistoryRead.paths, RecentHistory.paths); the
 * writer leaves out a path it knows.
 */
export interface PathMemory {
  lines: number;
  written: Map<string, { hops: HopAddresses | null; line: number }>;
  /**
   * The file the lines were read from, as it was then (readRecentRounds;
   * absent for other readers): appendRound leaves no path out of a line
   * that would land after lines this memory has not read.
   */
  file?: FileState;
}

export const newPathMemory = (): PathMemory => ({ lines: 0, written: new Map() });

/** The target's last path written and how many lines were read after the one that wrote it; undefined: none. */
export function knownPath(
  memory: PathMemory,
  target: string,
): { hops: HopAddresses | null; linesAgo: number } | undefined {
  const known = memory.written.get(target);
  return known === undefined ? undefined : { hops: known.hops, linesAgo: memory.lines - 1 - known.line };
}

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
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether `memory` has the path a line written now may leave out (see the module's description). */
function knowsPath(memory: PathMemory | null, target: string, hops: HopAddresses | null): boolean {
  const known = memory?.written.get(target);
  // lines − line: the lines after the one that wrote it, plus the line now written.
  return (
    known !== undefined &&
    memory !== null &&
    memory.lines - known.line < PATH_REFRESH_LINES &&
    samePath(known.hops, hops)
  );
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
  const entries = round.resources;
  const targets: string[] = [];
  const latencies: (number | null)[] = [];
  const methods: unknown[] = [];
  const hops: unknown[] = [];
  const band: unknown[][] = [];
  let anyMethod = false;
  let anyPath = false;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as HistoryEntry;
    targets.push(e.target);
    latencies.push(toMicroseconds(e.latencyMs));
    const method = e.method === 'icmp' ? 0 : e.method;
    anyMethod ||= method !== 0;
    methods.push(method);
    let path: unknown = null;
    if (withHops)
      path = knowsPath(memory, e.target, e.hops) ? 0 : e.hops === null ? null : e.hops.map(indexOf);
    anyPath ||= path !== 0;
    hops.push(path);
    const fields: unknown[] = [
      e.lossPct,
      toMicroseconds(e.lowMs),
      toMicroseconds(e.highMs),
      toMicroseconds(e.stdevMs),
      e.pathChanged ? FLAG_PATH_CHANGE : 0,
      e.address === e.target ? 0 : e.address,
      e.verdict === 'ok' ? 0 : e.verdict,
      e.trouble === null ? null : [e.trouble.kind, e.trouble.hop, e.trouble.side],
    ];
    while (fields.length > BAND_WRITTEN && fields[fields.length - 1] === BAND_DEFAULTS[fields.length - 1])
      fields.pop();
    band.push(fields);
  }
  const wire: Wire = {
    hv: LINE_VERSION,
    at: round.at,
    lt: round.latencyThresholdMs,
    lp: round.lossThresholdPct,
    ad: [...addresses.keys()],
    t: targets,
    ms: latencies,
  };
  if (anyMethod) wire.m = methods;
  if (anyPath) wire.h = hops;
  wire.b = JSON.stringify(band);
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
 * Whether a line (decoded) is longer than maxLineBytes in UTF-8 bytes, the
 * bound the writer (encodeRound) and the report's chunked reader
 * (forEachLine, on the bytes in the file) hold lines to: the round's reader
 * must skip exactly the lines the report's does, or a path written in a line
 * only one of them reads would resolve the writer's left-out paths
 * differently. Decoding never shortens a line (a byte that is no UTF-8 becomes
 * U+FFFD, 3 bytes), so a line the chunked reader skips is skipped here too.
 */
function overlong(line: string): boolean {
  const max = HISTORY_LIMITS.maxLineBytes;
  // Each UTF-16 code unit is 1 to 3 bytes: most lines are decided without counting.
  if (line.length > max) return true;
  return line.length * 3 > max && Buffer.byteLength(line) > max;
}

/** The JSON object of a line in a format this version reads, or null (the line is then skipped). */
function parseLine(line: string): Wire | null {
  if (overlong(line)) return null;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const { hv } = value;
  return hv === LINE_VERSION ||
    hv === LINE_VERSION_POSITIONAL ||
    hv === LINE_VERSION_BASELINE ||
    hv === LINE_VERSION_KEYED
    ? value
    : null;
}

/**
 * Reads one line, every field checked (the report's reader); null when it
 * is not a round line this version reads (it is then skipped). A path the
 * line leaves out is taken from `memory`, the lines before it (null when
 * they do not have it), and `memory` is brought up to this line (a skipped
 * line counts as a line too).
 */
export function decodeRound(line: string, memory: PathMemory = newPathMemory()): DecodedRound | null {
  const decoded = decodeLine(line, memory);
  memory.lines++;
  return decoded;
}

/** decodeRound, `memory.lines` left to the caller; null memory: paths left out read as null, none kept. */
function decodeLine(line: string, memory: PathMemory | null): DecodedRound | null {
  const value = parseLine(line);
  if (value === null) return null;
  const layout = value.hv === LINE_VERSION_BASELINE ? F2 : F3;
  const keyed = value.hv === LINE_VERSION_KEYED;
  const { at, lt, lp, ad, tn } = value;
  if (!roundFieldsSound(value)) return null;
  const r = value.hv === LINE_VERSION ? columnEntries(value) : value.r;
  if (!Array.isArray(r) || r.length > LIMITS.maxResources) return null;
  const addresses = hopAddressList(ad, r.length);
  if (addresses === null) return null;
  // Indexed loops and forEach: these run before the code is compiled, where for-of costs an iterator per step.
  const resources: HistoryEntry[] = [];
  const written: PathsWritten = new Map();
  for (let i = 0; i < r.length; i++) {
    const wire: unknown = r[i];
    const entry = keyed
      ? isRecord(wire)
        ? decodePositional(keyedAsPositional(wire), F1, addresses, memory, written)
        : null
      : decodePositional(wire, layout, addresses, memory, written);
    if (entry !== null) resources.push(entry);
  }
  if (memory !== null) {
    const known = memory.written;
    const lineNumber = memory.lines;
    written.forEach((hops, target) => {
      known.set(target, { hops, line: lineNumber });
    });
  }
  const round: HistoryRound = {
    at: at as string,
    latencyThresholdMs: lt as number,
    lossThresholdPct: lp as number,
    resources,
  };
  if (tn !== undefined) round.tunnel = tn as HistoryTunnelState;
  return {
    round,
    skippedEntries: r.length - resources.length,
  };
}

/** What the rules read of a line, a column each, an entry per resource (ruleColumns). */
interface RuleColumns {
  t: readonly unknown[];
  ms: readonly unknown[];
  /** Absent: every method icmp (0). */
  m: readonly unknown[] | undefined;
  /** Absent: every path left out (0). */
  h: readonly unknown[] | undefined;
  /** The latencies' unit: this many to the millisecond. */
  perMs: number;
}

/**
 * The columns of a format-4 line (unchecked, but lined up), or null when
 * they do not line up or are too many: the report's reader then skips the
 * line whole, so the round's reader does too.
 */
function lineColumns(value: Wire): RuleColumns | null {
  const { t, ms, m, h } = value;
  if (!Array.isArray(t) || t.length > LIMITS.maxResources) return null;
  const n = t.length;
  if (!Array.isArray(ms) || ms.length !== n) return null;
  if (m !== undefined && !(Array.isArray(m) && m.length === n)) return null;
  if (h !== undefined && !(Array.isArray(h) && h.length === n)) return null;
  return { t, ms, m, h, perMs: F3.perMs };
}

/**
 * What the rules read of any line this version reads, as columns (null: the
 * line has no entries to read). An entry of format 1 to 3 that is not one
 * (not an object or array, or of a length the format never wrote) gets no
 * target (undefined), so the round's reader skips it, as the report's reader
 * skips it before reading its hops.
 */
function ruleColumns(value: Wire): RuleColumns | null {
  if (value.hv === LINE_VERSION) return lineColumns(value);
  const r = value.r;
  if (!Array.isArray(r) || r.length > LIMITS.maxResources) return null;
  const keyed = value.hv === LINE_VERSION_KEYED;
  const layout = keyed ? F1 : value.hv === LINE_VERSION_BASELINE ? F2 : F3;
  const t: unknown[] = [];
  const ms: unknown[] = [];
  const m: unknown[] = [];
  const h: unknown[] = [];
  for (let j = 0; j < r.length; j++) {
    const raw: unknown = r[j];
    const wire = keyed ? (isRecord(raw) ? keyedAsPositional(raw) : null) : raw;
    const whole = Array.isArray(wire) && wire.length >= layout.flags && wire.length <= layout.tr + 1;
    t.push(whole ? wire[layout.t] : undefined);
    ms.push(whole ? wire[layout.ms] : null);
    m.push(whole && wire.length > layout.m ? wire[layout.m] : 0);
    h.push(whole && wire.length > layout.h ? wire[layout.h] : 0);
  }
  return { t, ms, m, h, perMs: layout.perMs };
}

/** A format-4 line's band (`b`) parsed, when it is a list of an entry per target; else null (the line is skipped). */
function lineBand(value: Wire, entries: number): unknown[] | null {
  if (typeof value.b !== 'string') return null;
  let band: unknown;
  try {
    band = JSON.parse(value.b);
  } catch {
    return null;
  }
  return Array.isArray(band) && band.length === entries ? band : null;
}

/**
 * A format-4 line's entries at the format-3 positions (F3): its columns and
 * its band put together; null when the line is skipped whole (its columns do
 * not line up, or its band is not a list of as many). An entry whose band is
 * not a list of BAND_WRITTEN to BAND_DEFAULTS.length fields keeps its
 * target, latency, method and hops, as the round's reader reads them, with
 * a loss no check passes (undefined): the report's reader then skips it
 * after taking the path it writes, as the round's reader takes it.
 */
function columnEntries(value: Wire): unknown[][] | null {
  const columns = lineColumns(value);
  const band = columns === null ? null : lineBand(value, columns.t.length);
  if (columns === null || band === null) return null;
  const { t, ms, m, h } = columns;
  const entries: unknown[][] = [];
  for (let j = 0; j < t.length; j++) {
    const raw: unknown = band[j];
    const b: readonly unknown[] =
      Array.isArray(raw) && raw.length >= BAND_WRITTEN && raw.length <= BAND_DEFAULTS.length ? raw : [];
    const n = b.length;
    // F3 order: t, loss, ms, lo, hi, sd, flags, h, a, m, v, tr.
    entries.push([
      t[j],
      b[0],
      ms[j],
      b[1],
      b[2],
      b[3],
      n > 4 ? b[4] : 0,
      h === undefined ? 0 : h[j],
      n > 5 ? b[5] : 0,
      m === undefined ? 0 : m[j],
      n > 6 ? b[6] : 0,
      n > 7 ? b[7] : null,
    ]);
  }
  return entries;
}

/**
 * Whether a line's own fields (its time, thresholds and tunnel state; not its
 * entries or hop addresses) are what decodeRound reads; it skips the line
 * otherwise.
 */
function roundFieldsSound(value: Wire): boolean {
  const { at, tn } = value;
  return (
    typeof at === 'string' &&
    ISO_TIMESTAMP.test(at) &&
    isCalendarDate(at) &&
    Number.isFinite(Date.parse(at)) &&
    numberIn(value.lt, 0, LIMITS.latencyThresholdMs.max) !== null &&
    numberIn(value.lp, 0, 100) !== null &&
    (tn === undefined || (HISTORY_TUNNEL_STATES as readonly unknown[]).includes(tn))
  );
}

/** The line's hop addresses (`ad`, absent: none) when every one is one and there are not too many; else null. */
function hopAddressList(ad: unknown, entries: number): string[] | null {
  const addresses = ad ?? [];
  if (!Array.isArray(addresses) || addresses.length > entries * RESULT_LIMITS.maxHops) return null;
  return areHopAddresses(addresses) ? (addresses as string[]) : null;
}

/** The paths a line wrote, by target (entries that left theirs out are not in it). */
type PathsWritten = Map<string, HopAddresses | null>;

/**
 * A positional entry (format 3, or 2 by `layout`), trailing fields at their
 * default left out; null when it breaks a bound. The path it writes, when
 * its hops are valid, goes to `written` even when another field is not, as
 * the round's reader counts it (readRecentRounds). The one full check of an
 * entry's fields (format 1 is brought to this shape first): it runs for
 * every resource of every line the report reads, mostly before the code is
 * compiled, so it is straight-line code with few calls and no intermediate
 * objects.
 */
function decodePositional(
  wire: unknown,
  layout: Layout,
  addresses: readonly string[],
  memory: PathMemory | null,
  written: PathsWritten,
): HistoryEntry | null {
  if (!Array.isArray(wire)) return null;
  const n = wire.length;
  // Format 2 always wrote its baseline (null or not), at flags − 1.
  if (n < layout.flags || n > layout.tr + 1) return null;
  const target: unknown = wire[layout.t];
  if (typeof target !== 'string' || target === '' || target.length > RESULT_LIMITS.maxTargetChars)
    return null;
  let hops: HopAddresses | null | undefined = null;
  const rawHops: unknown = n > layout.h ? wire[layout.h] : 0;
  if (rawHops === 0) hops = memory === null ? null : (memory.written.get(target)?.hops ?? null);
  else if (rawHops !== null) {
    hops = decodeHops(rawHops, addresses);
    if (hops === undefined) return null;
  }
  if (rawHops !== 0) written.set(target, hops);
  const lossPct: unknown = wire[layout.loss];
  if (typeof lossPct !== 'number' || !(lossPct >= 0 && lossPct <= 100)) return null;
  const ms = optionalMs(wire[layout.ms], layout.perMs);
  const lo = optionalMs(wire[layout.lo], layout.perMs);
  const hi = optionalMs(wire[layout.hi], layout.perMs);
  const sd = optionalMs(wire[layout.sd], layout.perMs);
  if (ms === undefined || lo === undefined || hi === undefined || sd === undefined) return null;
  const flags: unknown = n > layout.flags ? wire[layout.flags] : 0;
  // Format 2's far flag is allowed there, and not read.
  if (
    flags !== 0 &&
    flags !== FLAG_PATH_CHANGE &&
    (!layout.far || (flags !== FLAG_FAR && flags !== (FLAG_FAR | FLAG_PATH_CHANGE)))
  )
    return null;
  const address: unknown = n > layout.a && wire[layout.a] !== 0 ? wire[layout.a] : target;
  if (address !== null && (typeof address !== 'string' || address.length > RESULT_LIMITS.maxAddressChars))
    return null;
  let method: unknown = 'icmp';
  let verdict: unknown = 'ok';
  let trouble: HistoryEntry['trouble'] | undefined = null;
  if (n > layout.m) {
    if (wire[layout.m] !== 0) method = wire[layout.m];
    if (method !== null && !(PROBE_METHODS as readonly unknown[]).includes(method)) return null;
    if (n > layout.v && wire[layout.v] !== 0) verdict = wire[layout.v];
    if (!(VERDICTS as readonly unknown[]).includes(verdict)) return null;
    if (n > layout.tr && wire[layout.tr] !== null) {
      trouble = decodeTrouble(wire[layout.tr]);
      if (trouble === undefined) return null;
    }
  }
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
    pathChanged: ((flags as number) & FLAG_PATH_CHANGE) !== 0,
  };
}

/**
 * A format-1 entry (an object whose keys of empty values are left out) in
 * the format-3 shape, for both readers; its `bm` and `far`, like format 2's,
 * are not read. A value format 3 reads as "left out" (0 for the hops,
 * address, method or verdict; null for the trouble spot) was never a valid
 * format-1 value, and still is not: it becomes undefined, which no check
 * passes.
 */
function keyedAsPositional(wire: Record<string, unknown>): unknown[] {
  const given = (value: unknown, leftOut: unknown): unknown =>
    value === undefined ? leftOut : value === leftOut ? undefined : value;
  return [
    wire.t,
    wire.loss,
    wire.ms ?? null,
    wire.lo ?? null,
    wire.hi ?? null,
    wire.sd ?? null,
    wire.pc === undefined ? 0 : wire.pc === 1 ? FLAG_PATH_CHANGE : undefined,
    given(wire.h, 0),
    given(wire.a, 0),
    given(wire.m, 0),
    given(wire.v, 0),
    given(wire.tr, null),
  ];
}

/** Absent or null: null; a round trip in range, `perMs` to the ms: milliseconds; anything else: undefined (invalid). */
function optionalMs(value: unknown, perMs: number): number | null | undefined {
  if (value === undefined || value === null) return null;
  return typeof value === 'number' && value >= 0 && value <= RESULT_LIMITS.maxMs * perMs
    ? value / perMs
    : undefined;
}

function numberIn(value: unknown, min: number, max: number): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? value : null;
}

/**
 * Every one a hop address (HOP_ADDRESS, as the writer keeps them). A loop of its own: run for every address of every
 * line, it is the first code to be optimized, and a small function is quick
 * to compile where decodeRound, with the decoders inlined, is not.
 */
function areHopAddresses(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) {
    const a = list[i];
    if (typeof a !== 'string' || !HOP_ADDRESS.test(a)) return false;
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

// ---------------------------------------------------------------- what a round reads

/** What the rules read of one target's earlier rounds (round-history.ts), newest first. */
export interface TargetPast {
  /** The paths of its newest rounds that had one: at most PATH_RULE.windowRounds. */
  paths: HopAddresses[];
  /** Latencies (ms) of its newest rounds measured by ICMP echo: at most BASELINE_RULE.windowRounds. */
  icmpMs: number[];
  /** ... and by a TCP handshake (methods tcp and http). */
  tcpMs: number[];
}

/** A target's past while the lines are read, newest first. */
interface Gathering extends TargetPast {
  /**
   * Entries of newer lines that left their path out: theirs is the one the
   * next older line that writes one wrote (none: null, when no line read does).
   */
  waiting: number;
  /** The newest path written, and how many lines after it (the writer's PathMemory). */
  memory: { hops: HopAddresses | null; linesAgo: number } | null;
  /**
   * The report's reader may take another path than `memory` as the lines'
   * last (see forgetPath): the writer is not told the target's path, so it
   * writes it again.
   */
  unsure: boolean;
}

/** How an entry's method counts for the baseline: an ICMP echo, a TCP handshake (tcp, http), or no latency at all. */
const BASIS_ICMP = 0;
const BASIS_TCP = 1;
const BASIS_NONE = 2;

/** The windows and bounds, as plain numbers: read for every entry of every line. */
const PATHS_WINDOW: number = PATH_RULE.windowRounds;
const LATENCIES_WINDOW: number = BASELINE_RULE.windowRounds;
const MAX_TARGET_CHARS: number = RESULT_LIMITS.maxTargetChars;
const MAX_MS: number = RESULT_LIMITS.maxMs;

/** A line's hop addresses, checked when a hop list of the line is first read. */
interface LineAddresses {
  ad: unknown;
  entries: number;
  /** undefined: not checked yet; null: they break a bound. */
  checked: string[] | null | undefined;
  /** The line's own fields, checked (roundFieldsSound) when a path in it is first remembered. */
  fields: Wire;
  sound: boolean | undefined;
}

/**
 * Gathers what the rules read from `lines`, oldest first: per target, the
 * latencies with their basis and the paths of the newest entries, each list
 * only as long as its rule's window. The lines are read newest first, so a
 * list stops at its window, and a hop list is decoded (and checked) only
 * when the path rule or the writer's PathMemory reads it: the path of an
 * entry within the path rule's window, or the newest path written for the
 * target within PATH_REFRESH_LINES lines. An entry is skipped when what the
 * rules read of it breaks a bound (its target, latency, method, or a hop
 * list that is read); its other fields are not read (see the module's
 * description). The writer's memory (`paths`) is that of both readers only
 * (forgetPath, roundFieldsSound). It runs for every entry of RECENT_ROUNDS lines, every round,
 * mostly before the code is compiled, so the usual entry (its path and
 * method left out) takes a short path of plain checks.
 */
function gatherPast(lines: readonly string[]): Omit<RecentHistory, 'truncated' | 'notes'> {
  const past = new Map<string, Gathering>();
  let rounds = 0;
  let skipped = 0;
  // The targets of the line read before (the next newer), by position, and what was gathered for each
  // (undefined: its target was not one).
  let before: readonly (Gathering | undefined)[] = [];
  let beforeTargets: readonly unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    // i: lines after this one (the newest is 0).
    const value = parseLine(lines[lines.length - 1 - i] as string);
    const columns = value === null ? null : ruleColumns(value);
    if (value === null || columns === null) {
      skipped++;
      continue;
    }
    rounds++;
    const { t, ms: latencies, m, h, perMs } = columns;
    const maxMs = MAX_MS * perMs;
    const line: LineAddresses = {
      ad: value.ad,
      entries: t.length,
      checked: undefined,
      fields: value,
      sound: undefined,
    };
    // Lines name the same targets in the same order round after round: a target where the line before
    // had it is that one's (checked then), without a look-up.
    const targets: (Gathering | undefined)[] = new Array(t.length);
    for (let j = 0; j < t.length; j++) {
      const target: unknown = t[j];
      let p = j < before.length && target === beforeTargets[j] ? before[j] : undefined;
      if (p === undefined) {
        if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET_CHARS) {
          skipped++;
          continue;
        }
        p = past.get(target);
        if (p === undefined) {
          p = { paths: [], icmpMs: [], tcpMs: [], waiting: 0, memory: null, unsure: false };
          past.set(target, p);
        }
      }
      targets[j] = p;
      const ms: unknown = latencies[j];
      // The usual entry leaves its path (the line before's) and its method (icmp) out.
      const rawHops: unknown = h === undefined ? 0 : h[j];
      if (ms !== null && !(typeof ms === 'number' && ms >= 0 && ms <= maxMs)) {
        skipped++;
        // The report's reader reads the hops before the latency: it takes the path such an entry writes.
        if (rawHops !== 0) forgetPath(p, i);
        continue;
      }
      const method: unknown = m === undefined ? 0 : m[j];
      const basis =
        method === 0 || method === 'icmp'
          ? BASIS_ICMP
          : method === 'tcp' || method === 'http'
            ? BASIS_TCP
            : method === null
              ? BASIS_NONE
              : -1;
      if (basis < 0 || !(rawHops === 0 || rawHops === null || Array.isArray(rawHops))) {
        skipped++;
        // The report's reader reads the hops before the method: it takes the path such an entry writes.
        if (basis < 0 && rawHops !== 0) forgetPath(p, i);
        continue;
      }
      if (rawHops === 0) p.waiting++;
      else if (!gatherPath(p, rawHops, line, i)) {
        skipped++;
        continue;
      }
      if (ms !== null && basis !== BASIS_NONE) {
        const list = basis === BASIS_ICMP ? p.icmpMs : p.tcpMs;
        if (list.length < LATENCIES_WINDOW) list.push((ms as number) / perMs);
      }
    }
    before = targets;
    beforeTargets = t;
  }
  const paths = newPathMemory();
  paths.lines = lines.length;
  past.forEach((p, target) => {
    if (p.memory !== null && !p.unsure)
      paths.written.set(target, { hops: p.memory.hops, line: lines.length - 1 - p.memory.linesAgo });
  });
  return { past, rounds, skipped, paths };
}

/**
 * An entry of line `i` (lines after it) that writes its path (`rawHops`: a
 * hop list or null): the path taken into `p` where it is read; false when
 * the hop list read breaks a bound (then `p` is left as it was).
 */
function gatherPath(p: Gathering, rawHops: unknown, line: LineAddresses, i: number): boolean {
  const inRefresh = i + 1 < PATH_REFRESH_LINES;
  // A second path for the target in one line (newest first, so the first path met is the newest line's).
  if (inRefresh && p.memory !== null && p.memory.linesAgo === i) p.unsure = true;
  const remember = inRefresh && p.memory === null;
  let hops: HopAddresses | null | undefined = null;
  if (rawHops !== null && (remember || p.paths.length < PATHS_WINDOW)) {
    if (line.checked === undefined) line.checked = hopAddressList(line.ad, line.entries);
    hops = line.checked === null ? undefined : decodeHops(rawHops, line.checked);
    if (hops === undefined) return false;
  }
  if (remember) {
    p.memory = { hops, linesAgo: i };
    // The report's reader skips a line whose own fields, hop addresses or band break a bound: for it, no path.
    if (line.sound === undefined) {
      if (line.checked === undefined) line.checked = hopAddressList(line.ad, line.entries);
      line.sound =
        line.checked !== null &&
        roundFieldsSound(line.fields) &&
        (line.fields.hv !== LINE_VERSION || lineBand(line.fields, line.entries) !== null);
    }
    if (!line.sound) p.unsure = true;
  }
  // This entry, and those waiting for the path it wrote.
  if (hops !== null) {
    for (let k = p.waiting; k >= 0 && p.paths.length < PATHS_WINDOW; k--) p.paths.push(hops);
  }
  p.waiting = 0;
  return true;
}

/**
 * Line `i` wrote a path for the target that this reader does not take and
 * the report's reader may (it reads the hops before the fields this reader
 * skips the entry for), or a second path for it: unless a newer line wrote
 * one, the writer is told nothing of the target's path and writes it again,
 * so the two readers never resolve a left-out path differently.
 */
function forgetPath(p: Gathering, i: number): void {
  if (i + 1 >= PATH_REFRESH_LINES || (p.memory !== null && p.memory.linesAgo !== i)) return;
  if (p.memory === null) p.memory = { hops: null, linesAgo: i };
  p.unsure = true;
}

// ---------------------------------------------------------------- the file

/**
 * Appends the round, rotating the file first when it has passed its bound.
 * `paths`: what the history read this round said (RecentHistory.paths); the
 * paths it knows are left out of the line, except on the first line of a
 * file and when the file is not as it was read (PathMemory.file): another
 * user's line in between would stand between this line and those paths.
 * What is left is the microseconds between the check and the write (one
 * write(2) after an fstat). Throws E_LOG_DIR.
 */
export function appendRound(dir: LogDir, round: HistoryRound, paths: PathMemory | null = null): void {
  const rotated = rotateIfNeeded(dir, HISTORY_FILE, {
    maxBytes: HISTORY_LIMITS.fileBytes,
    keep: HISTORY_LIMITS.keep,
  });
  // Composed against the file as it is at the write: a line another user slipped in since the history
  // was read (the round writes its report and MTR files in between) would otherwise stand between this
  // line and the paths it leaves out, and the report would give this round that line's paths.
  appendLine(dir, HISTORY_FILE, (file) => {
    const unchanged = rotated.length === 0 && paths?.file !== undefined && sameFile(paths.file, file);
    return encodeRound(round, unchanged ? paths : null);
  });
}

/** What a round read of the history (readRecentRounds). */
export interface RecentHistory {
  /** Per target, what its earlier rounds say (TargetPast). */
  past: Map<string, TargetPast>;
  /** Round lines read. */
  rounds: number;
  /** Lines and entries skipped because what the rules read of them did not parse or broke a bound. */
  skipped: number;
  /** The byte budget ran out before the oldest round asked for was reached. */
  truncated: boolean;
  /** Rotated copies that could not be read, and why. */
  notes: string[];
  /**
   * The last path written for each target whose path a line of the current
   * file within the last PATH_REFRESH_LINES wrote, for the next line
   * (appendRound; the writer writes an older one again anyway).
   */
  paths: PathMemory;
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
  /** The last path written for each target, as the lines read say. */
  paths: PathMemory;
}

const rotatedName = (n: number): string => `${HISTORY_FILE}.${n}`;

/**
 * What the rules read of the last `maxRounds` lines (fewer when the history
 * is younger or the budget runs out), from the current file and, when it
 * holds fewer, the newest rotated copy: see gatherPast. Throws E_LOG_DIR when
 * the current file is not one the agent may read (a rotated copy that is not
 * is noted and left out).
 */
export function readRecentRounds(dir: LogDir, maxRounds = RECENT_ROUNDS): RecentHistory {
  const read = readFiles(dir, [HISTORY_FILE, rotatedName(1)], {
    maxRounds,
    maxBytes: HISTORY_LIMITS.tailBytes,
    firstReadBytes: HISTORY_LIMITS.firstReadBytes,
  });
  const gathered = gatherPast(read.lines);
  // The next append makes the open tail a line between the ones read and its own, and a complete one
  // may write a path: with no memory, the writer writes every path.
  if (read.openTail) gathered.paths = newPathMemory();
  // A path last written in the rotated copy is written again: each file names its own paths, so the
  // rotation that drops that copy leaves no line of the others whose path the report cannot find.
  const firstCurrent = read.lines.length - read.newestLines;
  const written = gathered.paths.written;
  written.forEach((w, target) => {
    if (w.line < firstCurrent) written.delete(target);
  });
  if (read.current !== undefined) gathered.paths.file = read.current;
  return { ...gathered, truncated: read.truncated, notes: read.notes };
}

export interface HistoryQuery {
  /** Rounds that started at or after this time only. */
  since?: Date | null;
  /** This target's entries only (rounds without it are left out). */
  resource?: string | null;
  /** Bytes read at most, newest first; default: the whole store. */
  maxBytes?: number;
}

/** The store's default read bound: the largest it can be. */
const STORE_MAX_BYTES = (HISTORY_LIMITS.keep + 1) * HISTORY_LIMITS.fileBytes + HISTORY_LIMITS.maxLineBytes;

/** What a pass over the stored history (StoredHistory.visit) skipped. */
export interface HistoryPass {
  /** Lines and entries skipped because they did not parse or broke a bound. */
  skipped: number;
  /** The last path written for each target, as the lines read say. */
  paths: PathMemory;
}

/**
 * The stored history held open for reading: the rotated copies and the
 * current file, each at the size it had when opened, so that every pass
 * (visit) reads the same bytes whatever the agent appends or rotates
 * meanwhile. Close it.
 */
export interface StoredHistory {
  /** The byte budget ran out before the oldest round was reached. */
  truncated: boolean;
  /** Rotated copies that could not be read, and why. */
  notes: string[];
  /**
   * Each stored round, oldest first, every field checked (decodeRound), to
   * `visit`, one at a time: only what `visit` keeps stays in memory. With
   * `paths` false, the paths lines leave out are not remembered (an entry
   * that leaves its path out has `hops` null, and `paths` of the pass is
   * empty): a pass that draws no path then keeps nothing per target.
   */
  visit(visit: (round: HistoryRound) => void, o?: { paths?: boolean }): HistoryPass;
  close(): void;
}

/**
 * Opens the stored history: the current file and the rotated copies, read
 * newest first up to `maxBytes` (default: the largest the store can be) as
 * readHistory does. Throws E_LOG_DIR as readRecentRounds.
 */
export function openStoredHistory(dir: LogDir, maxBytes = STORE_MAX_BYTES): StoredHistory {
  const names = [HISTORY_FILE];
  for (let n = 1; n <= HISTORY_LIMITS.keep; n++) names.push(rotatedName(n));
  // Newest first: each file's byte range [from, size).
  const held: { fd: number; from: number; to: number }[] = [];
  const notes: string[] = [];
  let bytes = 0;
  let truncated = false;
  const close = (): void => {
    for (const f of held) fs.closeSync(f.fd);
    held.length = 0;
  };
  try {
    for (const [index, name] of names.entries()) {
      if (bytes >= maxBytes) {
        truncated = true;
        break;
      }
      let opened: HeldFile | null;
      try {
        opened = openForReading(dir, name);
      } catch (error) {
        // The current file is the round's own business; a rotated copy is only older evidence.
        if (index === 0) throw error;
        notes.push(error instanceof Error ? error.message : String(error));
        break;
      }
      if (opened === null) continue;
      const from = Math.max(0, opened.size - (maxBytes - bytes));
      held.push({ fd: opened.fd, from, to: opened.size });
      bytes += opened.size - from;
      if (from > 0) {
        truncated = true;
        break;
      }
    }
  } catch (error) {
    close();
    throw error;
  }
  return {
    truncated,
    notes,
    visit(visit, o = {}) {
      // Oldest first, so that each line finds the paths the lines before it wrote.
      const paths = newPathMemory();
      const memory = o.paths === false ? null : paths;
      let skipped = 0;
      const onLine = (line: string | null): void => {
        const decoded = line === null ? null : decodeLine(line, memory);
        paths.lines++;
        if (decoded === null) skipped++;
        else {
          skipped += decoded.skippedEntries;
          visit(decoded.round);
        }
      };
      for (let i = held.length - 1; i >= 0; i--) {
        const f = held[i] as (typeof held)[number];
        dir.run(`reading ${names[i]}`, () =>
          forEachLine(f.fd, f.from, f.to, HISTORY_LIMITS.maxLineBytes, onLine),
        );
      }
      return { skipped, paths };
    },
    close,
  };
}

/**
 * The stored rounds, oldest first, every field checked (decodeRound), from
 * the rotated copies and the current file, filtered by `since` and
 * `resource`. Bounded by `maxBytes` (default: the largest the store can be),
 * reading the newest rounds first. It holds every round: the HTML report
 * visits them instead (openStoredHistory). Throws E_LOG_DIR as
 * readRecentRounds.
 */
export function readHistory(dir: LogDir, query: HistoryQuery = {}): HistoryRead {
  const stored = openStoredHistory(dir, query.maxBytes);
  try {
    const rounds: HistoryRound[] = [];
    const pass = stored.visit((round) => rounds.push(round));
    return {
      rounds: filterRounds(rounds, query),
      skipped: pass.skipped,
      truncated: stored.truncated,
      notes: stored.notes,
      paths: pass.paths,
    };
  } finally {
    stored.close();
  }
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

/**
 * `names` newest file first; reads each from its end until the lines or the
 * bytes are used up. The lines oldest first; `newestLines` of them are the
 * first name's.
 */
function readFiles(
  dir: LogDir,
  names: readonly string[],
  o: { maxRounds: number; maxBytes: number; firstReadBytes?: number },
): {
  lines: string[];
  truncated: boolean;
  notes: string[];
  openTail: boolean;
  newestLines: number;
  /** The current file (the first name) as it was read; undefined when there is none. */
  current: FileState | undefined;
} {
  const newestFirst: string[][] = [];
  let openTail = false;
  let current: FileState | undefined;
  let newestLines = 0;
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
    if (index === 0) {
      current = read.file;
      openTail = read.openTail;
      newestLines = read.lines.length;
    }
    bytes += read.bytes;
    lines += read.lines.length;
    newestFirst.push(read.lines);
    if (!read.fromStart) {
      truncated = lines < o.maxRounds;
      break;
    }
  }
  return { lines: newestFirst.reverse().flat(), truncated, notes, openTail, newestLines, current };
}
