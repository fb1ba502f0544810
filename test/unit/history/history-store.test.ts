/**
 * The round-history store on a real log directory: the line format, garbage,
 * bounded reads, rotation and its size bound, the report's read API, and a
 * log directory someone else can write.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { readLastLines } from '../../../agent/files/read-lines.ts';
import {
  appendRound,
  decodeRound,
  encodeRound,
  HISTORY_FILE,
  HISTORY_LIMITS,
  type HistoryEntry,
  type HistoryRound,
  newPathMemory,
  PATH_REFRESH_LINES,
  type PathMemory,
  RECENT_ROUNDS,
  type RecentHistory,
  readHistory,
  readRecentRounds,
} from '../../../agent/history/history-store.ts';
import { PATH_RULE } from '../../../agent/history/path-change.ts';
import { EnvironmentError } from '../../../common/errors.ts';
import { NOBODY, ownedDir, plantFifo, plantSymlink } from '../../helpers/hostile-dir.ts';

let dir = '';
let logDir: LogDir;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-history-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function entry(target: string, overrides: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    target,
    address: target,
    method: 'icmp',
    verdict: 'ok',
    latencyMs: 12.5,
    lowMs: 11.9,
    highMs: 14.25,
    stdevMs: 0.4,
    lossPct: 0,
    hops: ['10.199.100.1', null, '10.199.4.2', target],
    trouble: null,
    pathChanged: false,
    ...overrides,
  };
}

function round(minute: number, entries: HistoryEntry[] = [entry('10.20.0.5')]): HistoryRound {
  return {
    at: new Date(Date.UTC(2026, 0, 1, 12, minute)).toISOString(),
    latencyThresholdMs: 75,
    lossThresholdPct: 5,
    resources: entries,
  };
}

const file = (name = HISTORY_FILE): string => path.join(dir, name);

/** Rounds appended as the agent appends them (each after reading the history), then read back. */
function readAfter(rounds: HistoryRound[]) {
  for (const r of rounds) appendRound(logDir, r, readRecentRounds(logDir).paths);
  return readRecentRounds(logDir);
}
const minuteOf = (r: HistoryRound): number => new Date(r.at).getUTCMinutes();
/** A round whose one entry's latency is its minute, so what the round's reader gathers says which rounds it read. */
const timed = (minute: number): HistoryRound => round(minute, [entry('10.20.0.5', { latencyMs: minute })]);
/** The latencies the round's reader gathered for 10.20.0.5, newest first. */
const latencies = (read: RecentHistory): number[] | undefined => read.past.get('10.20.0.5')?.icmpMs;
/** The line writes its first entry's path (a hop column whose first entry is not 0: "the path of the lines before"). */
const wroteFirstPath = (line: string): boolean => {
  const { h } = JSON.parse(line) as { h?: unknown[] };
  return h !== undefined && h[0] !== 0;
};

/** A format-4 line's fields, its band (`b`, JSON text) parsed. */
interface Format4 {
  hv: number;
  ad: string[];
  t: string[];
  ms: (number | null)[];
  m?: unknown[];
  h?: unknown[];
  band: unknown[][];
}
const format4 = (line: string): Format4 => {
  const wire = JSON.parse(line) as Omit<Format4, 'band'> & { b: string };
  return { ...wire, band: JSON.parse(wire.b) as unknown[][] };
};

describe('history store: the line format', () => {
  it('reads back every field it writes, and leaves out trailing fields at their default', () => {
    // Prepare: one entry with everything, one with nothing measured.
    const full = entry('10.20.0.5', {
      verdict: 'latency',
      trouble: { kind: 'latency', hop: 1, side: 'tunnel' },
      pathChanged: true,
    });
    const empty = entry('db.corp.internal', {
      address: null,
      method: null,
      verdict: 'unmeasured',
      latencyMs: null,
      lowMs: null,
      highMs: null,
      stdevMs: null,
      lossPct: 100,
      hops: null,
    });
    const written = round(0, [full, empty]);
    // Act
    const line = encodeRound(written);
    // Assess
    assert.deepEqual(decodeRound(line), { round: written, skippedEntries: 0 });
    assert.ok(!line.includes('\n'));
    const wire = format4(line);
    assert.equal(wire.hv, 4);
    assert.deepEqual(
      [wire.t, wire.ms, wire.m, wire.h],
      [
        ['10.20.0.5', 'db.corp.internal'],
        [12500, null],
        [0, null],
        [[0, null, 1, 2], null],
      ],
      'what the rules read, by column: latency in microseconds, the method icmp as 0, hops as positions in ad',
    );
    assert.deepEqual(
      wire.band,
      [
        [0, 11900, 14250, 400, 1, 0, 'latency', ['latency', 1, 'tunnel']],
        [100, null, null, null, 0, null, 'unmeasured'],
      ],
      'the rest: an address that is the target written as 0, no trouble spot left out',
    );
    assert.deepEqual(wire.ad, ['10.199.100.1', '10.199.4.2', '10.20.0.5'], 'each hop address once');
    const lean = format4(encodeRound(round(1, [entry('10.20.0.5')]), readAfter([round(0)]).paths));
    assert.deepEqual(
      [lean.t, lean.ms, lean.m, lean.h, lean.band],
      [['10.20.0.5'], [12500], undefined, undefined, [[0, 11900, 14250, 400]]],
      'a known path, every method icmp, and defaults left out',
    );
    assert.ok(!('ad' in lean) || lean.ad.length === 0);
  });

  it('keeps the milliseconds it was given, to the microsecond', () => {
    const values = [0, 0.001, 0.069, 0.1, 0.3, 11.9, 12.345, 99.999, 123.456, 180.456, 3_599_999.999];
    for (const ms of values) {
      const written = round(0, [entry('10.20.0.5', { latencyMs: ms, lowMs: ms, highMs: ms, stdevMs: ms })]);
      const back = decodeRound(encodeRound(written))?.round.resources[0];
      assert.deepEqual(
        [back?.latencyMs, back?.lowMs, back?.highMs, back?.stdevMs],
        [ms, ms, ms, ms],
        String(ms),
      );
    }
  });

  it('still reads lines of the first format (entries as objects)', () => {
    // Prepare: format 1 as the agent wrote it before: a line with the path, one leaving it to the line before.
    const head = '"lt":75,"lp":5,"ad":["10.199.100.1","10.199.4.2","10.20.0.5"]';
    const lines = [
      `{"hv":1,"at":"2026-01-01T12:00:00.000Z",${head},"r":[{"t":"10.20.0.5","ms":12.5,"lo":11.9,"hi":14.25,"sd":0.4,"loss":0,"h":[0,null,1,2]},{"t":"db.corp.internal","a":null,"m":null,"v":"unmeasured","loss":100,"h":null}],"tn":"up"}`,
      `{"hv":1,"at":"2026-01-01T12:01:00.000Z",${head},"r":[{"t":"10.20.0.5","v":"latency","ms":12.5,"lo":11.9,"hi":14.25,"sd":0.4,"loss":0,"tr":["latency",1,"tunnel"],"pc":1,"bm":11.8,"far":1}]}`,
    ];
    // Act
    const memory = newPathMemory();
    const [first, second] = lines.map((line) => decodeRound(line, memory));
    // Assess
    assert.equal(first?.round.tunnel, 'up');
    assert.deepEqual(first?.round.resources[1], {
      ...entry('db.corp.internal'),
      address: null,
      method: null,
      verdict: 'unmeasured',
      latencyMs: null,
      lowMs: null,
      highMs: null,
      stdevMs: null,
      lossPct: 100,
      hops: null,
    });
    assert.deepEqual(second, {
      round: {
        ...round(1, [
          entry('10.20.0.5', {
            verdict: 'latency',
            trouble: { kind: 'latency', hop: 1, side: 'tunnel' },
            pathChanged: true,
          }),
        ]),
      },
      skippedEntries: 0,
    });
  });

  it('skips lines that are not round lines, and entries that break a bound, keeping the rest', () => {
    // Format 3 as the agent wrote it before format 4 (entries by position), then format 4 below.
    const good = `{"hv":3,"at":"2026-01-01T12:00:00.000Z","lt":75,"lp":5,"ad":["10.199.100.1","10.199.4.2","10.20.0.5"],"r":[["10.20.0.5",0,12500,11900,14250,400,0,[0,null,1,2]]]}`;
    assert.deepEqual(decodeRound(good)?.round, round(0));
    const [wire] = [JSON.parse(good) as { r: unknown[][] }];
    const withEntry = (e: unknown) => JSON.stringify({ ...wire, r: [wire.r[0], e] });
    const base = wire.r[0] ?? [];
    /** The base entry with field `i` set (fields before it that were left out at their default 0). */
    const at = (i: number, value: unknown): unknown[] => {
      const e = [...base];
      while (e.length < i) e.push(0);
      e[i] = value;
      return e;
    };
    for (const line of [
      '',
      'not json',
      '[1,2]',
      JSON.stringify({ ...wire, hv: 4 }),
      JSON.stringify({ ...wire, hv: 0 }),
      JSON.stringify({ ...wire, at: 'yesterday' }),
      // A day that does not exist, which Date.parse would roll over to 2 March.
      JSON.stringify({ ...wire, at: '2026-02-30T00:00:00.000Z' }),
      JSON.stringify({ ...wire, lt: -1 }),
      JSON.stringify({ ...wire, r: 'x' }),
      JSON.stringify({ ...wire, r: Array.from({ length: 51 }, () => base) }),
      JSON.stringify({ ...wire, ad: 'x' }),
      JSON.stringify({ ...wire, ad: [1] }),
      JSON.stringify({ ...wire, ad: [''] }),
      `{"hv":2,"at":"2026-01-01T00:00:00.000Z","lt":75,"lp":5,"r":[],"pad":"${'x'.repeat(HISTORY_LIMITS.maxLineBytes)}"}`,
    ]) {
      assert.equal(decodeRound(line), null, line.slice(0, 80));
    }
    for (const bad of [
      at(0, ''),
      at(0, 5),
      at(10, 'fine'),
      at(9, 'udp'),
      at(2, -1),
      at(2, '12'),
      at(2, 3_600_000_001),
      at(3, -1),
      at(1, 101),
      at(7, [0, 9]),
      at(7, ['10.0.0.1']),
      at(7, [0.5]),
      at(7, 'a,b'),
      at(11, ['latency', 0, 'tunnel']),
      at(11, ['rtt', 1, 'tunnel']),
      at(6, true),
      at(6, 2),
      at(6, 4),
      at(8, 'x'.repeat(65)),
      at(12, 0),
      base.slice(0, 5),
      { t: '10.20.0.5', loss: 0 },
    ]) {
      const decoded = decodeRound(withEntry(bad));
      assert.equal(decoded?.skippedEntries, 1, JSON.stringify(bad));
      assert.deepEqual(decoded?.round.resources, round(0).resources);
    }
    // Format 4: a line skipped whole when its own fields, its columns or its band are not what it writes.
    const line4 = JSON.parse(encodeRound(round(0, [entry('10.20.0.5'), entry('10.20.0.6')]))) as Record<
      string,
      unknown
    > & { t: unknown[]; ms: unknown[]; h: unknown[]; b: string };
    const band4 = JSON.parse(line4.b) as unknown[][];
    const with4 = (fields: Record<string, unknown>) => JSON.stringify({ ...line4, ...fields });
    assert.equal(decodeRound(with4({}))?.round.resources.length, 2);
    for (const fields of [
      { at: 'yesterday' },
      { lp: 101 },
      { t: 'x' },
      { t: Array.from({ length: 51 }, (_, i) => `10.20.1.${i}`) },
      { ms: [12500] },
      { m: [0] },
      { m: 0 },
      { h: [0] },
      { h: 'x' },
      { b: 7 },
      { b: '[[0,1,2,3]' },
      { b: JSON.stringify(band4.slice(0, 1)) },
      { b: '{}' },
      { ad: [''] },
    ]) {
      assert.equal(decodeRound(with4(fields)), null, JSON.stringify(fields));
    }
    // ... and an entry skipped when a column's value or its band entry breaks a bound, the other kept.
    const column = (name: 't' | 'ms' | 'h', value: unknown) => ({
      [name]: [(line4[name] as unknown[])[0], value],
    });
    const bandOf = (value: unknown) => ({ b: JSON.stringify([band4[0], value]) });
    const withSecond = (second: unknown[]) => [...(band4[1] as unknown[]), ...second];
    for (const fields of [
      column('t', ''),
      column('t', 5),
      column('ms', -1),
      column('ms', '12'),
      column('ms', 3_600_000_001),
      { m: [0, 'udp'] },
      column('h', [0, 9]),
      column('h', ['10.0.0.1']),
      bandOf([101, null, null, null]),
      bandOf([0, -1, null, null]),
      bandOf([0, null, null]),
      bandOf([...withSecond([0, 0, 0, null]), 0]),
      bandOf(withSecond([4])),
      bandOf(withSecond([0, 'x'.repeat(65)])),
      bandOf(withSecond([0, 0, 'fine'])),
      bandOf(withSecond([0, 0, 'latency', ['rtt', 1, 'tunnel']])),
      bandOf('x'),
    ]) {
      const decoded = decodeRound(with4(fields));
      assert.equal(decoded?.skippedEntries, 1, JSON.stringify(fields));
      assert.deepEqual(decoded?.round.resources, [entry('10.20.0.5')], JSON.stringify(fields));
    }
    // And in the first format.
    const keyed = `"hv":1,"at":"2026-01-01T12:00:00.000Z","lt":75,"lp":5,"ad":["10.199.100.1","10.199.4.2","10.20.0.5"]`;
    const keyedBase = { t: '10.20.0.5', ms: 12.5, lo: 11.9, hi: 14.25, sd: 0.4, loss: 0, h: [0, null, 1, 2] };
    for (const bad of [
      { ...keyedBase, t: '' },
      { ...keyedBase, v: 'fine' },
      { ...keyedBase, v: 0 },
      { ...keyedBase, ms: '12' },
      { ...keyedBase, h: [0, 9] },
      { ...keyedBase, h: 0 },
      { ...keyedBase, pc: true },
      ['10.20.0.5', 0, 12.5, 11.9, 14.25, 0.4, null],
    ]) {
      const decoded = decodeRound(`{${keyed},"r":${JSON.stringify([keyedBase, bad])}}`);
      assert.equal(decoded?.skippedEntries, 1, JSON.stringify(bad));
      assert.deepEqual(decoded?.round.resources, round(0).resources);
    }
  });

  it('keeps a 50-resource round of 10-hop paths small enough for 7 days of 5-minute rounds within the bound', () => {
    // Prepare: the largest usual round: 50 resources on IPv4, 10 hops each, every field set.
    const hops = Array.from({ length: 10 }, (_, i) => `10.199.${100 + i}.${200 + i}`);
    const entries = Array.from({ length: 50 }, (_, i) =>
      entry(`10.20.${i}.250`, {
        hops: [...hops.slice(0, 9), `10.20.${i}.250`],
        latencyMs: 123.456,
        lowMs: 100.123,
        highMs: 180.456,
        stdevMs: 12.345,
        lossPct: 12.5,
        trouble: { kind: 'latency', hop: 3, side: 'resource' },
      }),
    );
    // Act: a line that writes every path, and one of the lines between, which leave the unchanged ones out.
    const full = Buffer.byteLength(encodeRound(round(0, entries))) + 1;
    const paths = readAfter([round(0, entries)]).paths;
    const lean = Buffer.byteLength(encodeRound(round(1, entries), paths)) + 1;
    // Assess: what the README and the module state.
    const perRound = (full + (PATH_REFRESH_LINES - 1) * lean) / PATH_REFRESH_LINES;
    const week = 7 * 24 * 12;
    process.stdout.write(
      `# a 50-resource round: ${full} bytes with every path, ${lean} without; ${Math.round(perRound)} on average; 2,016 rounds: ${((week * perRound) / 1e6).toFixed(1)} MB\n`,
    );
    assert.ok(full <= 7_500 && lean <= 5_500, `${full}, ${lean} bytes (format 1: 8,651 and 6,410)`);
    assert.ok(week * perRound <= HISTORY_LIMITS.keep * HISTORY_LIMITS.fileBytes, 'kept across rotations');
  });

  it('leaves the hop lists out of a line that would pass the line bound, rather than lose the round', () => {
    // Hop names of 100 characters, none shared: past any line an honest round writes.
    const hops = (i: number) => Array.from({ length: 255 }, (_, k) => `${i}.${k}.${'x'.repeat(100)}`);
    const entries = Array.from({ length: 50 }, (_, i) => entry(`10.20.${i}.250`, { hops: hops(i) }));
    const line = encodeRound(round(0, entries));
    assert.ok(Buffer.byteLength(line) <= HISTORY_LIMITS.maxLineBytes);
    assert.deepEqual(
      decodeRound(line)?.round.resources.map((e) => e.hops),
      entries.map(() => null),
    );
  });
});

describe('history store: the file', () => {
  it('appends a line per round and reads the newest rounds back, newest first', () => {
    for (let minute = 0; minute < 60; minute++) appendRound(logDir, timed(minute));
    const read = readRecentRounds(logDir);
    assert.equal(read.rounds, RECENT_ROUNDS);
    assert.deepEqual(
      latencies(read),
      Array.from({ length: RECENT_ROUNDS }, (_, i) => 59 - i),
    );
    assert.equal(read.skipped, 0);
    assert.equal(fs.readFileSync(file(), 'utf8').split('\n').length, 61, 'one line per round');
  });

  it('writes an unchanged path once every PATH_REFRESH_LINES lines, a changed one at once, and reads every round with its path', () => {
    // Prepare: 40 rounds on one path, then 5 on another.
    const a = entry('10.20.0.5');
    const b = entry('10.20.0.5', { hops: ['10.199.100.1', '10.199.9.9', '10.20.0.5'] });
    const rounds = [
      ...Array.from({ length: 40 }, (_, m) => round(m, [a])),
      ...[40, 41, 42, 43, 44].map((m) => round(m, [b])),
    ];
    // Act
    const read = readAfter(rounds);
    // Assess
    const written = fs
      .readFileSync(file(), 'utf8')
      .trim()
      .split('\n')
      .flatMap((line, i) => (wroteFirstPath(line) ? [i] : []));
    assert.deepEqual(written, [0, 16, 32, 40]);
    assert.equal(read.rounds, Math.min(rounds.length, RECENT_ROUNDS));
    // The round's reader: the paths of the path rule's window, newest first.
    assert.deepEqual(
      read.past.get('10.20.0.5')?.paths,
      rounds
        .map((r) => r.resources[0]?.hops)
        .reverse()
        .slice(0, PATH_RULE.windowRounds),
    );
    // The report's reader: every round's path.
    assert.deepEqual(
      readHistory(logDir).rounds.map((r) => r.resources[0]?.hops),
      rounds.map((r) => r.resources[0]?.hops),
    );
  });

  it('knows the paths of the newest rounds from the last RECENT_ROUNDS lines alone', () => {
    for (let m = 0; m < 100; m++) appendRound(logDir, round(m % 60), readRecentRounds(logDir).paths);
    const tail = readLastLines(logDir, HISTORY_FILE, {
      maxLines: RECENT_ROUNDS,
      maxBytes: HISTORY_LIMITS.tailBytes,
    });
    const memory: PathMemory = newPathMemory();
    const known = (tail?.lines ?? []).map(
      (line) => decodeRound(line, memory)?.round.resources[0]?.hops !== null,
    );
    assert.equal(known.length, RECENT_ROUNDS);
    assert.ok(known.slice(PATH_REFRESH_LINES - 1).every(Boolean), JSON.stringify(known));
    // So the round's reader fills the path rule's window from them.
    assert.equal(readRecentRounds(logDir).past.get('10.20.0.5')?.paths.length, PATH_RULE.windowRounds);
  });

  it('writes every path on the first line of a new file, and when the line that wrote it was lost', () => {
    appendRound(logDir, round(0));
    const line = `${encodeRound(round(1))}\n`;
    fs.appendFileSync(file(), line.repeat(Math.ceil(HISTORY_LIMITS.fileBytes / line.length)));
    appendRound(logDir, round(2), readRecentRounds(logDir).paths);
    assert.ok(wroteFirstPath(fs.readFileSync(file(), 'utf8')), 'the new file names its paths');
    // The line that wrote the path is damaged: the reader does not know it, so the writer writes it.
    const lean = encodeRound(round(4), readRecentRounds(logDir).paths);
    fs.writeFileSync(file(), `garbage\n${lean}\n`);
    fs.rmSync(file(`${HISTORY_FILE}.1`));
    const read = readRecentRounds(logDir);
    assert.deepEqual(read.past.get('10.20.0.5')?.paths, [], 'not known');
    assert.equal(read.paths.written.size, 0);
    assert.ok(wroteFirstPath(encodeRound(round(5), read.paths)));
  });

  it('has nothing to say before the first round', () => {
    assert.deepEqual(readRecentRounds(logDir), {
      past: new Map(),
      rounds: 0,
      skipped: 0,
      truncated: false,
      notes: [],
      paths: newPathMemory(),
    });
  });

  it('skips damaged lines and a torn last line, and counts them', () => {
    appendRound(logDir, timed(0));
    fs.appendFileSync(file(), 'garbage\n{"hv":1}\n');
    appendRound(logDir, timed(1));
    fs.appendFileSync(file(), encodeRound(timed(2)).slice(0, 40));
    const read = readRecentRounds(logDir);
    assert.deepEqual(latencies(read), [1, 0]);
    assert.deepEqual([read.rounds, read.skipped], [2, 2]);
    assert.deepEqual(readHistory(logDir).rounds.map(minuteOf), [0, 1]);
    assert.equal(readHistory(logDir).skipped, 2);
  });

  it('rotates past its bound, keeps two copies, and reads across the newest one', () => {
    // Prepare: a current file just past the bound, full of valid rounds, and two older copies.
    fs.writeFileSync(file(`${HISTORY_FILE}.2`), `${encodeRound(round(50))}\n`);
    fs.writeFileSync(file(`${HISTORY_FILE}.1`), `${encodeRound(round(51))}\n`);
    const line = `${encodeRound(timed(1))}\n`;
    const lines = Math.ceil((HISTORY_LIMITS.fileBytes + 1) / line.length);
    fs.writeFileSync(file(), line.repeat(lines));
    // Act
    appendRound(logDir, timed(2));
    // Assess: the oldest copy is gone, the big file is .1, the new round starts a new file.
    assert.equal(fs.readFileSync(file(`${HISTORY_FILE}.2`), 'utf8'), `${encodeRound(round(51))}\n`);
    assert.equal(fs.statSync(file(`${HISTORY_FILE}.1`)).size, line.length * lines);
    assert.equal(fs.readFileSync(file(), 'utf8'), `${encodeRound(timed(2))}\n`);
    assert.deepEqual(fs.readdirSync(dir).sort(), [HISTORY_FILE, `${HISTORY_FILE}.1`, `${HISTORY_FILE}.2`]);
    const read = readRecentRounds(logDir);
    assert.equal(read.rounds, RECENT_ROUNDS);
    assert.deepEqual(latencies(read)?.slice(0, 3), [2, 1, 1]);
  });

  it('reads a round at most tailBytes from the end, however large the file', () => {
    // Prepare: 40 MB without a line break, then three rounds.
    const fd = fs.openSync(file(), 'w');
    const junk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 40; i++) fs.writeSync(fd, junk);
    fs.closeSync(fd);
    fs.appendFileSync(file(), `\n${[0, 1, 2].map((m) => encodeRound(timed(m))).join('\n')}\n`);
    // Act
    const started = process.memoryUsage().rss;
    const tail = readLastLines(logDir, HISTORY_FILE, { maxLines: 100, maxBytes: HISTORY_LIMITS.tailBytes });
    const read = readRecentRounds(logDir);
    // Assess
    assert.equal(tail?.bytes, HISTORY_LIMITS.tailBytes);
    assert.equal(tail?.fromStart, false);
    assert.deepEqual(latencies(read), [2, 1, 0]);
    assert.equal(read.truncated, true, 'fewer rounds than asked for, and the budget is spent');
    assert.ok(process.memoryUsage().rss - started < 30 * 1024 * 1024, 'the 40 MB were not read');
  });

  it('reads the stored rounds for the report, filtered by time and resource, oldest first', () => {
    fs.writeFileSync(file(`${HISTORY_FILE}.2`), `${encodeRound(round(0))}\n`);
    fs.writeFileSync(
      file(`${HISTORY_FILE}.1`),
      `${encodeRound(round(1, [entry('a.example'), entry('b.example')]))}\n`,
    );
    appendRound(logDir, round(2, [entry('b.example')]));
    appendRound(logDir, round(3, [entry('a.example')]));

    assert.deepEqual(readHistory(logDir).rounds.map(minuteOf), [0, 1, 2, 3]);
    const forA = readHistory(logDir, { resource: 'a.example' });
    assert.deepEqual(forA.rounds.map(minuteOf), [1, 3]);
    assert.ok(forA.rounds.every((r) => r.resources.every((e) => e.target === 'a.example')));
    const since = readHistory(logDir, { since: new Date(Date.UTC(2026, 0, 1, 12, 2)) });
    assert.deepEqual(since.rounds.map(minuteOf), [2, 3]);
    const bounded = readHistory(logDir, { maxBytes: fs.statSync(file()).size });
    assert.deepEqual(bounded.rounds.map(minuteOf), [2, 3]);
    assert.equal(bounded.truncated, true);
  });
});

describe('history store: a log directory someone else can write', () => {
  it('refuses a symbolic link at the history file, for reading and for writing, naming it', () => {
    const target = path.join(os.tmpdir(), `cc-history-target-${process.pid}`);
    fs.writeFileSync(target, `${encodeRound(round(0))}\n`);
    try {
      plantSymlink(target, file(), process.geteuid?.() ?? 0);
      for (const act of [() => readRecentRounds(logDir), () => appendRound(logDir, round(1))]) {
        assert.throws(act, (error: unknown) => {
          assert.ok(error instanceof EnvironmentError);
          assert.match(error.message, /cc-monitor-history\.jsonl is a symbolic link; refusing to follow it/);
          return true;
        });
      }
      assert.equal(fs.readFileSync(target, 'utf8'), `${encodeRound(round(0))}\n`, 'untouched');
    } finally {
      fs.rmSync(target, { force: true });
    }
  });

  it('refuses a FIFO without blocking, and a hard link to another file', () => {
    plantFifo(file(), process.geteuid?.() ?? 0);
    assert.throws(() => readRecentRounds(logDir), /is a FIFO/);
    fs.rmSync(file());
    const other = path.join(dir, 'other');
    fs.writeFileSync(other, `${encodeRound(round(0))}\n`);
    fs.linkSync(other, file());
    assert.throws(() => readRecentRounds(logDir), /hard links/);
  });

  it('leaves out a rotated copy it may not read, with a note, and reads the current file', () => {
    appendRound(logDir, timed(1));
    plantSymlink('/etc/passwd', file(`${HISTORY_FILE}.1`), process.geteuid?.() ?? 0);
    const read = readRecentRounds(logDir);
    assert.deepEqual(latencies(read), [1]);
    assert.match(read.notes[0] ?? '', /\.1 is a symbolic link/);
  });

  it('as root in a directory another user owns, writes and reads as that user', {
    skip: process.geteuid?.() !== 0 ? 'needs root' : false,
  }, () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-history-home-'));
    try {
      fs.chmodSync(home, 0o755);
      const logs = ownedDir(path.join(home, 'logs'));
      const owned = prepareLogDir(logs);
      try {
        appendRound(owned, timed(4));
        assert.equal(fs.statSync(path.join(logs, HISTORY_FILE)).uid, NOBODY);
        assert.deepEqual(readRecentRounds(owned).past.get('10.20.0.5')?.icmpMs, [4]);
        // A history file root owns there is not the acting user's: refused, never trusted.
        fs.chownSync(path.join(logs, HISTORY_FILE), 0, 0);
        assert.throws(() => readRecentRounds(owned), /owned by uid 0/);
      } finally {
        owned.close();
      }
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
