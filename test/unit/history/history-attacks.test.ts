/**
 * The round history under attack: the log directory is writable by a
 * non-root user while the agent runs as root, so any line of the history may
 * be hostile. What must hold whatever lines are slipped in between the
 * agent's own: the report reads every one of the agent's rounds with the path
 * that round had (a path left out of a line is taken from the lines before,
 * so the writer's idea of "the lines before" must be the report's); neither
 * reader throws, and the round's reader stays bounded. Every random case is
 * seeded (mulberry32), so a failure replays.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, prepareLogDir } from '../../../agent/files/log-dir.ts';
import {
  appendRound,
  HISTORY_FILE,
  HISTORY_LIMITS,
  type HistoryEntry,
  type HistoryRound,
  readHistory,
  readRecentRounds,
} from '../../../agent/history/history-store.ts';
import type { HopAddresses } from '../../../agent/history/path-change.ts';

let dir = '';
let logDir: LogDir;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-history-attacks-'));
  logDir = prepareLogDir(dir);
});
afterEach(() => {
  logDir.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const file = (): string => path.join(dir, HISTORY_FILE);

/** A small seeded generator (mulberry32): the same seed, the same cases. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TARGETS = ['10.20.0.5', 'db.corp.internal', 'https://wiki.corp.internal/'] as const;
/** Paths a target may take: two routes, one through a silent hop, and none at all. */
const PATHS: readonly (HopAddresses | null)[] = [
  ['10.199.100.1', '10.199.4.2', '10.20.0.5'],
  ['10.199.100.1', '10.199.9.9', '10.20.0.5'],
  ['10.199.100.1', null, '10.199.7.7', '10.20.0.5'],
  null,
];
/** The agent's rounds carry this loss threshold, slipped-in lines another, so the report tells them apart. */
const HONEST_LP = 5;
const HOSTILE_LP = 7;

function entry(target: string, hops: HopAddresses | null, ms: number): HistoryEntry {
  return {
    target,
    address: target,
    method: target.startsWith('https:') ? 'http' : 'icmp',
    verdict: 'ok',
    latencyMs: ms,
    lowMs: null,
    highMs: null,
    stdevMs: null,
    lossPct: 0,
    hops,
    trouble: null,
    pathChanged: false,
  };
}

const atOf = (n: number): string => new Date(Date.UTC(2026, 0, 1) + n * 300_000).toISOString();

/** The agent's round of the first target alone, on `hops`. */
const firstOnly = (n: number, hops: HopAddresses | null): HistoryRound => ({
  at: atOf(n),
  latencyThresholdMs: 75,
  lossThresholdPct: HONEST_LP,
  resources: [entry(TARGETS[0], hops, 10)],
});

/** A format-3 line by hand, `ad` built from the entries' paths unless given. */
function hostileLine(
  n: number,
  entries: [string, HopAddresses | null | 0, unknown, unknown?][],
  extra: Record<string, unknown> = {},
): string {
  const ad: string[] = [];
  const r = entries.map(([target, hops, ms, method]) => {
    const list =
      hops === 0 || hops === null
        ? hops
        : hops.map((h) => {
            if (h === null) return null;
            if (!ad.includes(h)) ad.push(h);
            return ad.indexOf(h);
          });
    return method === undefined
      ? [target, 0, ms, null, null, null, 0, list]
      : [target, 0, ms, null, null, null, 0, list, 0, method];
  });
  return JSON.stringify({ hv: 3, at: atOf(n), lt: 75, lp: HOSTILE_LP, ad, r, ...extra });
}

/**
 * A format-4 line by hand (entries by column, `b` the band as JSON text),
 * `ad` built from the entries' paths; `band` replaces the band entry of each
 * (default: loss 0, nothing else measured), `extra` any field.
 */
function hostileLine4(
  n: number,
  entries: [string, HopAddresses | null | 0, unknown, unknown?][],
  extra: Record<string, unknown> = {},
  band: unknown = undefined,
): string {
  const ad: string[] = [];
  const h = entries.map(([, hops]) =>
    hops === 0 || hops === null
      ? hops
      : hops.map((a) => {
          if (a === null) return null;
          if (!ad.includes(a)) ad.push(a);
          return ad.indexOf(a);
        }),
  );
  return JSON.stringify({
    hv: 4,
    at: atOf(n),
    lt: 75,
    lp: HOSTILE_LP,
    ad,
    t: entries.map(([target]) => target),
    ms: entries.map(([, , ms]) => ms),
    m: entries.map(([, , , method]) => method ?? 0),
    h,
    b: JSON.stringify(
      band === undefined ? entries.map(() => [0, null, null, null]) : entries.map(() => band),
    ),
    ...extra,
  });
}

/** The kinds of line a hostile user slips in, each naming the paths it claims. */
const ATTACKS: ((n: number, pick: () => HopAddresses | null, t: () => string) => string)[] = [
  // Lines the report skips whole (time, thresholds, tunnel state, hop table), writing paths.
  (n, pick, t) => hostileLine(n, [[t(), pick(), 1000]], { at: 'yesterday' }),
  (n, pick, t) => hostileLine(n, [[t(), pick(), 1000]], { at: '2026-02-30T12:00:00.000Z' }),
  (n, pick, t) => hostileLine(n, [[t(), pick(), 1000]], { lt: -1 }),
  (n, pick, t) => hostileLine(n, [[t(), pick(), 1000]], { tn: 'sideways' }),
  (n, _pick, t) => hostileLine(n, [[t(), null, 1000]], { ad: [7] }),
  // Entries the round's reader skips for what it reads (latency, method), writing valid paths.
  (n, pick, t) => hostileLine(n, [[t(), pick(), -1]]),
  (n, pick, t) => hostileLine(n, [[t(), pick(), 'INFINITY']]).replace('"INFINITY"', '1e400'),
  (n, pick, t) => hostileLine(n, [[t(), pick(), '12']]),
  (n, pick, t) => hostileLine(n, [[t(), pick(), 1000, 'udp']]),
  // The same target twice in one line, with different paths.
  (n, pick, t) => {
    const target = t();
    return hostileLine(n, [
      [target, pick(), 1000],
      [target, pick(), 2000],
    ]);
  },
  // A well-formed line: indistinguishable from the agent's, so it does count as the lines before.
  (n, pick, t) => hostileLine(n, [[t(), pick(), 1000]]),
  // The same in format 4: lines skipped whole (their own fields, columns that do not line up, a band
  // that is not JSON text of an entry each), entries skipped for what the round's reader reads, and an
  // entry whose band the report cannot read (the round's reader never reads it), all writing paths.
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], { at: 'yesterday' }),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], { ms: [1000, 1000] }),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], { m: 0 }),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], { b: 7 }),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], { b: '[[0,null,null' }),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], { b: '[]' }),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), -1]]),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), '12']]),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000, 'udp']]),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], {}, [101, null, null, null]),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], {}, [0]),
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]], {}, 'x'),
  (n, pick, t) => {
    const target = t();
    return hostileLine4(n, [
      [target, pick(), 1000],
      [target, pick(), 2000],
    ]);
  },
  (n, pick, t) => hostileLine4(n, [[t(), pick(), 1000]]),
  // Junk.
  () => 'garbage',
  () => '{}',
  () => '[]',
  () => '{"hv":3}',
  () => '{"hv":4}',
  () => 'nul\u0000byte',
  () => '',
  // Windows line ends.
  (n, pick, t) => `${hostileLine(n, [[t(), pick(), 1000]])}\r`,
];

/**
 * Lines longer than maxLineBytes in UTF-8 bytes and shorter in UTF-16 code
 * units (2 and 3 bytes a character), well-formed otherwise: the report's
 * reader skips them by their bytes, so the round's must too. A megabyte each:
 * tried for each pair of paths, not in the seeded runs.
 */
const OVERLONG_ATTACKS: typeof ATTACKS = ['\u00e9', '\u20ac'].map(
  (pad) => (n, pick, t) =>
    hostileLine(n, [[t(), pick(), 1000]], {
      pad: pad.repeat(Math.floor(HISTORY_LIMITS.maxLineBytes / Buffer.byteLength(pad)) + 1),
    }),
);

/** Mishaps at the end of the file: what the next append closes with a newline of its own. */
const TAILS: ((n: number, pick: () => HopAddresses | null, t: () => string, truth: unknown[]) => void)[] = [
  // A well-formed line without its newline, and one cut short.
  (n, pick, t) => fs.appendFileSync(file(), hostileLine(n, [[t(), pick(), 1000]])),
  (n, pick, t) => fs.appendFileSync(file(), hostileLine(n, [[t(), pick(), 1000]]).slice(0, 60)),
  // The agent's own last line lost its newline (a full disk), or was cut short (the round is lost).
  () => fs.truncateSync(file(), fs.statSync(file()).size - 1),
  (_n, _pick, _t, truth) => {
    const text = fs.readFileSync(file(), 'utf8');
    const start = text.lastIndexOf('\n', text.length - 2) + 1;
    fs.truncateSync(file(), Buffer.byteLength(text.slice(0, start + 40)));
    truth.pop();
  },
];

/**
 * Runs `rounds` rounds of the agent (each reads the history, then appends,
 * as run-round does), slipping a hostile line in before a round with
 * probability `rate`, or (a third as often) leaving the end of the file open
 * (TAILS); the paths of the agent's rounds whose lines survive, oldest first.
 */
function roundsUnderAttack(seed: number, rounds: number, rate: number): (HopAddresses | null)[][] {
  const random = mulberry32(seed);
  const pick = (): HopAddresses | null => PATHS[Math.floor(random() * PATHS.length)] ?? null;
  const target = (): string => TARGETS[Math.floor(random() * TARGETS.length)] as string;
  const current = TARGETS.map(() => pick());
  const truth: (HopAddresses | null)[][] = [];
  for (let n = 0; n < rounds; n++) {
    if (n > 0 && random() < rate / 3) {
      // The file ends as the agent's last append left it: the mishap is at its line.
      TAILS[Math.floor(random() * TAILS.length)]?.(n, pick, target, truth);
      // Old enough that the append takes the tail for torn at once, not for a write in flight.
      const past = new Date(Date.now() - 5_000);
      fs.utimesSync(file(), past, past);
    } else if (random() < rate) {
      const attack = ATTACKS[Math.floor(random() * ATTACKS.length)];
      fs.appendFileSync(file(), `${attack?.(n, pick, target)}\n`);
    }
    // Paths mostly stay, sometimes change (and change back).
    for (let k = 0; k < current.length; k++) if (random() < 0.2) current[k] = pick();
    const round: HistoryRound = {
      at: atOf(n),
      latencyThresholdMs: 75,
      lossThresholdPct: HONEST_LP,
      resources: TARGETS.map((t, k) => entry(t, current[k] ?? null, 10 + k)),
    };
    appendRound(logDir, round, readRecentRounds(logDir).paths);
    truth.push([...current]);
  }
  return truth;
}

/** The paths of the agent's rounds as the report reads them, oldest first. */
function reportedPaths(): (HopAddresses | null)[][] {
  return readHistory(logDir)
    .rounds.filter((r) => r.lossThresholdPct === HONEST_LP)
    .map((r) => TARGETS.map((t) => r.resources.find((e) => e.target === t)?.hops ?? null));
}

describe('round history: lines slipped in by another user', () => {
  it('has the writer write a path again after any line the two readers could take differently (each kind, each pair of paths)', () => {
    const target = (): string => TARGETS[0];
    const pairs = PATHS.flatMap((x) => PATHS.filter((y) => y !== x).map((y) => [x, y] as const));
    for (const [kind, attack] of [...ATTACKS, ...OVERLONG_ATTACKS].entries()) {
      for (const [x, y] of pairs) {
        // Prepare: the agent's round on path X, a slipped-in line claiming Y, then the agent's round on Y.
        fs.rmSync(file(), { force: true });
        const round = (n: number, hops: HopAddresses | null): HistoryRound => ({
          at: atOf(n),
          latencyThresholdMs: 75,
          lossThresholdPct: HONEST_LP,
          resources: [entry(TARGETS[0], hops, 10)],
        });
        appendRound(logDir, firstOnly(0, x), readRecentRounds(logDir).paths);
        fs.appendFileSync(file(), `${attack(1, () => y, target)}\n`);
        // Act
        appendRound(logDir, round(2, y), readRecentRounds(logDir).paths);
        // Assess: the report gives the agent's rounds X and Y, and so do the rules the next round.
        const context = `kind ${kind}, ${JSON.stringify([x, y])}`;
        assert.deepEqual(
          reportedPaths(),
          [
            [x, null, null],
            [y, null, null],
          ],
          context,
        );
        const rules = readRecentRounds(logDir).past.get(TARGETS[0])?.paths ?? [];
        if (y !== null) assert.deepEqual(rules[0], y, context);
      }
    }
  });

  it('leaves the report every round of the agent with its own path (40 seeds × 120 rounds)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      // Prepare, Act
      fs.rmSync(file(), { force: true });
      const truth = roundsUnderAttack(seed, 120, 0.3);
      // Assess
      const reported = reportedPaths();
      assert.equal(reported.length, truth.length, `seed ${seed}: every round read`);
      for (let n = 0; n < truth.length; n++) {
        assert.deepEqual(reported[n], truth[n], `seed ${seed}, round ${n}`);
      }
    }
  });

  it('leaves the report every round it keeps with its own path across rotations (20 seeds × 300 rounds, files of 4 KB)', () => {
    // Prepare: small files, so that the store rotates every 20 or so rounds and drops its oldest copy; targets
    // missing from some rounds (so from a file's first line), paths changing.
    const limits = HISTORY_LIMITS as { fileBytes: number };
    const fileBytes = limits.fileBytes;
    limits.fileBytes = 4096;
    try {
      for (let seed = 1; seed <= 20; seed++) {
        for (const name of [HISTORY_FILE, `${HISTORY_FILE}.1`, `${HISTORY_FILE}.2`])
          fs.rmSync(path.join(dir, name), { force: true });
        const random = mulberry32(seed);
        const pick = (): HopAddresses | null => PATHS[Math.floor(random() * PATHS.length)] ?? null;
        const current = TARGETS.map(() => pick());
        const truth: (HopAddresses | null | undefined)[][] = [];
        // Act
        for (let n = 0; n < 300; n++) {
          for (let k = 0; k < current.length; k++) if (random() < 0.1) current[k] = pick();
          const present = TARGETS.map(() => random() < 0.7);
          const round: HistoryRound = {
            at: atOf(n),
            latencyThresholdMs: 75,
            lossThresholdPct: HONEST_LP,
            resources: TARGETS.flatMap((t, k) => (present[k] ? [entry(t, current[k] ?? null, 10 + k)] : [])),
          };
          appendRound(logDir, round, readRecentRounds(logDir).paths);
          // A round without resources is no round to the report (filterRounds).
          if (round.resources.length > 0)
            truth.push(TARGETS.map((_, k) => (present[k] ? (current[k] ?? null) : undefined)));
        }
        // Assess: the rounds the store still holds (the newest), each with the paths it had.
        const kept = readHistory(logDir).rounds.map((r) =>
          TARGETS.map((t) => {
            const e = r.resources.find((x) => x.target === t);
            return e === undefined ? undefined : e.hops;
          }),
        );
        assert.ok(kept.length > 20 && kept.length < 100, `seed ${seed}: ${kept.length} rounds kept`);
        const newest = truth.slice(truth.length - kept.length);
        for (let n = 0; n < kept.length; n++) {
          assert.deepEqual(kept[n], newest[n], `seed ${seed}, kept round ${n}`);
        }
      }
    } finally {
      limits.fileBytes = fileBytes;
    }
  });

  it('does not take a torn last line that a later append completes for a path it never read', () => {
    // Prepare: path A written; the next round, on path B, loses only its newline (a full disk, a crash).
    const [a, b] = [PATHS[0] ?? null, PATHS[1] ?? null];
    appendRound(logDir, firstOnly(0, a), readRecentRounds(logDir).paths);
    appendRound(logDir, firstOnly(1, b), readRecentRounds(logDir).paths);
    fs.truncateSync(file(), fs.statSync(file()).size - 1);
    // A second ago, so the next append knows the tail is torn, not in flight, without waiting.
    const past = new Date(Date.now() - 5_000);
    fs.utimesSync(file(), past, past);
    // Act: the next round, back on path A, reads the history (the torn line unseen) and appends.
    appendRound(logDir, firstOnly(2, a), readRecentRounds(logDir).paths);
    // Assess: the torn line became a line of its own; every round with the path it had.
    const hops = readHistory(logDir).rounds.map((r) => r.resources[0]?.hops ?? null);
    assert.deepEqual(hops, [a, b, a]);
    assert.deepEqual(readRecentRounds(logDir).past.get(TARGETS[0])?.paths, [a, b, a]);
  });

  it('does not leave out a path when a line was slipped in between the round reading the history and appending to it', () => {
    // Prepare: the agent's round on path X. The next round reads the history (run-round: holdAgainstHistory),
    // then appends the report line, the MTR files and only then its history line (recordFiles): another user
    // watching the report file (inotify) slips in a well-formed format-4 line claiming path Y in between.
    const [x, y] = [PATHS[0] ?? null, PATHS[1] ?? null];
    appendRound(logDir, firstOnly(0, x), readRecentRounds(logDir).paths);
    const readAtRoundStart = readRecentRounds(logDir).paths;
    fs.appendFileSync(file(), `${hostileLine4(1, [[TARGETS[0], y, 1000]])}\n`);
    // Act: the round, still on X, appends with what it read.
    appendRound(logDir, firstOnly(2, x), readAtRoundStart);
    // Assess: the report gives the agent's second round the path it had (X), not the slipped-in line's.
    assert.deepEqual(reportedPaths(), [
      [x, null, null],
      [x, null, null],
    ]);
  });
});
