/**
 * What `report --html` costs (peak RSS, CPU) on the largest histories the
 * log directory can hold, before and after a change, side by side in one
 * run: "before" is the agent built from another checkout (`--before DIR`,
 * default: main's HEAD exported from git), "after" is dist/agent.js.
 *
 *   node --import tsx bench/report-cost.ts [--before DIR] [--runs N]
 *
 * Stores (written once, the same for both agents), each spread over the
 * current file and the two rotated copies as rotation leaves them:
 * - full: what the agent writes near the rotation limit, 50 resources on
 *   10-hop paths every 5 minutes, every field set (encodeRound with the
 *   writer's path memory);
 * - crafted: about 25 MB of minimal entries, 50 a line, every one a new
 *   target writing its (empty) path: what a non-root user who can write the
 *   log directory can make the root agent read;
 * - targets: 200,000 targets, each in one round, entries as the agent
 *   writes them.
 * Peak RSS and CPU (user + system) from GNU time, median of the runs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import {
  decodeRound,
  encodeRound,
  HISTORY_FILE,
  HISTORY_LIMITS,
  type HistoryEntry,
  type HistoryRound,
  newPathMemory,
} from '../agent/history/history-store.ts';
import { agentBuildOptions } from '../scripts/agent-build-options.ts';
import { AGENT_BUNDLE } from './agent-run.ts';
import { fixed, printTable } from './table.ts';

const ROOT = path.resolve(__dirname, '..');
const GNU_TIME = '/usr/bin/time';
const START = Date.parse('2026-01-01T00:00:00Z');
const FILES = [`${HISTORY_FILE}.2`, `${HISTORY_FILE}.1`, HISTORY_FILE];

function entry(target: string, k: number, i: number, hops: string[] | null): HistoryEntry {
  const ms = 10 + ((k * 7 + i * 13) % 50) + 0.125;
  return {
    target,
    address: target,
    method: 'icmp',
    verdict: ms > 55 ? 'latency' : 'ok',
    latencyMs: ms,
    lowMs: ms - 1.5,
    highMs: ms + 4.25,
    stdevMs: 0.75,
    lossPct: (k + i) % 97 === 0 ? 20 : 0,
    hops,
    trouble: ms > 55 ? { kind: 'latency', hop: 3, side: 'tunnel' } : null,
    pathChanged: false,
  };
}

const pathTo = (target: string, i: number): string[] => [
  '10.199.100.1',
  '10.199.4.2',
  '172.16.0.1',
  `172.16.${i % 8}.2`,
  `172.17.${i}.3`,
  `172.18.${i}.4`,
  `172.19.${i}.5`,
  `172.20.${i}.6`,
  `172.21.${i}.7`,
  target,
];

/**
 * Writes lines made by `line(k)` (k from 0) into the three files, each
 * filled to `perFile` bytes, oldest file first, and returns the lines written.
 */
function fill(dir: string, perFile: number, line: (k: number) => string): number {
  fs.mkdirSync(dir, { recursive: true });
  let k = 0;
  for (const name of FILES) {
    const parts: string[] = [];
    let bytes = 0;
    while (bytes < perFile) {
      const text = `${line(k++)}\n`;
      parts.push(text);
      bytes += text.length;
    }
    fs.writeFileSync(path.join(dir, name), parts.join(''));
  }
  return k;
}

const round = (k: number, resources: HistoryEntry[]): HistoryRound => ({
  at: new Date(START + k * 300_000).toISOString(),
  latencyThresholdMs: 75,
  lossThresholdPct: 5,
  resources,
  tunnel: 'up',
});

/** The full store: the writer's lines, paths left out as it leaves them out (a file starts with every path). */
export function writeFullStore(dir: string, perFile = HISTORY_LIMITS.fileBytes - 64 * 1024): number {
  const targets = Array.from({ length: 50 }, (_, i) => `10.20.${i}.5`);
  let memory = newPathMemory();
  let file = 0;
  let bytes = 0;
  return fill(dir, perFile, (k) => {
    const line = encodeRound(
      round(
        k,
        targets.map((t, i) => entry(t, k, i, pathTo(t, i))),
      ),
      memory,
    );
    decodeRound(line, memory);
    bytes += line.length + 1;
    if (bytes >= perFile * (file + 1)) {
      // The next file starts afresh, as after a rotation.
      file++;
      memory = newPathMemory();
    }
    return line;
  });
}

/** The crafted store: minimal entries, 50 new targets a line. */
export function writeCraftedStore(dir: string, perFile = Math.floor(25e6 / 3)): number {
  return fill(dir, perFile, (k) => {
    const r = Array.from(
      { length: 50 },
      (_, i) => `["${(k * 50 + i).toString(36)}",0,null,null,null,null,0,null]`,
    );
    return `{"hv":3,"at":"${new Date(START + k * 1000).toISOString()}","lt":75,"lp":5,"r":[${r.join(',')}]}`;
  });
}

/** 200,000 targets (`targets`), 50 a round, each in one round, written as the agent writes them. */
export function writeTargetsStore(dir: string, targets = 200_000): number {
  const lines: string[] = [];
  for (let k = 0; k < targets / 50; k++) {
    const resources = Array.from({ length: 50 }, (_, i) => {
      const t = `host-${k * 50 + i}.corp.internal`;
      return entry(t, k, i, pathTo(`10.${k % 250}.${i}.9`, i));
    });
    lines.push(encodeRound(round(k, resources)));
  }
  fs.mkdirSync(dir, { recursive: true });
  const third = Math.ceil(lines.length / 3);
  FILES.forEach((name, f) => {
    fs.writeFileSync(path.join(dir, name), `${lines.slice(f * third, (f + 1) * third).join('\n')}\n`);
  });
  return lines.length;
}

interface Measure {
  rssMb: number;
  cpuSec: number;
}

/** One `report --html` under GNU time. Throws when the agent fails. */
function measure(bundle: string, logDir: string, out: string): Measure {
  const run = spawnSync(
    GNU_TIME,
    ['-f', '%M %U %S', process.execPath, bundle, 'report', '--html', out, '--log-dir', logDir],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  const last = run.stderr.trim().split('\n').at(-1) ?? '';
  const m = /^(\d+) ([\d.]+) ([\d.]+)$/.exec(last);
  if (run.status !== 0 || m === null)
    throw new Error(`report failed (${run.status}): ${run.stderr.slice(-2000)}`);
  return { rssMb: Number(m[1]) / 1024, cpuSec: Number(m[2]) + Number(m[3]) };
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Exports `ref` of this repository into a temp dir (with this checkout's node_modules linked) and returns it. */
function exportRef(ref: string, into: string): string {
  const out = path.join(into, 'before-src');
  fs.mkdirSync(out);
  const tar = spawnSync('sh', ['-c', 'git archive "$1" | tar -x -C "$2"', 'sh', ref, out], { cwd: ROOT });
  if (tar.status !== 0) throw new Error(`git archive ${ref} failed: ${tar.stderr}`);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  return out;
}

export async function runReportBench(o: { before?: string; runs: number }): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-bench-report-'));
  try {
    const source = o.before ?? exportRef('main', scratch);
    const before = path.join(scratch, 'agent-before.js');
    const pkg = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8')) as { version: string };
    await build(
      agentBuildOptions({
        entryPoint: path.join(source, 'agent', 'main.ts'),
        outfile: before,
        version: `${pkg.version}-before`,
        full: true,
      }),
    );
    const stores: [string, string, (dir: string) => number][] = [
      ['full store near rotation (50 resources)', 'full', (d) => writeFullStore(d)],
      ['crafted 25 MB, minimal entries', 'crafted', (d) => writeCraftedStore(d)],
      ['200,000 targets', 'targets', (d) => writeTargetsStore(d)],
    ];
    const rows: string[][] = [];
    for (const [title, name, write] of stores) {
      const dir = path.join(scratch, name);
      const lines = write(dir);
      const mb = FILES.reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0) / 1e6;
      const runs: Record<'before' | 'after', Measure[]> = { before: [], after: [] };
      for (let i = 0; i < o.runs; i++) {
        // Alternate, so that a busy neighbour weighs on both.
        for (const variant of i % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
          const bundle = variant === 'before' ? before : AGENT_BUNDLE;
          runs[variant].push(measure(bundle, dir, path.join(scratch, `${name}-${variant}.html`)));
        }
      }
      const fig = (v: 'before' | 'after', pick: (m: Measure) => number) => median(runs[v].map(pick));
      rows.push([
        `${title}: ${fixed(mb, 1)} MB, ${lines} lines`,
        fixed(
          fig('before', (m) => m.rssMb),
          0,
        ),
        fixed(
          fig('after', (m) => m.rssMb),
          0,
        ),
        fixed(
          fig('before', (m) => m.cpuSec),
          2,
        ),
        fixed(
          fig('after', (m) => m.cpuSec),
          2,
        ),
      ]);
    }
    printTable({
      title: `report --html: peak RSS and CPU, median of ${o.runs} run(s) each`,
      headers: ['history', 'RSS before (MB)', 'RSS after (MB)', 'CPU before (s)', 'CPU after (s)'],
      rows,
      notes: [
        `"before": the agent built from ${o.before ?? "main's HEAD (git archive)"}; "after": dist/agent.js. GNU time's`,
        'maximum resident set size and user + system CPU of the whole process; runs alternate.',
      ],
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const { values } = parseArgs({
    options: { before: { type: 'string' }, runs: { type: 'string', default: '3' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 25) {
    console.error(`--runs ${values.runs}: a whole number from 1 to 25`);
    process.exit(2);
  }
  runReportBench({
    runs,
    ...(values.before === undefined ? {} : { before: path.resolve(values.before) }),
  }).catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exitCode = 1;
  });
}
