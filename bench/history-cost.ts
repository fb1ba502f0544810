/**
 * What the round history costs per round (issue 10: "the extra cost per round
 * (CPU, RSS, bytes of state, bytes of result document) against today's
 * numbers: goal under 10 % more"), measured side by side in one lab run.
 *
 * "Without" is the same source built with the history modules replaced by
 * stand-ins that read nothing, write nothing and add nothing to the document
 * (today's agent, less the history's code), so the comparison holds whatever
 * else the agent gains later; "with" is dist/agent.js. Both run the same
 * resources in alternate rounds, each in its own log directory; "with" starts
 * from a history already near its rotation size and past the baseline's first
 * rounds, so every round reads a full window (the steady state on a host).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { ROTATION_DEFAULTS } from '../agent/cli/resolve-options.ts';
import { prepareLogDir } from '../agent/files/log-dir.ts';
import {
  BAND_DEFAULTS,
  BAND_WRITTEN,
  decodeRound,
  encodeRound,
  HISTORY_FILE,
  HISTORY_LIMITS,
  HISTORY_TUNNEL_STATES,
  type HistoryRound,
  newPathMemory,
  PATH_REFRESH_LINES,
  type PathMemory,
  RECENT_ROUNDS,
  readHistory,
} from '../agent/history/history-store.ts';
import type { ResultDocument } from '../common/result-schema.ts';
import { agentBuildOptions } from '../scripts/agent-build-options.ts';
import { AGENT_BUNDLE, type AgentRun, runAgent } from './agent-run.ts';
import { closeLab, openLab } from './lab-bench.ts';
import { fixed, passFail, printTable } from './table.ts';

export interface HistoryBenchConfig {
  resources: number;
  /** Measured rounds per variant. */
  rounds: number;
  count: number;
  intervalSec: number;
}

export const HISTORY_FULL: HistoryBenchConfig = { resources: 50, rounds: 6, count: 10, intervalSec: 0.2 };
export const HISTORY_QUICK: HistoryBenchConfig = { resources: 50, rounds: 3, count: 5, intervalSec: 0.2 };

const ROOT = path.resolve(__dirname, '..');
const GOAL = 0.1;

/** The history modules' stand-ins: the agent as it was before them. */
const STAND_INS: Record<string, string> = {
  'history-store.ts': `
    export const HISTORY_FILE = ${JSON.stringify(HISTORY_FILE)};
    export const HISTORY_TUNNEL_STATES = ${JSON.stringify(HISTORY_TUNNEL_STATES)};
    export function readRecentRounds() { return { past: new Map(), rounds: 0, skipped: 0, truncated: false, notes: [], paths: { lines: 0, written: new Map() } }; }
    export function appendRound() {}
    export function readHistory() { return { rounds: [], skipped: 0, truncated: false, notes: [], paths: { lines: 0, written: new Map() } }; }
    export function openStoredHistory() { return { truncated: false, notes: [], visit() { return { skipped: 0, paths: { lines: 0, written: new Map() } }; }, close() {} }; }
    export function filterRounds(rounds) { return rounds; }`,
  'round-history.ts': `
    export function bandOfPath() { return null; }
    export function bandOfSamples() { return null; }
    export function applyHistory(probed) { return { resources: probed.map((p) => p.result), entries: [] }; }`,
};

/**
 * Builds the agent of `root` (default: this checkout; the stand-alone build unless `full` is false) with the options of every agent build (scripts/agent-build-options.ts), with the history modules
 * stood in for; its version ends in `-no-history`. Throws esbuild's error when
 * the agent imports something from them that the stand-ins lack.
 */
export async function buildWithoutHistory(outfile: string, root = ROOT, full = true): Promise<void> {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  await build({
    ...agentBuildOptions({
      entryPoint: path.join(root, 'agent', 'main.ts'),
      outfile,
      version: `${pkg.version}-no-history`,
      full,
    }),
    plugins: [
      {
        name: 'history-stand-ins',
        setup(b) {
          b.onLoad({ filter: /agent[\\/]history[\\/](history-store|round-history)\.ts$/ }, (args) => ({
            contents: STAND_INS[path.basename(args.path)] ?? '',
            loader: 'ts',
          }));
        },
      },
    ],
  });
}

/**
 * PATH_REFRESH_LINES lines of `round` as the agent writes them from the start
 * of a file: every path on the first, then lines that leave the unchanged
 * paths out (the memory brought up to each line as the round's reader does).
 * Repeated, it is the history of a host whose paths do not change.
 */
export function linesAsWritten(round: HistoryRound): string {
  const memory: PathMemory = newPathMemory();
  let lines = '';
  for (let i = 0; i < PATH_REFRESH_LINES; i++) {
    const line = encodeRound(round, memory);
    decodeRound(line, memory);
    lines += `${line}\n`;
  }
  return lines;
}

const mib = (bytes: number): number => bytes / 1024 / 1024;

/** Bytes of every file in the log directory. */
function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
}

/** The document without what the history adds: the fields, and the history file's entry. */
function withoutHistory(doc: ResultDocument): ResultDocument {
  return {
    ...doc,
    resources: doc.resources.map(({ pathChange: _p, baseline: _b, ...rest }) => rest),
    files: doc.files.filter((f) => f.kind !== 'history'),
  };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

const peakRssMb = (run: AgentRun): number | null =>
  run.footprint === null ? null : run.footprint.agentPeakRssKb / 1024;

interface Sample {
  run: AgentRun;
  /** Bytes the round added to its log directory. */
  stateBytes: number;
}

/** The last `count` lines of `file` (its history's newest rounds). */
function lastLines(file: string, count: number): string[] {
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-count);
}

/**
 * Bytes of a format-4 history line that are the path and baseline rules'
 * state (issue 10) rather than the report's history (issue 11: per round and
 * resource the band, loss, verdict and trouble spot): the hop address list
 * `ad`, the hop column `h`, each band entry's path-change flag, and the
 * tunnel state `tn`. The line is written again without them, trailing
 * defaults left out as the writer leaves them out (history-store.ts), and the
 * difference is returned.
 */
export function ruleStateBytes(line: string): number {
  const wire = JSON.parse(line) as { hv: number; ad?: unknown; h?: unknown; tn?: unknown; b: string };
  if (wire.hv !== 4) throw new Error(`history line format ${wire.hv}: this bench reads format 4`);
  const { ad: _ad, h: _h, tn: _tn, ...rest } = wire;
  const band = (JSON.parse(wire.b) as unknown[][]).map((entry) => {
    const e = entry.map((value, i) => (i === BAND_WRITTEN ? 0 : value));
    while (e.length > BAND_WRITTEN && e[e.length - 1] === BAND_DEFAULTS[e.length - 1]) e.pop();
    return e;
  });
  return Buffer.byteLength(line) - Buffer.byteLength(JSON.stringify({ ...rest, b: JSON.stringify(band) }));
}

export async function runHistoryBench(config: HistoryBenchConfig): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-bench-history-'));
  const lab = await openLab(config.resources);
  try {
    const bare = path.join(scratch, 'agent-no-history.js');
    await buildWithoutHistory(bare);
    const logDirs = { without: path.join(scratch, 'without'), with: path.join(scratch, 'with') };
    for (const dir of Object.values(logDirs)) fs.mkdirSync(dir);
    const flags = {
      '--count': String(config.count),
      '--interval': String(config.intervalSec),
      '--gateway-ip': lab.addr.gwUnderlay,
    };
    const round = (variant: 'without' | 'with', measure: boolean) =>
      runAgent(lab, lab.addr.resources, {
        logDir: logDirs[variant],
        flags,
        measure,
        bundle: variant === 'with' ? AGENT_BUNDLE : bare,
        timeoutMs: 600_000,
      });

    // A history in its steady state: past the baseline's first rounds, the file near its rotation size.
    for (let i = 0; i < 12; i++) await round('with', false);
    const logDir = prepareLogDir(logDirs.with);
    try {
      const last = readHistory(logDir).rounds.at(-1);
      if (last !== undefined) {
        const cycle = linesAsWritten(last);
        const copies = Math.floor((HISTORY_LIMITS.fileBytes * 0.9) / cycle.length);
        const file = path.join(logDirs.with, HISTORY_FILE);
        const recent = fs.readFileSync(file, 'utf8');
        fs.writeFileSync(file, cycle.repeat(copies) + recent);
      }
    } finally {
      logDir.close();
    }
    await round('without', false);

    const samples: Record<'without' | 'with', Sample[]> = { without: [], with: [] };
    for (let i = 0; i < config.rounds; i++) {
      for (const variant of i % 2 === 0 ? (['without', 'with'] as const) : (['with', 'without'] as const)) {
        const before = dirBytes(logDirs[variant]);
        const run = await round(variant, true);
        samples[variant].push({ run, stateBytes: dirBytes(logDirs[variant]) - before });
      }
    }

    const figure = (variant: 'without' | 'with', pick: (s: Sample) => number | null | undefined) =>
      median(samples[variant].map(pick).filter((v): v is number => typeof v === 'number'));
    const docs = samples.with.map((s) => s.run.doc);
    // Averaged over a whole path refresh cycle: one line in PATH_REFRESH_LINES writes every path again.
    const cycle = lastLines(path.join(logDirs.with, HISTORY_FILE), PATH_REFRESH_LINES);
    const ruleState = cycle.reduce((sum, line) => sum + ruleStateBytes(line), 0) / cycle.length;
    const printed = (doc: ResultDocument) => JSON.stringify(doc).length;
    // name, without, with, goal (relative), digits shown
    const rows: [string, number, number, number | null, number][] = [
      [
        'agent CPU per round (s)',
        figure('without', (s) => s.run.footprint?.agentCpuSec),
        figure('with', (s) => s.run.footprint?.agentCpuSec),
        GOAL,
        3,
      ],
      [
        'agent peak RSS (MB)',
        figure('without', (s) => peakRssMb(s.run)),
        figure('with', (s) => peakRssMb(s.run)),
        GOAL,
        1,
      ],
      [
        'agent + mtr CPU per round (s)',
        figure('without', (s) => s.run.footprint?.totalCpuSec),
        figure('with', (s) => s.run.footprint?.totalCpuSec),
        GOAL,
        3,
      ],
      [
        "bytes of the rules' state per round (issue 10)",
        // "without": the old files' line and the history line the report needs (issue 11), less the rules' state
        figure('with', (s) => s.stateBytes) - ruleState,
        figure('with', (s) => s.stateBytes),
        GOAL,
        0,
      ],
      [
        'bytes written to the log dir per round, all',
        figure('without', (s) => s.stateBytes),
        figure('with', (s) => s.stateBytes),
        null,
        0,
      ],
      [
        'result document, as printed (chars)',
        // run-round lists the history file even when the stand-in writes none: today's document would not
        figure('without', (s) => printed(withoutHistory(s.run.doc))),
        figure('with', (s) => printed(s.run.doc)),
        GOAL,
        0,
      ],
      [
        'hop lists dropped to fit 24,000 chars',
        figure('without', (s) => s.run.doc.truncated?.hopsDroppedFor.length ?? 0),
        figure('with', (s) => s.run.doc.truncated?.hopsDroppedFor.length ?? 0),
        null,
        0,
      ],
    ];
    const added = median(docs.map((doc) => printed(doc) - printed(withoutHistory(doc))));
    const historyFiles = fs.readdirSync(logDirs.with).filter((name) => name.startsWith(HISTORY_FILE));
    printTable({
      title: `Round history: cost per round, ${config.resources} resources (count ${config.count}, interval ${config.intervalSec} s), median of ${config.rounds} rounds each`,
      headers: ['figure', 'without history', 'with history', 'more', 'goal', 'result'],
      rows: rows.map(([name, without, withHistory, goal, digits]) => {
        const more = without > 0 ? (withHistory - without) / without : null;
        return [
          name,
          fixed(without, digits),
          fixed(withHistory, digits),
          more === null ? 'n/a' : `${more >= 0 ? '+' : ''}${(more * 100).toFixed(1)} %`,
          goal === null ? '-' : `≤ +${goal * 100} %`,
          goal === null || more === null ? '-' : passFail(more <= goal),
        ];
      }),
      notes: [
        '"without": this source built with agent/history/history-store.ts and round-history.ts replaced by stand-ins that',
        'read, write and add nothing (the agent before the history); "with": dist/agent.js. Alternate rounds, same lab.',
        `"with" runs against a history near its rotation size: a round reads back the last ${RECENT_ROUNDS} lines only, from`,
        `${HISTORY_LIMITS.firstReadBytes / 1024} KiB at the end, the read doubled until they are in (at most ${mib(HISTORY_LIMITS.tailBytes)} MiB), whatever the size.`,
        `What the history adds to this round's document: ${fixed(added, 0)} chars (pathChange and baseline on every resource,`,
        `and the history file's entry), before the fit; both documents are then fitted under 24,000 characters,`,
        'which drops hop lists of unflagged resources first (their count is above).',
        "Bytes per round. The rules' state (issue 10's goal): the bytes of the history lines that only the path and",
        `baseline rules need (the hop address list, each hop list, the path-change flag, the tunnel state; the mean over the last ${PATH_REFRESH_LINES} lines), against what the`,
        "round writes without them: the old files' report line and the history line the HTML report draws (issue 11: per",
        'resource latency, band, loss, verdict and trouble spot). The baselines are recomputed from those latencies, so they',
        `take no bytes; a path is written when it changes or every ${PATH_REFRESH_LINES} lines. "All": today's agent writes the report line`,
        'alone on a clean round (no MTR file); the history line (format 4, by column, round trips in whole microseconds)',
        'is the per-round record issue 11 asks the agent to keep, so that row has no goal here.',
        `History files after the run: ${historyFiles.map((name) => `${name} ${(fs.statSync(path.join(logDirs.with, name)).size / 1e6).toFixed(1)} MB`).join(', ')}.`,
        `State at rest, bounded: the history at most ${mib((HISTORY_LIMITS.keep + 1) * HISTORY_LIMITS.fileBytes)} MiB (rotated past ${mib(HISTORY_LIMITS.fileBytes)} MiB,`,
        `${HISTORY_LIMITS.keep} copies kept) beside the report's ${mib((ROTATION_DEFAULTS.keepReports + 1) * ROTATION_DEFAULTS.maxReportBytes)} MiB (${ROTATION_DEFAULTS.keepReports} copies of ${mib(ROTATION_DEFAULTS.maxReportBytes)} MiB) and ${ROTATION_DEFAULTS.maxMtrFiles} MTR files.`,
      ],
    });
  } finally {
    await closeLab(lab);
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
