/**
 * What a round reads of the history (readRecentRounds): only the fields the
 * rules read, checked; the other fields unread, so an entry damaged there
 * still counts for the rules while the report's reader (readHistory) skips
 * it; hop lists read only where the path rule or the writer needs them;
 * lines of formats 1, 2 and 3 mixed; and, on an honest history, exactly what
 * reading every field of the same lines gives the rules.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import { readLastLines } from '../../../agent/files/read-lines.ts';
import { BASELINE_RULE } from '../../../agent/history/baseline.ts';
import {
  decodeRound,
  HISTORY_FILE,
  HISTORY_LIMITS,
  type HistoryEntry,
  knownPath,
  newPathMemory,
  PATH_REFRESH_LINES,
  type PathMemory,
  RECENT_ROUNDS,
  readHistory,
  readRecentRounds,
} from '../../../agent/history/history-store.ts';
import { type HopAddresses, PATH_RULE } from '../../../agent/history/path-change.ts';
import { writeFixtureHistory } from '../../helpers/history-fixture.ts';

let dir = '';
let logDir: LogDir;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-recent-history-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const TARGET = '10.20.0.5';
const HOPS = ['10.199.100.1', null, TARGET];
const at = (minute: number): string => new Date(Date.UTC(2026, 0, 1, 12, minute)).toISOString();
/** A format-3 line by hand: `entries` as written (round trips in microseconds), `extra` any line field. */
const line3 = (minute: number, entries: unknown[], extra: Record<string, unknown> = {}): string =>
  JSON.stringify({
    hv: 3,
    at: at(minute),
    lt: 75,
    lp: 5,
    ad: ['10.199.100.1', TARGET],
    r: entries,
    ...extra,
  });
/** A format-3 entry for TARGET: latency `ms` (milliseconds), the path written when `withPath`. */
const entry3 = (ms: number, withPath = false): unknown[] =>
  withPath
    ? [TARGET, 0, ms * 1000, null, null, null, 0, [0, null, 1]]
    : [TARGET, 0, ms * 1000, null, null, null];
const writeLines = (lines: string[]): void =>
  fs.writeFileSync(path.join(dir, HISTORY_FILE), `${lines.join('\n')}\n`);

describe('readRecentRounds: what the rules read, and only that', () => {
  it('counts an entry whose other fields are broken for the rules, while the report skips it', () => {
    // Prepare: the path, then lines whose entry (or line) is broken only where the rules do not read.
    const broken: [string, unknown[], Record<string, unknown>][] = [
      ['verdict', [TARGET, 0, 2000, null, null, null, 0, 0, 0, 0, 'fine'], {}],
      ['trouble spot', [TARGET, 0, 3000, null, null, null, 0, 0, 0, 0, 'latency', ['rtt', 1, 'x']], {}],
      ['band', [TARGET, 0, 4000, -1, null, null], {}],
      ['loss', [TARGET, 101, 5000, null, null, null], {}],
      ['flags', [TARGET, 0, 6000, null, null, null, 7], {}],
      ['address', [TARGET, 0, 7000, null, null, null, 0, 0, 'x'.repeat(65)], {}],
      ['time', entry3(8), { at: 'yesterday' }],
      ['thresholds', entry3(9), { lt: -1 }],
      ['tunnel state', entry3(10), { tn: 'sideways' }],
    ];
    // In format 4 what the rules do not read is the band (`b`): its entry broken, not the band as a whole.
    const brokenBands = ['[[101,null,null,null]]', '[[0]]', '["x"]', '[[0,null,null,null,0,0,"fine"]]'];
    const line4 = (minute: number, band: string): string =>
      JSON.stringify({
        hv: 4,
        at: at(minute),
        lt: 75,
        lp: 5,
        t: [TARGET],
        ms: [(minute + 1) * 1000],
        b: band,
      });
    writeLines([
      line3(0, [entry3(1, true)]),
      ...broken.map(([, e, extra], i) => line3(i + 1, [e], extra)),
      ...brokenBands.map((band, i) => line4(broken.length + 1 + i, band)),
    ]);
    // Act
    const read = readRecentRounds(logDir);
    const report = readHistory(logDir);
    // Assess
    assert.deepEqual(read.past.get(TARGET)?.icmpMs, [14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    assert.deepEqual(
      read.past.get(TARGET)?.paths,
      Array.from({ length: 14 }, () => HOPS),
    );
    assert.deepEqual([read.rounds, read.skipped], [14, 0]);
    const reported = report.rounds.flatMap((r) => r.resources.map((e) => e.latencyMs));
    assert.deepEqual(reported, [1], 'the report skips every broken one');
    assert.equal(report.skipped, broken.length + brokenBands.length);
  });

  it('skips an entry whose latency, method, target or read hop list is broken, and counts it', () => {
    // Prepare: a good line, then one broken entry per field the rules read, beside a good entry each.
    const other = (ms: number): unknown[] => ['10.20.0.9', 0, ms * 1000, null, null, null];
    const broken: unknown[] = [
      [TARGET, 0, -1, null, null, null],
      [TARGET, 0, '12', null, null, null],
      [TARGET, 0, 3_600_000_001, null, null, null],
      [TARGET, 0, 5000, null, null, null, 0, 0, 0, 'udp'],
      [TARGET, 0, 5000, null, null, null, 0, 0, 0, 0.5],
      ['', 0, 5000, null, null, null],
      [5, 0, 5000, null, null, null],
      [TARGET, 0, 5000, null, null, null, 0, [0, 9]],
      // Hop names that are no address (see `names` below).
      [TARGET, 0, 5000, null, null, null, 0, [2]],
      [TARGET, 0, 5000, null, null, null, 0, [2]],
      [TARGET, 0, 5000, null, null, null, 0, 'a,b'],
      [TARGET, 0, 5000],
      { t: TARGET, ms: 5 },
    ];
    // Lines whose hop name 2 is no address: a control, or longer than any address.
    const named = [['gw\u001b[31m'], ['1'.repeat(65)]];
    const names = (e: unknown): Record<string, unknown> => {
      const at = broken.indexOf(e) - broken.findIndex((b) => JSON.stringify(b).endsWith(',[2]]'));
      const name = named[at];
      return name === undefined ? {} : { ad: ['10.199.100.1', TARGET, ...name] };
    };
    writeLines([
      line3(0, [entry3(1, true), other(1)]),
      ...broken.map((e, i) => line3(i + 1, [e, other(i + 2)], names(e))),
    ]);
    // Act
    const read = readRecentRounds(logDir);
    // Assess: the good entries only; each broken one counted.
    assert.deepEqual(read.past.get(TARGET)?.icmpMs, [1]);
    assert.deepEqual(
      read.past.get('10.20.0.9')?.icmpMs,
      Array.from({ length: broken.length + 1 }, (_, i) => broken.length + 1 - i),
    );
    assert.equal(read.skipped, broken.length);
    assert.deepEqual(read.past.get(TARGET)?.paths, [HOPS]);
  });

  it('reads a hop list only where the path rule or the writer needs it', () => {
    // Prepare: RECENT_ROUNDS lines each writing the path; the oldest one's hop list is broken.
    const lines = Array.from({ length: RECENT_ROUNDS }, (_, i) => line3(i, [entry3(i, true)]));
    lines[0] = line3(0, [[TARGET, 0, 0, null, null, null, 0, [0, 99]]]);
    writeLines(lines);
    // Act
    const read = readRecentRounds(logDir);
    // Assess: far older than the path rule's window, its latency counts; the report skips it.
    assert.equal(read.past.get(TARGET)?.icmpMs.length, RECENT_ROUNDS);
    assert.equal(read.past.get(TARGET)?.paths.length, PATH_RULE.windowRounds);
    assert.equal(read.skipped, 0);
    assert.equal(readHistory(logDir).skipped, 1);
    // And the writer's memory: the newest path written, in the newest line.
    assert.deepEqual(knownPath(read.paths, TARGET), { hops: HOPS, linesAgo: 0 });
  });

  it('reads lines of formats 1 to 4 mixed, a path written in one format carried into the next', () => {
    // Prepare: format 1 writes the path (milliseconds), format 2 a TCP entry and one leaving the path out
    // (with its baseline and far flag, unread), formats 3 and 4 leave it out.
    const ad = '"ad":["10.199.100.1","10.20.0.5"]';
    const lines = [
      `{"hv":1,"at":"${at(0)}","lt":75,"lp":5,${ad},"r":[{"t":"${TARGET}","ms":1.5,"loss":0,"h":[0,null,1],"bm":1,"far":1}]}`,
      `{"hv":2,"at":"${at(1)}","lt":75,"lp":5,${ad},"r":[["${TARGET}",0,2.5,null,null,null,1.2,3],["https://wiki/",0,7.25,null,null,null,null,0,null,"10.20.0.7","tcp"]]}`,
      line3(2, [entry3(3.5)]),
      `{"hv":4,"at":"${at(3)}","lt":75,"lp":5,"t":["${TARGET}"],"ms":[4500],"b":"[[0,null,null,null]]"}`,
    ];
    writeLines(lines);
    // Act
    const read = readRecentRounds(logDir);
    // Assess
    assert.deepEqual(read.past.get(TARGET)?.icmpMs, [4.5, 3.5, 2.5, 1.5]);
    assert.deepEqual(read.past.get(TARGET)?.paths, [HOPS, HOPS, HOPS, HOPS]);
    assert.deepEqual(read.past.get('https://wiki/')?.tcpMs, [7.25]);
    assert.deepEqual(read.past.get('https://wiki/')?.paths, [], 'it wrote no path');
    assert.deepEqual([read.rounds, read.skipped], [4, 0]);
    // The report reads all four, the format-2 path change flag too.
    const report = readHistory(logDir).rounds;
    assert.deepEqual(
      report.map((r) => r.resources[0]?.latencyMs),
      [1.5, 2.5, 3.5, 4.5],
    );
    assert.equal(report[1]?.resources[0]?.pathChanged, true);
    assert.deepEqual(report[2]?.resources[0]?.hops, HOPS);
    assert.deepEqual(report[3]?.resources[0]?.hops, HOPS);
  });

  it('gives the rules, on an honest history, what reading every field of the same lines gives them', () => {
    // Prepare: 60 rounds of three resources (a path change and rounds without a path in the path rule's window,
    // a TCP resource), each line appended as a round appends it.
    writeFixtureHistory(dir, { rounds: 60, tunnel: true });
    // Act
    const read = readRecentRounds(logDir);
    // Assess: against the last RECENT_ROUNDS lines decoded in full, as the round read them before.
    const tail = readLastLines(logDir, HISTORY_FILE, {
      maxLines: RECENT_ROUNDS,
      maxBytes: HISTORY_LIMITS.tailBytes,
    });
    const memory: PathMemory = newPathMemory();
    const decoded = (tail?.lines ?? []).map((line) => decodeRound(line, memory)?.round);
    const newestFirst = decoded.reverse().flatMap((r) => r?.resources ?? []);
    const expected = (target: string) => {
      const past = newestFirst.filter((e: HistoryEntry) => e.target === target);
      const latencies = (tcp: boolean) =>
        past
          .filter((e) => e.latencyMs !== null && e.method !== null && (e.method === 'icmp') !== tcp)
          .map((e) => e.latencyMs as number)
          .slice(0, BASELINE_RULE.windowRounds);
      return {
        paths: past
          .map((e) => e.hops)
          .filter((h): h is HopAddresses => h !== null)
          .slice(0, PATH_RULE.windowRounds),
        icmpMs: latencies(false),
        tcpMs: latencies(true),
      };
    };
    const targets = ['10.20.0.5', 'db.corp.internal', 'https://wiki.corp.internal/'];
    for (const target of targets) {
      const past = read.past.get(target);
      assert.deepEqual(
        { paths: past?.paths, icmpMs: past?.icmpMs, tcpMs: past?.tcpMs },
        expected(target),
        target,
      );
    }
    assert.ok(
      new Set(read.past.get('10.20.0.5')?.paths.map((p) => p.join())).size === 2,
      'the path change is in it',
    );
    assert.ok((read.past.get('https://wiki.corp.internal/')?.tcpMs.length ?? 0) > 0);
    // The writer's memory: every target's path, as the full decode of the same lines says.
    for (const target of targets) {
      const known = knownPath(memory, target);
      assert.ok(known !== undefined && known.linesAgo + 1 < PATH_REFRESH_LINES);
      assert.deepEqual(knownPath(read.paths, target), known, target);
    }
  });
});
