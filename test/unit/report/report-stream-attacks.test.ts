/**
 * The report drawn while the history is read (series-from-store.ts) under
 * attack: the log directory is writable by a non-root user while the report
 * runs as root. What must hold: the series is the one the rounds held at
 * once give (readHistory, filterRounds, buildSeries) for any store, however
 * its names churn, tie, vanish and come back, its clock steps back or a round
 * is read twice; the second pass reads the bytes the first did, whatever
 * happens to the files between the passes (a round appended, a rotation, the
 * file replaced, cut or rewritten in place), and never throws or charts a
 * resource the first pass did not choose; and the count of resources left
 * out, kept by hash, is never negative and never hides that one is. Every
 * random case is seeded (mulberry32), so a failure replays.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type LogDir, openLogDirForReading, prepareLogDir } from '../../../agent/files/log-dir.ts';
import {
  appendRound,
  filterRounds,
  HISTORY_FILE,
  type HistoryEntry,
  type HistoryRound,
  type HistoryTunnelState,
  openStoredHistory,
  readHistory,
  type StoredHistory,
} from '../../../agent/history/history-store.ts';
import { NameCount } from '../../../agent/report/name-count.ts';
import { writeReport } from '../../../agent/report/report-command.ts';
import { buildSeries, REPORT_LIMITS, resourcesLeftOutNote } from '../../../agent/report/report-series.ts';
import { type SeriesQuery, seriesFromStore } from '../../../agent/report/series-from-store.ts';
import { NOBODY } from '../../helpers/hostile-dir.ts';

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

const VERDICTS = ['ok', 'latency', 'loss', 'latency+loss', 'unmeasured', 'unreachable'] as const;
const TUNNELS: readonly HistoryTunnelState[] = ['up', 'down', 'reconnecting', 'unknown'];
const T0 = Date.UTC(2026, 0, 1);
const STEP = 300_000;

function entry(target: string, random: () => number): HistoryEntry {
  const maybe = (value: number): number | null => (random() < 0.3 ? null : value);
  return {
    target,
    address: random() < 0.7 ? target : null,
    method: random() < 0.6 ? 'icmp' : random() < 0.5 ? 'tcp' : null,
    verdict: VERDICTS[Math.floor(random() * VERDICTS.length)] ?? 'ok',
    latencyMs: maybe(Math.floor(random() * 200_000) / 1000),
    lowMs: maybe(1.5),
    highMs: maybe(250),
    stdevMs: maybe(3.25),
    lossPct: random() < 0.7 ? 0 : Math.floor(random() * 101),
    hops: null,
    trouble: null,
    pathChanged: random() < 0.1,
  };
}

/**
 * The ways a store names its resources: every round the same 50; 50 new ones
 * each round (300+ churning, old ones pruned, then some back); the newest
 * round naming 50 and the others naming others; names of old rounds only,
 * then rounds of a few; any names of a pool, any count (0 to 50, repeats).
 */
const NAMINGS = ['same 50', 'churn', 'last round 50', 'old then few', 'any'] as const;

/** A seeded store: rounds in file order, with steps back in time and rounds read twice. */
function craftedStore(seed: number): { rounds: HistoryRound[]; pool: string[] } {
  const random = mulberry32(seed);
  const naming = NAMINGS[seed % NAMINGS.length] as (typeof NAMINGS)[number];
  const poolSize = [5, 60, 120, 160, 400, 2000][Math.floor(random() * 6)] as number;
  const pool = Array.from({ length: poolSize }, (_, i) => `r${i}.corp`);
  const pick = (): string => pool[Math.floor(random() * pool.length)] as string;
  const count = 1 + Math.floor(random() * (random() < 0.3 ? 500 : 100));
  const rounds: HistoryRound[] = [];
  let t = T0;
  for (let i = 0; i < count; i++) {
    const x = random();
    if (x < 0.05 && rounds.length > 0) {
      // The same round again (read across a rotation).
      rounds.push(rounds[Math.floor(random() * rounds.length)] as HistoryRound);
      continue;
    }
    if (x < 0.08) t -= Math.floor(random() * 50) * STEP;
    else if (x >= 0.1) t += STEP * (1 + Math.floor(random() * 2));
    const n = naming === 'same 50' || naming === 'churn' ? 50 : Math.floor(random() * 51);
    const resources: HistoryEntry[] = [];
    for (let j = 0; j < n; j++) {
      let target: string;
      if (naming === 'same 50') target = pool[j % pool.length] as string;
      else if (naming === 'churn') target = pool[(i * 50 + j) % pool.length] as string;
      else if (naming === 'last round 50')
        target = i === count - 1 ? (pool[j % pool.length] as string) : pick();
      else if (naming === 'old then few' && i >= count / 2) target = pool[Math.floor(random() * 3)] as string;
      else target = pick();
      resources.push(entry(target, random));
    }
    const iso = new Date(t).toISOString();
    const round: HistoryRound = {
      // Some times written without milliseconds: the events keep them as written.
      at: random() < 0.1 ? iso.replace('.000Z', 'Z') : iso,
      latencyThresholdMs: random() < 0.9 ? 75 : 80,
      lossThresholdPct: 5,
      resources,
    };
    if (random() < 0.3) round.tunnel = TUNNELS[Math.floor(random() * TUNNELS.length)] ?? null;
    rounds.push(round);
  }
  return { rounds, pool };
}

/** A store held in memory, visited as openStoredHistory's would be (each round a fresh copy). */
function inMemory(rounds: readonly HistoryRound[]): Pick<StoredHistory, 'visit'> {
  return {
    visit(visit) {
      for (const round of rounds) visit(structuredClone(round));
      return { skipped: 0, paths: { lines: 0, written: new Map() } };
    },
  };
}

/** What the rounds held at once say (how writeReport drew it before). */
function heldAtOnce(rounds: readonly HistoryRound[], q: SeriesQuery) {
  const kept = filterRounds(rounds, q);
  return {
    series: buildSeries(kept),
    rounds: kept.length,
    resources: new Set(kept.flatMap((r) => r.resources.map((e) => e.target))).size,
  };
}

describe('report drawn while reading, against crafted stores', () => {
  it('charts what the rounds held at once chart (120 seeded stores × 4 queries: churn, ties, old names back, clock back, rounds twice)', () => {
    let cases = 0;
    let leftOut = 0;
    for (let seed = 1; seed <= 120; seed++) {
      // Prepare
      const { rounds, pool } = craftedStore(seed);
      const random = mulberry32(seed * 7919);
      const timeOf = (): number =>
        Date.parse((rounds[Math.floor(random() * rounds.length)] as HistoryRound).at);
      const name = (): string => pool[Math.floor(random() * pool.length)] as string;
      const queries: SeriesQuery[] = [
        { since: null, resource: null },
        // --since at a round's time (maybe one read twice, or one before a step back), and just after one.
        { since: new Date(timeOf()), resource: null },
        { since: null, resource: name() },
        { since: new Date(timeOf() + 1), resource: name() },
      ];
      for (const q of queries) {
        // Act
        const got = seriesFromStore(inMemory(rounds), q);
        // Assess
        const want = heldAtOnce(rounds, q);
        const label = `seed ${seed} (${NAMINGS[seed % NAMINGS.length]}), ${JSON.stringify(q)}`;
        assert.deepEqual(got.series, want.series, label);
        assert.equal(got.rounds, want.rounds, label);
        assert.equal(got.resources, want.resources, label);
        if ((want.series?.resourcesLeftOut ?? 0) > 0) leftOut++;
        cases++;
      }
    }
    // The stores did leave resources out (the candidate list was put to work).
    assert.equal(cases, 480);
    assert.ok(leftOut > 60, `${leftOut} cases left resources out`);
  });
});

/**
 * Pairs of names NameCount's hash counts once: a Joux multicollision on its
 * FNV-1a half (16 blocks of 5 characters, each block pair giving the same
 * 32-bit state), then a birthday match on the other 21 bits among the 2^16
 * names. Anyone can find such pairs in seconds; a hash of this kind is no
 * defence against a crafted store.
 */
const COLLIDING: readonly (readonly [string, string])[] = [
  [
    'h9GcayCahafAala3capaOCatafKaxaQ0CzaT2GCaaaiFagAaLafBHLaC2CSa-diVaS0G3atji6a6-H9a',
    'h9GcayCahafAala3capac2Csa.yivaQ0CzaxCaDaYCaHaC0GKa4caPaC2CSa-diVaS0G3atji6a6-H9a',
  ],
  [
    'h9GcaAaifaZ0Cka3capac2CsafKaxaQ0CzaxCaDaYCaHagAaLa4caPaoCaTaeFaXaS0G3atji6a6-H9a',
    'h9GcaAaifaZ0Cka3capac2CsafKaxaQ0CzaT2GCaYCaHagAaLafBHLaoCaTaeFaXawAa4atji6a6-H9a',
  ],
  [
    'THadaAaifaZ0CkaaBHlaOCatafKaxa5AaAaxCaDaYCaHaC0GKa4caPaC2CSa-diVaS0G3atji6a6-H9a',
    'THadaAaifafAalaaBHlaOCata.yiva5AaAaT2GCaYCaHaC0GKafBHLaC2CSaeFaXawAa4aLxa8a6-H9a',
  ],
];

const roundOf = (n: number, targets: readonly string[]): HistoryRound => {
  const random = mulberry32(n + 1);
  return {
    at: new Date(T0 + n * STEP).toISOString(),
    latencyThresholdMs: 75,
    lossThresholdPct: 5,
    resources: targets.map((t) => entry(t, random)),
  };
};

describe('resources left out, counted by hash', () => {
  it('the colliding pairs do collide in the count (the attack is real)', () => {
    for (const [a, b] of COLLIDING) {
      const count = new NameCount();
      count.add(a);
      assert.equal(count.add(b), false, `${a} / ${b}`);
    }
  });

  it('never says a negative number of resources were left out (two charted names that collide)', () => {
    // Prepare: two resources, both charted; their names collide in the count.
    const pair = COLLIDING[0] as readonly [string, string];
    const rounds = [0, 1, 2].map((n) => roundOf(n, pair));
    // Act
    const got = seriesFromStore(inMemory(rounds), { since: null, resource: null });
    // Assess
    assert.equal(got.series?.resources.length, 2);
    assert.equal(got.series?.resourcesLeftOut, 0);
    assert.equal(got.series === null ? null : resourcesLeftOutNote(got.series), null);
    assert.equal(got.resources, 2);
  });

  it('never hides that the agent’s own resource was left out (slipped-in rounds of 100 names, colliding pairs among them)', () => {
    // Prepare: the agent's rounds on db.corp.internal; then rounds another user slipped in naming 100 others
    // (charted: seen last), among them the colliding pairs, so that a count by hash is short by three.
    const own = roundOf(0, ['db.corp.internal', '10.20.0.5']);
    const names = [...COLLIDING.flat()];
    for (let i = names.length; i < REPORT_LIMITS.maxResources; i++) names.push(`slipped-${i}.example`);
    const rounds = [own, roundOf(1, names.slice(0, 50)), roundOf(2, names.slice(50))];
    for (const q of [
      { since: null, resource: null },
      { since: new Date(T0), resource: null },
    ]) {
      // Act
      const got = seriesFromStore(inMemory(rounds), q);
      // Assess: both of the agent's resources left out, and the note says so.
      const series = got.series;
      assert.ok(series !== null);
      assert.equal(series.resources.length, REPORT_LIMITS.maxResources);
      assert.ok(!series.resources.some((r) => r.target === 'db.corp.internal'));
      assert.ok(series.resourcesLeftOut >= 1, `left out: ${series.resourcesLeftOut}`);
      assert.match(resourcesLeftOutNote(series) ?? '', /^\d+ resource\(s\) left out/);
      // Names counted by hash may be counted short only among those left out: here exactly.
      assert.equal(series.resourcesLeftOut, 2);
      assert.equal(got.resources, REPORT_LIMITS.maxResources + 2);
    }
  });
});

describe('the second pass reads the bytes the first did', () => {
  let dir = '';
  let logs = '';
  let logDir: LogDir;
  const file = (name = HISTORY_FILE): string => path.join(logs, name);
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cc-report-passes-'));
    logs = path.join(dir, 'logs');
    logDir = prepareLogDir(logs);
  });
  afterEach(() => {
    logDir.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** 150 rounds: the first 60 rotated into .1 (and 30 of them into .2), 120 names churning. */
  function store(): void {
    const names = Array.from({ length: 120 }, (_, i) => `n${i}.corp`);
    for (let n = 0; n < 150; n++) {
      if (n === 30) fs.renameSync(file(), file(`${HISTORY_FILE}.2`));
      if (n === 60) fs.renameSync(file(), file(`${HISTORY_FILE}.1`));
      const targets = Array.from({ length: 20 }, (_, j) => names[(n * 7 + j) % names.length] as string);
      appendRound(logDir, roundOf(n, targets));
    }
  }

  /** The series with `change` made to the files between the first pass and the second. */
  function drawnWith(q: SeriesQuery, change: () => void) {
    const reading = openLogDirForReading(logs);
    const stored = openStoredHistory(reading);
    let passes = 0;
    try {
      return seriesFromStore(
        {
          visit(visit, o) {
            if (passes++ === 1) change();
            return stored.visit(visit, o);
          },
        },
        q,
      );
    } finally {
      stored.close();
      reading.close();
    }
  }

  function drawn(q: SeriesQuery) {
    return drawnWith(q, () => {});
  }

  const QUERIES: SeriesQuery[] = [
    { since: null, resource: null },
    { since: new Date(T0 + 100 * STEP), resource: null },
    { since: null, resource: 'n7.corp' },
  ];

  /** Changes another user or a concurrent round may make between the passes, each on a fresh store. */
  const CHANGES: [string, () => void][] = [
    ['a concurrent round appended', () => appendRound(logDir, roundOf(150, ['new.corp', 'n7.corp']))],
    [
      'a rotation (the oldest dropped) and a round in the new file',
      () => {
        fs.renameSync(file(`${HISTORY_FILE}.1`), file(`${HISTORY_FILE}.2`));
        fs.renameSync(file(), file(`${HISTORY_FILE}.1`));
        appendRound(logDir, roundOf(150, ['new.corp']));
      },
    ],
    [
      'every file removed',
      () => {
        for (const name of [HISTORY_FILE, `${HISTORY_FILE}.1`, `${HISTORY_FILE}.2`]) fs.rmSync(file(name));
      },
    ],
    [
      'the current file replaced by a link to another file of new rounds',
      () => {
        const other = path.join(logs, 'other.jsonl');
        fs.writeFileSync(
          other,
          `${JSON.stringify({ hv: 3, at: '2027-01-01T00:00:00.000Z', lt: 1, lp: 1, r: [['evil', 0, 1]] })}\n`,
        );
        fs.rmSync(file());
        fs.symlinkSync(other, file());
      },
    ],
    [
      'the current file replaced by a FIFO',
      () => {
        fs.rmSync(file());
        const made = spawnSync('mkfifo', [file()]);
        assert.equal(made.status, 0);
      },
    ],
    [
      'the current file replaced by another owner’s',
      () => {
        const text = fs.readFileSync(file());
        fs.rmSync(file());
        fs.writeFileSync(
          file(),
          Buffer.concat([
            text,
            Buffer.from(
              `${JSON.stringify({ hv: 3, at: '2027-01-01T00:00:00.000Z', lt: 1, lp: 1, r: [['evil', 0, 1]] })}\n`,
            ),
          ]),
        );
        fs.chownSync(file(), NOBODY, NOBODY);
      },
    ],
  ];

  it('draws the same series whatever is appended, rotated, removed or replaced between the passes', () => {
    for (const [label, change] of CHANGES) {
      for (const q of QUERIES) {
        // Prepare
        fs.rmSync(logs, { recursive: true, force: true });
        logDir.close();
        logDir = prepareLogDir(logs);
        store();
        const before = drawn(q);
        // Act
        const during = drawnWith(q, change);
        // Assess
        assert.deepEqual(during, before, `${label}, ${JSON.stringify(q)}`);
      }
    }
  });

  it('neither throws nor charts a resource the first pass did not see when the held file is cut or rewritten in place', () => {
    const cut = (keep: (size: number) => number) => () =>
      fs.truncateSync(file(), keep(fs.statSync(file()).size));
    const rewrite = (seed: number) => () => {
      // The file's owner writes other rounds over it: same size, other names, other times (back and forth).
      const random = mulberry32(seed);
      const size = fs.statSync(file()).size;
      const lines: string[] = [];
      let bytes = 0;
      for (let n = 0; bytes < size; n++) {
        const t = T0 + Math.floor(random() * 400) * STEP;
        const line = JSON.stringify({
          hv: 3,
          at: new Date(t).toISOString(),
          lt: 75,
          lp: 5,
          r: Array.from({ length: 1 + Math.floor(random() * 50) }, (_, j) => [`x${n}-${j}.evil`, 0, 1000]),
        });
        lines.push(line);
        bytes += line.length + 1;
      }
      const text = Buffer.from(`${lines.join('\n')}\n`).subarray(0, size);
      const fd = fs.openSync(file(), 'r+');
      fs.writeSync(fd, text, 0, text.length, 0);
      fs.closeSync(fd);
    };
    const changes: [string, () => void][] = [
      ['cut to nothing', cut(() => 0)],
      ['cut in half', cut((size) => Math.floor(size / 2))],
      ['cut by one byte', cut((size) => size - 1)],
      ...[1, 2, 3, 4, 5].map((seed): [string, () => void] => [
        `rewritten in place (seed ${seed})`,
        rewrite(seed),
      ]),
    ];
    for (const [label, change] of changes) {
      for (const q of QUERIES) {
        // Prepare
        fs.rmSync(logs, { recursive: true, force: true });
        logDir.close();
        logDir = prepareLogDir(logs);
        store();
        const reading = openLogDirForReading(logs);
        const seen = new Set(readHistory(reading).rounds.flatMap((r) => r.resources.map((e) => e.target)));
        reading.close();
        const before = drawn(q);
        // Act
        const during = drawnWith(q, change);
        // Assess: the rounds are the first pass's, the charted are resources it saw.
        const context = `${label}, ${JSON.stringify(q)}`;
        assert.equal(during.rounds, before.rounds, context);
        for (const r of during.series?.resources ?? [])
          assert.ok(seen.has(r.target), `${context}: ${r.target}`);
        for (const r of during.series?.resources ?? []) assert.ok(r.points.length > 0, context);
        assert.ok((during.series?.resourcesLeftOut ?? 0) >= 0, context);
      }
    }
  });

  it('has writeReport count the rounds and resources of such a store (the fixture the passes are tried on)', () => {
    store();
    const html = path.join(dir, 'report.html');
    const done = writeReport(
      { html, logDir: logs, since: null, resource: null },
      { hostname: 'h', now: new Date(T0) },
    );
    assert.equal(done.rounds, 150);
    assert.equal(done.resources, 120);
  });
});
