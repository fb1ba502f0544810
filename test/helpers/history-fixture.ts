/**
 * A realistic round history, as the agent writes it (history-store.ts's
 * appendRound into a real log directory, or the rounds themselves for the
 * pure renderer): rounds every `everyMinutes` up to `end`, three resources:
 * - `10.20.0.5`: steady (about 12 ms with a little spread), a path change
 *   two thirds of the way;
 * - `db.corp.internal` (10.20.0.9): a latency episode above the threshold in
 *   the middle, its rounds flagged `latency`;
 * - `https://wiki.corp.internal/` (10.20.0.7, tcp): loss episodes, some
 *   above the threshold and flagged, and unreachable while the tunnel was
 *   down (when `tunnel` is set, the rounds carry the tunnel state).
 * Deterministic: the same arguments give the same rounds.
 */
import { type LogDir, prepareLogDir } from '../../agent/files/log-dir.ts';
import {
  appendRound,
  type HistoryEntry,
  type HistoryRound,
  readRecentRounds,
} from '../../agent/history/history-store.ts';

export interface FixtureOptions {
  rounds: number;
  everyMinutes?: number;
  /** The last round's start; default 2026-11-30T12:00Z. */
  end?: Date;
  /** Rounds carry `tunnel` (down for a stretch, reconnecting before it comes back). */
  tunnel?: boolean;
  /** Extra resources with these names (hostile names for the escaping tests). */
  extraTargets?: string[];
}

export const FIXTURE_THRESHOLDS = { latencyMs: 75, lossPct: 5 } as const;

/** Small deterministic noise in [0, 1). */
function noise(i: number, salt: number): number {
  const x = Math.sin(i * 12.9898 + salt * 78.233) * 43758.5453;
  return x - Math.floor(x);
}

function entry(target: string, o: Partial<HistoryEntry>): HistoryEntry {
  return {
    target,
    address: target,
    method: 'icmp',
    verdict: 'ok',
    latencyMs: null,
    lowMs: null,
    highMs: null,
    stdevMs: null,
    lossPct: 0,
    hops: null,
    trouble: null,
    pathChanged: false,
    ...o,
  };
}

function measured(centre: number, spread: number, i: number, salt: number) {
  const ms = Math.round((centre + (noise(i, salt) - 0.5) * spread) * 1000) / 1000;
  const sd = Math.round(spread * (0.15 + 0.2 * noise(i, salt + 1)) * 1000) / 1000;
  return {
    latencyMs: ms,
    lowMs: Math.round(Math.max(0.01, ms - spread * (0.4 + noise(i, salt + 2) * 0.3)) * 1000) / 1000,
    highMs: Math.round((ms + spread * (0.5 + noise(i, salt + 3))) * 1000) / 1000,
    stdevMs: sd,
  };
}

export function fixtureRounds(o: FixtureOptions): HistoryRound[] {
  const every = (o.everyMinutes ?? 5) * 60_000;
  const end = (o.end ?? new Date('2026-11-30T12:00:00Z')).getTime();
  const rounds: HistoryRound[] = [];
  const n = o.rounds;
  const pathSwitch = Math.floor(n * 0.66);
  for (let i = 0; i < n; i++) {
    const f = i / n;
    const at = new Date(end - (n - 1 - i) * every).toISOString();
    const tunnelDown = o.tunnel === true && f >= 0.8 && f < 0.86;
    const reconnecting = o.tunnel === true && f >= 0.86 && f < 0.88;
    const steadyPath =
      i < pathSwitch
        ? ['10.199.100.1', '10.199.4.2', '10.20.0.5']
        : ['10.199.100.1', '10.199.9.9', '10.20.0.5'];
    const steady = entry('10.20.0.5', {
      ...measured(12, 3, i, 1),
      hops: steadyPath,
      pathChanged: i === pathSwitch,
    });
    const slow = f >= 0.4 && f < 0.5;
    const db = entry('db.corp.internal', {
      address: '10.20.0.9',
      ...measured(slow ? 95 : 38, slow ? 30 : 8, i, 2),
      hops: ['10.199.100.1', '10.199.4.2', '10.20.0.9'],
    });
    if ((db.latencyMs as number) > FIXTURE_THRESHOLDS.latencyMs) {
      db.verdict = 'latency';
      db.trouble = { kind: 'latency', hop: 2, side: 'tunnel' };
    }
    const lossy = (f >= 0.2 && f < 0.26) || (f >= 0.6 && f < 0.62);
    const wiki = entry('https://wiki.corp.internal/', {
      address: '10.20.0.7',
      method: 'tcp',
      ...(tunnelDown ? {} : measured(55, 14, i, 3)),
      lossPct: tunnelDown ? 100 : lossy ? Math.round(3 + noise(i, 4) * 17) : 0,
      hops: tunnelDown ? null : ['10.199.100.1', '10.199.4.2', '10.20.0.7'],
    });
    if (tunnelDown) wiki.verdict = 'unreachable';
    else if (wiki.lossPct > FIXTURE_THRESHOLDS.lossPct) {
      wiki.verdict = 'loss';
      wiki.trouble = { kind: 'loss', hop: 3, side: 'resource' };
    }
    const extra = (o.extraTargets ?? []).map((t, k) => entry(t, { ...measured(20 + k, 4, i, 10 + k) }));
    const round: HistoryRound = {
      at,
      latencyThresholdMs: FIXTURE_THRESHOLDS.latencyMs,
      lossThresholdPct: FIXTURE_THRESHOLDS.lossPct,
      resources: [steady, db, wiki, ...extra],
    };
    if (o.tunnel === true) round.tunnel = tunnelDown ? 'down' : reconnecting ? 'reconnecting' : 'up';
    rounds.push(round);
  }
  return rounds;
}

/** Writes the rounds into `dir` (created if missing) the way the agent's rounds append them. */
export function writeFixtureHistory(dir: string, o: FixtureOptions): HistoryRound[] {
  const rounds = fixtureRounds(o);
  const logDir: LogDir = prepareLogDir(dir);
  try {
    // As a round does: read what the history says, then append (paths it knows are left out).
    for (const round of rounds) appendRound(logDir, round, readRecentRounds(logDir).paths);
  } finally {
    logDir.close();
  }
  return rounds;
}
