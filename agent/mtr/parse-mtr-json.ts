/**
 * Reads `mtr --json` output into hops: the one reader for every report mtr
 * 0.92 to 0.96 prints (traviscross/mtr, ui/report.c `json_close`, read at the
 * tags v0.92 to v0.96).
 *
 * Two dialects:
 * - 0.94 and later build the document with jansson (`json_dumpf`, indent 4,
 *   `JSON_REAL_PRECISION(5)`): `count`, `tos`, `tests` and the integer fields
 *   (`Snt`, `Drop`, `Rcv`) are JSON integers, times and `Loss%` are reals
 *   with 5 significant digits, strings are escaped, an empty hop list is
 *   `"hubs": []`.
 * - 0.92 and 0.93 print it by hand with printf: `"count": "1"`, `"tos": "0x0"`,
 *   `"tests": "10"` are strings, reals are `%.2f`, and strings are printed
 *   unescaped (`"src": "%s"`, `"host": "%s"`).
 *
 * The quirks of the hand-printed dialect this reader repairs, each with a
 * fixture in test/fixtures/mtr/:
 * - 0.92 with no hop at all (nothing answered, not even the first router)
 *   never closes the hop array: it prints `"hubs": [` and then `  }` and `}`
 *   (issues traviscross/mtr#190 and #283, fixed by a535587 in 0.93). Read as
 *   an empty hop list, like 0.93's `"hubs": []`.
 * - Unescaped strings: the local host name (`src`, from gethostname) and, with
 *   DNS on, host names, which the resolver returns with `\"` and `\DDD`
 *   escapes, are printed as they are. A string value that is not valid JSON
 *   is taken literally, as the text between its line's first and last quote.
 * - A field list that starts with a blank (`-o " LA"`) makes 0.92/0.93 print
 *   a second comma after the host line (`",\n,\n`); the extra comma is dropped.
 * - Non-finite reals: printf prints them `nan`, `-nan`, `inf`, `-inf`. mtr's
 *   own fields are integers divided by 1000.0 and never are, but the layout
 *   allows them and a reader meeting one must not lose the whole path: they
 *   read as "no value" (null), as does a negative time.
 *
 * And in every version:
 * - Text around the object (a wrapper's banner, a warning on stdout) is
 *   skipped: the report is the first line that starts with `{` up to the last
 *   `}`.
 * - Numbers may come as JSON numbers or as decimal strings.
 * - Fields not printed are null: `-o` chooses them (mtr's default `LS NABWV`:
 *   Loss%, Snt, Last, Avg, Best, Wrst, StDev; the agent asks for those and
 *   mean jitter, `Javg`: agent/probes/run-mtr.ts MTR_FIELDS). Loss% and Avg
 *   are what the analysis needs, so a report without them is rejected, naming
 *   the field, rather than read as a path where nothing answered. Javg is
 *   optional (an mtr run by hand, a stand-in): without it jitter is null.
 *   0.92/0.93 print it like every real field, `%.2f`; the other jitter fields
 *   (`Jttr`, `Jmax`, `Jint`) are ignored.
 * - `count` is `at + 1`, the 1-based TTL, and mtr lists only hops between its
 *   first TTL and the last one it heard (or one past it), so numbers can start
 *   above 1 with `--first-ttl`; the number mtr printed is kept.
 *
 * Errors: MonitorError E_MTR_OUTPUT naming what is wrong, with an excerpt of
 * the output.
 */
import { excerpt, MonitorError } from '../../common/errors.ts';
import type { Hop } from '../../common/result-schema.ts';

export interface MtrReport {
  /** `report.mtr.dst` as mtr printed it; null when missing. */
  dst: string | null;
  /** `report.mtr.tests` (cycles); null when missing or not a positive integer. */
  tests: number | null;
  hops: Hop[];
  /** The quirks met on the way, for tests and diagnostics. */
  quirks: MtrQuirk[];
}

export type MtrQuirk =
  | 'text-around-json'
  | 'hubs-not-closed'
  | 'unescaped-string'
  | 'double-comma'
  | 'non-finite-number'
  | 'negative-time';

const EXCERPT_CHARS = 200;
const NUMBER_TEXT = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE_TEXT = /^[+-]?(nan|inf|infinity)$/i;
/** One `"key": value` line of the hand-printed layout: indent and key, value, comma. */
const VALUE_LINE = /^([ \t]*"[^"\n]*"[ \t]*:[ \t]*)(.*?)([ \t]*,?[ \t]*)$/;
const TIME_KEYS = [
  ['lastMs', 'Last'],
  ['avgMs', 'Avg'],
  ['bestMs', 'Best'],
  ['worstMs', 'Wrst'],
  ['stdevMs', 'StDev'],
  ['jitterMs', 'Javg'],
] as const;

export function parseMtrJson(text: string): MtrReport {
  const quirks = new Set<MtrQuirk>();
  if (text.trim() === '') throw outputError('mtr printed no JSON (output is empty)', text);
  const body = extractObject(text, quirks);
  const document = parseDocument(body, text, quirks);
  if (!isRecord(document)) throw outputError('mtr JSON is not an object', text);
  const report = document.report;
  if (!isRecord(report)) throw outputError('mtr JSON has no "report" object', text);
  const header = isRecord(report.mtr) ? report.mtr : {};
  const dst = typeof header.dst === 'string' && header.dst !== '' ? header.dst : null;
  // Header fields are evidence, never judged: a value that is not a count is dropped.
  const tests = readNumber(header.tests, quirks);
  const hubs = report.hubs;
  if (!Array.isArray(hubs)) throw outputError('mtr JSON "report.hubs" is missing or not an array', text);
  const hops: Hop[] = [];
  hubs.forEach((hub: unknown, index: number) => {
    const hop = readHop(hub, index, text, quirks);
    const previous = hops[hops.length - 1];
    if (previous !== undefined && hop.ttl <= previous.ttl) {
      throw outputError(
        `mtr JSON hop ${index + 1} has count ${hop.ttl}, not above the previous count ${previous.ttl}`,
        text,
      );
    }
    hops.push(hop);
  });
  requireField(hubs, 'Avg', text);
  return {
    dst,
    tests: tests !== null && Number.isInteger(tests) && tests >= 1 ? tests : null,
    hops,
    quirks: [...quirks],
  };
}

/**
 * The report inside the output: from the first line that starts with `{` to
 * the first line after it that is `}` alone at column 0, where both dialects
 * close the object (every inner line is indented); failing that, the last `}`.
 */
function extractObject(text: string, quirks: Set<MtrQuirk>): string {
  const start = /^[ \t]*\{/m.exec(text);
  if (start === null) {
    throw outputError(
      'mtr printed no JSON report (no line starts with "{"; is this mtr built without JSON support?)',
      text,
    );
  }
  const closing = /^\}[ \t]*\r?$/m.exec(text.slice(start.index + 1));
  const end = closing === null ? text.lastIndexOf('}') : start.index + 1 + closing.index;
  if (end < start.index) throw outputError('mtr JSON report is not closed (no "}")', text);
  if (text.slice(0, start.index).trim() !== '' || text.slice(end + 1).trim() !== '') {
    quirks.add('text-around-json');
  }
  return text.slice(start.index, end + 1);
}

/** Strict JSON first (every jansson report); the hand-printed repairs only when that fails. */
function parseDocument(body: string, text: string, quirks: Set<MtrQuirk>): unknown {
  let strictError: unknown;
  try {
    return JSON.parse(body);
  } catch (error) {
    strictError = error;
  }
  const repaired = repairHandPrinted(body, quirks);
  try {
    return JSON.parse(repaired);
  } catch {
    const reason = strictError instanceof Error ? strictError.message : String(strictError);
    throw outputError(`mtr output is not valid JSON (${reason})`, text, strictError);
  }
}

function repairHandPrinted(body: string, quirks: Set<MtrQuirk>): string {
  const lines = body.split('\n').map((line) => {
    const match = VALUE_LINE.exec(line.replace(/\r$/, ''));
    if (match === null) return line;
    const [, head = '', value = '', tail = ''] = match;
    if (NON_FINITE_TEXT.test(value)) {
      quirks.add('non-finite-number');
      return `${head}null${tail}`;
    }
    if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return line;
    const inner = value.slice(1, -1);
    if (isJsonStringBody(inner)) return line;
    quirks.add('unescaped-string');
    return `${head}${JSON.stringify(inner)}${tail}`;
  });
  return lines
    .join('\n')
    .replace(/("hubs"[ \t]*:[ \t]*\[)([ \t]*\r?\n?[ \t]*\})/, (_match, open: string, close: string) => {
      quirks.add('hubs-not-closed');
      return `${open}]${close}`;
    })
    .replace(/,([ \t]*\r?\n[ \t]*,)+/g, () => {
      quirks.add('double-comma');
      return ',';
    });
}

function isJsonStringBody(value: string): boolean {
  try {
    JSON.parse(`"${value}"`);
    return true;
  } catch {
    return false;
  }
}

function readHop(hub: unknown, index: number, text: string, quirks: Set<MtrQuirk>): Hop {
  const where = `report.hubs[${index}]`;
  if (!isRecord(hub)) throw outputError(`mtr JSON ${where} is not an object`, text);
  const number = (key: string): number | null => {
    const value = readNumber(hub[key], quirks);
    if (Number.isNaN(value)) {
      throw outputError(`mtr JSON ${where}.${key} ${describe(hub[key])} is not a number`, text);
    }
    return value;
  };
  const ttl = number('count');
  if (ttl === null || !Number.isInteger(ttl) || ttl < 1) {
    throw outputError(`mtr JSON ${where}.count ${describe(hub.count)} is not a positive integer`, text);
  }
  const host = hub.host;
  if (typeof host !== 'string' || host.trim() === '') {
    throw outputError(`mtr JSON ${where}.host ${describe(host)} is not a non-empty string`, text);
  }
  if (!('Loss%' in hub)) {
    throw outputError(
      `mtr JSON ${where} has no "Loss%" (mtr was told to print other fields: -o or MTR_OPTIONS without L)`,
      text,
    );
  }
  const lossPct = number('Loss%');
  if (lossPct === null) {
    throw outputError(`mtr JSON ${where}.Loss% ${describe(hub['Loss%'])} has no value`, text);
  }
  if (lossPct < 0 || lossPct > 100) {
    throw outputError(`mtr JSON ${where}.Loss% ${lossPct} is outside 0..100`, text);
  }
  // Snt is evidence, never judged: a value that is not a count is dropped.
  const sent = readNumber(hub.Snt, quirks);
  // mtr prints 0 for the times of a hop that never replied; null says "no
  // measurement" instead of claiming a 0 ms round trip.
  const silent = lossPct >= 100;
  const hop: Hop = {
    ttl,
    host: host.trim() === '???' ? null : host.trim(),
    lossPct,
    sent: sent !== null && Number.isInteger(sent) && sent >= 0 ? sent : null,
    lastMs: null,
    avgMs: null,
    bestMs: null,
    worstMs: null,
    stdevMs: null,
    jitterMs: null,
  };
  for (const [field, key] of TIME_KEYS) {
    const value = number(key);
    if (value !== null && value < 0) quirks.add('negative-time');
    hop[field] = silent || value === null || value < 0 ? null : value;
  }
  return hop;
}

/**
 * Every hop must carry Avg, the latency the analysis judges: without it a
 * path that answered would read as one where nothing did. The check is per
 * report because `-o` chooses the fields for all hops alike.
 */
function requireField(hubs: unknown[], key: 'Avg', text: string): void {
  if (hubs.length === 0) return;
  if (!hubs.some((hub) => isRecord(hub) && key in hub)) {
    throw outputError(
      `mtr JSON hops have no "${key}" (mtr was told to print other fields: -o or MTR_OPTIONS without A)`,
      text,
    );
  }
}

/**
 * JSON numbers (0.94+) or decimal strings (0.92/0.93). Null: missing, JSON
 * null (a repaired `nan`) or a non-finite text; NaN: not a number at all.
 */
function readNumber(value: unknown, quirks: Set<MtrQuirk>): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return Number.NaN;
  const trimmed = value.trim();
  if (NUMBER_TEXT.test(trimmed)) return Number(trimmed);
  if (NON_FINITE_TEXT.test(trimmed)) {
    quirks.add('non-finite-number');
    return null;
  }
  return Number.NaN;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return '(missing)';
  return JSON.stringify(value) ?? String(value);
}

function outputError(message: string, text: string, cause?: unknown): MonitorError {
  const shown = excerpt(text.replace(/\s+/g, ' '), EXCERPT_CHARS);
  return new MonitorError(
    'E_MTR_OUTPUT',
    `${message}; output: ${shown === '' ? '(empty)' : shown}`,
    cause === undefined ? undefined : { cause },
  );
}
