/**
 * What the round history costs in CPU per round, as instructions (issue 10:
 * "the extra cost per round (CPU, ...) against today's numbers: goal under
 * 10 % more"). Instruction counts from valgrind's callgrind, not CPU seconds:
 * on a shared 2-core machine seconds move with the neighbours, instructions
 * barely do, so a few percent can be told apart.
 *
 * The two agents of bench/history-cost.ts ("with": the agent as built;
 * "without": the same source with the history modules stood in for) run one
 * `check` round each on the same log directory, copied fresh for every run,
 * under Node 20 (this process's node) and Node 12.22 (the binary the tests
 * use, Ubuntu 22.04's stock nodejs, which fleet hosts run). No network: a
 * stand-in `mtr` first on PATH prints a fixed mtr 0.95 report for each of the
 * loopback addresses the round names (RESOURCES of them, 10-hop paths that
 * share their first hops, one silent hop each), and the gateway is given.
 *
 * The log directory holds a history near its rotation size, as the agent
 * writes it: the first PATH_REFRESH_LINES lines the agent wrote (a line with
 * every path, then lines that leave unchanged paths out) repeated, then every
 * line of the preparation rounds. Built from the agent's own lines, the
 * history is in whatever line format that agent writes, so an older source
 * (`--source`) is measured the same way.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { HISTORY_FILE, HISTORY_LIMITS, PATH_REFRESH_LINES } from '../agent/history/history-store.ts';
import { parseResultDocument } from '../common/result-schema.ts';
import { agentBuildOptions } from '../scripts/agent-build-options.ts';
import { buildWithoutHistory } from './history-cost.ts';
import { fixed, passFail, printTable } from './table.ts';

const ROOT = path.resolve(__dirname, '..');
/** The Node 12.22 binary the tests use (test/helpers/run-agent.ts NODE12). */
export const NODE12 = path.join(ROOT, 'test', 'node12', 'node_modules', '.bin', 'node');
const GOAL = 0.1;
const RESOURCES = 50;
/** Rounds the agent runs to make the history's newest lines; the padding repeats its first PATH_REFRESH_LINES. */
const PREPARATION_ROUNDS = PATH_REFRESH_LINES + 4;
const GATEWAY = '127.0.0.100';

export interface HistoryCpuConfig {
  /** Runs per agent and Node; the table shows medians. */
  runs: number;
  /** Checkout whose agent is measured (default: this one); its history modules are stood in for in "without". */
  source?: string;
  /** Keep each run's callgrind output here (for callgrind_annotate) instead of discarding it. */
  profileDir?: string | null;
  /** Node binaries, default this process's node and NODE12. */
  nodes?: string[];
}

const targets = Array.from({ length: RESOURCES }, (_, i) => `127.0.0.${i + 1}`);

/**
 * An mtr 0.95 `--json -o LSNABWVM` report to `target`: two tunnel hops, a
 * shared router, a silent hop, routers of the target's own, the target.
 */
function mtrReport(target: string, k: number): string {
  const hosts = [
    '100.96.0.1',
    '10.199.100.1',
    `10.20.${k % 4}.1`,
    '???',
    `10.${30 + k}.0.1`,
    `10.${30 + k}.1.1`,
    `10.${30 + k}.2.1`,
    `10.${30 + k}.3.1`,
    `10.${30 + k}.4.1`,
    target,
  ];
  // Milliseconds with 3 decimals, as mtr prints them.
  const ms = (value: number): number => Math.round(value * 1000) / 1000;
  const hubs = hosts.map((host, i) => {
    const silent = host === '???';
    const avg = silent ? 0 : ms(2 + i * 1.5 + k / 10);
    return {
      count: i + 1,
      host,
      'Loss%': silent ? 100 : 0,
      Snt: 3,
      Last: avg,
      Avg: avg,
      Best: silent ? 0 : ms(avg - 0.5),
      Wrst: silent ? 0 : ms(avg + 0.7),
      StDev: silent ? 0 : 0.3,
      Javg: silent ? 0 : 0.2,
    };
  });
  const mtr = { src: 'bench', dst: target, tos: 0, tests: 3, psize: '64', bitpattern: '0x00' };
  return JSON.stringify({ report: { mtr, hubs } }, null, 4);
}

/** A `bin` directory with the stand-in mtr, which prints the report it was written for its last argument. */
export function standInMtr(dir: string): string {
  const reports = path.join(dir, 'mtr-reports');
  fs.mkdirSync(reports);
  [...targets, GATEWAY].forEach((target, k) => {
    fs.writeFileSync(path.join(reports, `${target}.json`), mtrReport(target, k));
  });
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(
    path.join(bin, 'mtr'),
    `#!/bin/sh
if [ "$1" = "--version" ]; then echo "mtr 0.95"; exit 0; fi
eval "last=\\\${$#}"
file='${reports}'/"$last.json"
if [ ! -f "$file" ]; then echo "stand-in mtr: no report for $last" >&2; exit 1; fi
exec cat "$file"
`,
    { mode: 0o755 },
  );
  return bin;
}

/** The agent's environment: PATH with the stand-in first, nothing else (NODE_EXTRA_CA_CERTS would cost more than a round). */
export const agentEnv = (bin: string): Record<string, string> => ({
  PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  LANG: 'C.UTF-8',
});

export const checkArgs = (logDir: string): string[] => [
  'check',
  '--json',
  '--resources',
  targets.join(','),
  '--gateway-ip',
  GATEWAY,
  '--log-dir',
  logDir,
  '--count',
  '3',
  '--interval',
  '0.2',
];

function nodeMajor(node: string): number {
  const out = spawnSync(node, ['--version'], { encoding: 'utf8' });
  const major = /^v(\d+)\./.exec(out.stdout ?? '')?.[1];
  if (out.status !== 0 || major === undefined) throw new Error(`${node} --version failed: ${out.stderr}`);
  return Number(major);
}

/**
 * V8 flags that make a run's count repeatable. V8 since about Node 18 derives
 * its string hash secrets from a random seed at start-up, by a prime search
 * whose length varies from run to run (7 to 15 M instructions), and rehashes
 * its snapshot for that seed; --no-rehash-snapshot keeps the snapshot's seed
 * and skips both. Node 12 has no search (its start-up count varies by < 0.1 %)
 * and would rehash its whole snapshot with a fixed --hash-seed, so it gets none.
 */
const stableFlags = (major: number): string[] => (major > 12 ? ['--no-rehash-snapshot'] : []);

function runAgentOnce(node: string, bundle: string, logDir: string, bin: string): string {
  const run = spawnSync(node, [bundle, ...checkArgs(logDir)], {
    encoding: 'utf8',
    env: agentEnv(bin),
    timeout: 120_000,
  });
  if (run.status !== 0) throw new Error(`${bundle} check exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}

/** The log directory the runs start from: PREPARATION_ROUNDS real rounds over a padding of the agent's own lines. */
export function prepareLogDir(dir: string, bundle: string, bin: string): { bytes: number; lines: number } {
  for (let i = 0; i < PREPARATION_ROUNDS; i++) runAgentOnce(process.execPath, bundle, dir, bin);
  const file = path.join(dir, HISTORY_FILE);
  const written = fs.readFileSync(file, 'utf8');
  const lines = written.split('\n').filter((line) => line !== '');
  // The first line of a file names every path; the PATH_REFRESH_LINES after it are one cycle of the writer.
  const cycle = `${lines.slice(0, PATH_REFRESH_LINES).join('\n')}\n`;
  // Below the bound by a margin, so that no measured round rotates the file.
  const room = HISTORY_LIMITS.fileBytes - 64 * 1024 - written.length;
  const copies = Math.max(0, Math.floor(room / cycle.length));
  fs.writeFileSync(file, cycle.repeat(copies) + written);
  return { bytes: fs.statSync(file).size, lines: copies * PATH_REFRESH_LINES + lines.length };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
};

/** Instructions of one `check` round under callgrind (the agent process, its threads, not its children). */
function countInstructions(o: {
  node: string;
  major: number;
  bundle: string;
  prepared: string;
  scratch: string;
  bin: string;
  profile: string | null;
  expectHistory: boolean;
}): number {
  const logDir = path.join(o.scratch, 'run');
  fs.rmSync(logDir, { recursive: true, force: true });
  fs.cpSync(o.prepared, logDir, { recursive: true });
  try {
    const run = spawnSync(
      'valgrind',
      [
        '--tool=callgrind',
        // The agent forks to spawn mtr: each child would report the parent's count up to its fork.
        '--child-silent-after-fork=yes',
        `--callgrind-out-file=${o.profile ?? path.join(o.scratch, 'callgrind.%p')}`,
        o.node,
        ...stableFlags(o.major),
        o.bundle,
        ...checkArgs(logDir),
      ],
      { encoding: 'utf8', env: agentEnv(o.bin), timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
    );
    if (run.status !== 0)
      throw new Error(`valgrind ${o.node} ${o.bundle} exited ${run.status}: ${run.stderr}`);
    const doc = parseResultDocument(run.stdout);
    const baselines = doc.resources.filter((r) => r.baseline != null).length;
    if (o.expectHistory !== baselines > 0) {
      throw new Error(
        `${o.bundle}: ${baselines} resources with a baseline, expected ${o.expectHistory ? 'all' : 'none'}`,
      );
    }
    // The agent's own pid is the one valgrind names first.
    const pid = /^==(\d+)==/m.exec(run.stderr)?.[1];
    const collected = new RegExp(`^==${pid}== Collected : (\\d+)`, 'm').exec(run.stderr)?.[1];
    if (collected === undefined) throw new Error(`no instruction count in callgrind's output: ${run.stderr}`);
    return Number(collected);
  } finally {
    fs.rmSync(logDir, { recursive: true, force: true });
    for (const name of fs.readdirSync(o.scratch)) {
      if (name.startsWith('callgrind.')) fs.rmSync(path.join(o.scratch, name), { force: true });
    }
  }
}

/** Whether valgrind runs here; the reason when not. */
export function valgrindMissing(): string | null {
  const probe = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return `valgrind not found (${probe.error?.message ?? probe.stderr}): install it (apt-get install valgrind)`;
  }
  return null;
}

/** Runs the bench and prints its table; true when every Node is within the goal. */
export async function runHistoryCpuBench(config: HistoryCpuConfig): Promise<boolean> {
  const missing = valgrindMissing();
  if (missing !== null) throw new Error(missing);
  const source = path.resolve(config.source ?? ROOT);
  const nodes = config.nodes ?? [process.execPath, NODE12];
  for (const node of nodes) if (!fs.existsSync(node)) throw new Error(`no Node binary at ${node}`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-bench-history-cpu-'));
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(source, 'package.json'), 'utf8')) as { version: string };
    // Both builds a host runs: the stand-alone agent carries the report (whose reading code is in the history
    // modules, so its parse counts here), the fleet agent the SSM document embeds does not.
    const kinds = [
      { name: 'stand-alone', full: true },
      { name: 'fleet', full: false },
    ] as const;
    const built: Record<string, { without: string; with: string }> = {};
    for (const kind of kinds) {
      const bundles = {
        without: path.join(scratch, `agent-${kind.name}-no-history.js`),
        with: path.join(scratch, `agent-${kind.name}.js`),
      };
      await build(
        agentBuildOptions({
          entryPoint: path.join(source, 'agent', 'main.ts'),
          outfile: bundles.with,
          version: pkg.version,
          full: kind.full,
        }),
      );
      await buildWithoutHistory(bundles.without, source, kind.full);
      built[kind.name] = bundles;
    }
    const bin = standInMtr(scratch);
    const prepared = path.join(scratch, 'prepared');
    const history = prepareLogDir(prepared, built['stand-alone']?.with ?? '', bin);

    const rows: string[][] = [];
    let pass = true;
    for (const node of nodes)
      for (const kind of kinds) {
        const bundles = built[kind.name] ?? { without: '', with: '' };
        const major = nodeMajor(node);
        const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
        const counts: Record<'without' | 'with', number[]> = { without: [], with: [] };
        for (let i = 0; i < config.runs; i++) {
          for (const variant of i % 2 === 0
            ? (['without', 'with'] as const)
            : (['with', 'without'] as const)) {
            const profile =
              config.profileDir == null
                ? null
                : path.join(config.profileDir, `callgrind.node${major}.${kind.name}.${variant}.${i}.%p`);
            counts[variant].push(
              countInstructions({
                node,
                major,
                bundle: bundles[variant],
                prepared,
                scratch,
                bin,
                profile,
                expectHistory: variant === 'with',
              }),
            );
          }
        }
        const without = median(counts.without);
        const withHistory = median(counts.with);
        const more = (withHistory - without) / without;
        pass &&= more <= GOAL;
        const spread = (values: number[]) =>
          `${fixed(Math.min(...values) / 1e6, 1)}-${fixed(Math.max(...values) / 1e6, 1)}`;
        rows.push([
          `Node ${version}`,
          kind.name,
          fixed(without / 1e6, 1),
          fixed(withHistory / 1e6, 1),
          `${more >= 0 ? '+' : ''}${(more * 100).toFixed(1)} %`,
          `≤ +${GOAL * 100} %`,
          passFail(more <= GOAL),
          spread(counts.without),
          spread(counts.with),
        ]);
      }
    printTable({
      title: `Round history: instructions per round (M, callgrind), ${RESOURCES} resources, median of ${config.runs} runs each`,
      headers: [
        'node',
        'agent',
        'without history',
        'with history',
        'more',
        'goal',
        'result',
        'range without',
        'range with',
      ],
      rows,
      notes: [
        `Agents built from ${source}: "with" as npm run build builds it (stand-alone: dist/agent.js; fleet: dist/agent-fleet.js,`,
        'which leaves out the report, install and watch), "without" with agent/history/history-store.ts and',
        'round-history.ts stood in for (bench/history-cost.ts). One `check` round each, the agent process under',
        'valgrind --tool=callgrind (all its threads, not its children), environment PATH and LANG only (a host has no',
        `NODE_EXTRA_CA_CERTS; parsing a CA bundle costs more than the round). A stand-in mtr prints a fixed report to`,
        `each of ${RESOURCES} loopback addresses (10 hops, one silent), the gateway given: nothing is probed.`,
        `Log dir copied fresh for each run: a history of ${(history.bytes / 1e6).toFixed(1)} MB (${history.lines} lines, rotation at ${HISTORY_LIMITS.fileBytes / 1024 / 1024} MiB) made`,
        `of the agent's own lines: its first ${PATH_REFRESH_LINES} repeated, then the ${PREPARATION_ROUNDS} rounds that wrote them.`,
        "Hash seed: Node > 12 runs with V8's --no-rehash-snapshot, which skips the random hash seed's prime search",
        "(7-15 M instructions, different every run) and keeps the snapshot's seed; Node 12 has no such search.",
      ],
    });
    return pass;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
