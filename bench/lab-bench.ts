/**
 * Lab benchmarks: the built agent in the network lab (test/lab), measured for
 * accuracy, detection, speed against the old script's procedure, and footprint.
 * Every probe stays inside the lab's namespaces. Nothing here is a timed test:
 * it prints tables with goals and PASS/FAIL, and the caller decides what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildMtrArgs } from '../agent/probes/run-mtr.ts';
import type { ResourceResult, ResultDocument } from '../common/result-schema.ts';
import { DEFAULTS } from '../common/settings.ts';
import { createLab, type Lab } from '../test/lab/lab.ts';
import { labSkipReason } from '../test/lab/preflight.ts';
import { AGENT_BUNDLE, type AgentRun, cleanupAgentRuns, hasGnuTime, runAgent } from './agent-run.ts';
import { type OldScriptRun, runOldScriptProcedure, timeOneOldMtr } from './old-script-procedure.ts';
import { fixed, passFail, printTable, seconds } from './table.ts';

export interface LabBenchConfig {
  accuracy: { injectedMs: number[]; runs: number; count: number; intervalSec: number };
  detection: { labs: number; rounds: number };
  speed: {
    count: number;
    intervalSec: number;
    sizes: number[];
    /** Also run the largest size with the highest --concurrency, to show what the default costs. */
    maxConcurrencyRun: boolean;
    /** Resource counts the old procedure is actually run for; larger sizes are extrapolated. */
    oldProcedureSizes: number[];
  };
}

export const FULL_CONFIG: LabBenchConfig = {
  accuracy: { injectedMs: [0, 20, 50, 100, 200], runs: 3, count: 10, intervalSec: 0.2 },
  detection: { labs: 5, rounds: 50 },
  speed: {
    count: 10,
    intervalSec: 1,
    sizes: [1, 10, 50],
    maxConcurrencyRun: true,
    oldProcedureSizes: [1, 10],
  },
};

/** A fast look (under ~3 minutes with the fleet bench): fewer rounds, count 5 for the speed rounds. */
export const QUICK_CONFIG: LabBenchConfig = {
  accuracy: { injectedMs: [0, 20, 50, 100, 200], runs: 1, count: 5, intervalSec: 0.2 },
  detection: { labs: 5, rounds: 5 },
  speed: { count: 5, intervalSec: 1, sizes: [1, 10, 50], maxConcurrencyRun: false, oldProcedureSizes: [1] },
};

// A bounded pool for comparison with the default (every path at once).
const MAX_CONCURRENCY = '16';

/** Why the lab part cannot run here (not root, tools or the bundle missing), or null. */
export function labBenchSkipReason(): string | null {
  const reason = labSkipReason();
  if (reason !== null) return reason;
  if (!fs.existsSync(AGENT_BUNDLE)) return `${AGENT_BUNDLE} is missing: run \`npm run build\` first`;
  return null;
}

// ---- lab bookkeeping -------------------------------------------------------------------

const liveLabs = new Set<Lab>();
let workDir: string | null = null;

function benchDir(): string {
  workDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-bench-logs-'));
  return workDir;
}

/** A fresh log directory per lab: the agent holds a round lock on its log directory. */
function newLogDir(): string {
  return fs.mkdtempSync(path.join(benchDir(), 'agent-'));
}

export async function openLab(resources: number): Promise<Lab> {
  const lab = await createLab({ resources });
  liveLabs.add(lab);
  return lab;
}

export async function closeLab(lab: Lab): Promise<void> {
  liveLabs.delete(lab);
  await lab.destroy();
}

/** Tears down every lab still open (also used on Ctrl-C), and the scratch directories. */
export async function cleanupLabBench(): Promise<void> {
  await Promise.all([...liveLabs].map((lab) => closeLab(lab).catch(() => {})));
  cleanupAgentRuns();
  if (workDir !== null) fs.rmSync(workDir, { recursive: true, force: true });
  workDir = null;
}

function resourceOf(doc: ResultDocument, address: string): ResourceResult | undefined {
  return doc.resources.find((r) => r.target === address);
}

/**
 * An unmeasured resource is flagged (common/flag-rule.ts), but a loss block must
 * not count it as detected loss: it is an error of that round.
 */
function unmeasuredError(resource: ResourceResult | undefined): string | null {
  if (resource === undefined) return 'resource missing from the result document';
  return resource.unmeasured === null
    ? null
    : `not measured (${resource.unmeasured.reason}): ${resource.unmeasured.detail}`;
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

function flags(
  count: number,
  intervalSec: number,
  extra: Record<string, string> = {},
): Record<string, string> {
  return { '--count': String(count), '--interval': String(intervalSec), ...extra };
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}

// ---- accuracy --------------------------------------------------------------------------

/** Average RTT by plain `ping` over the same path right after an agent run: what the lab really delivered. */
async function pingAverage(
  lab: Lab,
  target: string,
  count: number,
  intervalSec: number,
): Promise<number | null> {
  const args = ['-n', '-q', '-c', String(count), '-i', String(intervalSec), '--', target];
  const result = await lab.exec('host', 'ping', args, { timeoutMs: 60_000 });
  const match = /= [\d.]+\/([\d.]+)\//.exec(result.stdout);
  return match?.[1] === undefined ? null : Number(match[1]);
}

interface AccuracySample {
  agentMs: number;
  pingMs: number | null;
}

async function accuracyBench(lab: Lab, config: LabBenchConfig['accuracy']): Promise<void> {
  const started = performance.now();
  const target = lab.addr.resources[0] ?? '';
  const logDir = newLogDir();
  const measureOnce = async (): Promise<AccuracySample> => {
    const run = await runAgent(lab, [target], { logDir, flags: flags(config.count, config.intervalSec) });
    const latency = resourceOf(run.doc, target)?.latencyMs;
    if (latency === null || latency === undefined) {
      throw new Error(`no latency for ${target}: ${JSON.stringify(run.doc.resources).slice(0, 500)}`);
    }
    return { agentMs: latency, pingMs: await pingAverage(lab, target, config.count, config.intervalSec) };
  };
  const measureMany = async (runs: number): Promise<AccuracySample[]> => {
    const samples: AccuracySample[] = [];
    for (let i = 0; i < runs; i++) samples.push(await measureOnce());
    return samples;
  };
  const pingMean = (samples: AccuracySample[]): number | null => {
    const values = samples.map((s) => s.pingMs).filter((v): v is number => v !== null);
    return values.length === samples.length ? mean(values) : null;
  };

  await lab.setLatency('under-gw', 0);
  // one discarded run: the first round after set-up pays for cold caches (node, mtr-packet, neighbours)
  await measureOnce();
  const baselineSamples = await measureMany(Math.max(3, config.runs));
  const baseline = mean(baselineSamples.map((s) => s.agentMs));
  const pingBaseline = pingMean(baselineSamples);
  const rows: string[][] = [];
  let allPass = true;
  for (const injected of config.injectedMs) {
    await lab.setLatency('under-gw', injected);
    const samples = await measureMany(config.runs);
    const runs = samples.map((s) => s.agentMs);
    const errors = runs.map((v) => v - baseline - injected);
    const meanError = mean(errors);
    const worst = errors.reduce((w, e) => (Math.abs(e) > Math.abs(w) ? e : w), 0);
    const allowed = 1 + 0.03 * injected;
    const ok = Math.abs(worst) <= allowed;
    allPass &&= ok;
    const pingNow = pingMean(samples);
    rows.push([
      String(injected),
      fixed(mean(runs), 2),
      fixed(mean(runs) - baseline, 2),
      fixed(meanError, 2),
      injected === 0 ? 'n/a' : fixed((meanError / injected) * 100, 2),
      fixed(worst, 2),
      `≤ ${fixed(allowed, 2)}`,
      passFail(ok),
      pingNow === null || pingBaseline === null ? 'n/a' : fixed(pingNow - pingBaseline, 2),
    ]);
  }
  await lab.setLatency('under-gw', 0);
  printTable({
    title: 'Accuracy: agent-measured latency vs injected round-trip latency',
    headers: [
      'injected ms',
      'measured ms',
      'minus baseline',
      'error ms',
      'error %',
      'worst error ms',
      'goal: 1 ms + 3%',
      'result',
      'ping ref. minus baseline',
    ],
    rows,
    notes: [
      `Injected with lab.setLatency('under-gw', ms): round-trip time added on the underlay relay (half each way),`,
      `so every packet through the tunnel carries it. Resource ${target} (hops: gw tunnel, r1, r2, resource).`,
      `Agent: check --count ${config.count} --interval ${config.intervalSec}; ${config.runs} run(s) per value; measured = mean of the runs' resource latencyMs.`,
      `Baseline (the lab's own round trip at 0 ms injected, measured first: ${baselineSamples.length} runs after one discarded): ` +
        `${fixed(baseline, 3)} ms [${baselineSamples.map((s) => fixed(s.agentMs, 3)).join(', ')}]; subtracted before comparing.`,
      'error = measured - baseline - injected (mean of runs); worst error = the run farthest off; the goal is checked on the worst run.',
      `ping ref.: \`ping -c ${config.count} -i ${config.intervalSec}\` right after each agent run, minus its own baseline ` +
        `(${fixed(pingBaseline, 3)} ms): what the relay delivered, to tell lab jitter from agent error.`,
      `Overall: ${passFail(allPass)}. Wall time: ${seconds(performance.now() - started)}.`,
    ],
  });
}

// ---- detection -------------------------------------------------------------------------

interface RoundOutcome {
  flagged: boolean;
  /** A figure averaged over the block (worst latency, measured loss, r1 hop loss). */
  detail: number | null;
  error: string | null;
  /** Rate-limited block only: the same round judged by the old any-hop rule. */
  anyHopFlagged?: boolean;
}

interface BlockResult {
  outcomes: RoundOutcome[];
  wallMs: number;
}

/**
 * Runs `rounds` rounds spread over the labs: each lab runs its share one after
 * the other, the labs in parallel (they are isolated, so rounds do not interact).
 */
async function runBlock(
  labs: Lab[],
  rounds: number,
  setup: (lab: Lab) => Promise<void>,
  round: (lab: Lab, logDir: string) => Promise<RoundOutcome>,
): Promise<BlockResult> {
  await Promise.all(labs.map((lab) => setup(lab)));
  const started = performance.now();
  let next = 0;
  const outcomes: RoundOutcome[] = [];
  await Promise.all(
    labs.map(async (lab) => {
      const logDir = newLogDir();
      while (next < rounds) {
        next += 1;
        try {
          outcomes.push(await round(lab, logDir));
        } catch (error) {
          outcomes.push({ flagged: false, detail: null, error: describeError(error) });
        }
      }
    }),
  );
  const wallMs = performance.now() - started;
  await Promise.all(labs.map((lab) => lab.clear()));
  return { outcomes, wallMs };
}

function summarise(outcomes: RoundOutcome[]): { flagged: number; errors: number; meanDetail: number | null } {
  const details = outcomes.map((o) => o.detail).filter((d): d is number => d !== null);
  return {
    flagged: outcomes.filter((o) => o.error === null && o.flagged).length,
    errors: outcomes.filter((o) => o.error !== null).length,
    meanDetail: details.length > 0 ? mean(details) : null,
  };
}

async function detectionBench(labs: Lab[], rounds: number): Promise<void> {
  const rows: string[][] = [];
  const errorNotes: string[] = [];
  const noteErrors = (block: string, outcomes: RoundOutcome[]): void => {
    const first = outcomes.find((o) => o.error !== null);
    if (first?.error) errorNotes.push(`${block}: first error: ${first.error}`);
  };
  const resourcesPerLab = labs[0]?.addr.resources.length ?? 0;

  // Clean path: every resource of the lab, default thresholds.
  const clean = await runBlock(
    labs,
    rounds,
    async () => {},
    async (lab, logDir) => {
      const run = await runAgent(lab, lab.addr.resources, { logDir, flags: flags(10, 0.2) });
      const flagged = run.doc.seed?.LATENCY_FLAG === '1' || run.doc.seed?.LOSS_FLAG === '1';
      return {
        flagged: flagged || run.doc.summary.flagged > 0,
        detail: run.doc.summary.worstLatencyMs,
        error: null,
      };
    },
  );
  const c = summarise(clean.outcomes);
  noteErrors('clean', clean.outcomes);
  rows.push([
    'A clean path',
    String(clean.outcomes.length),
    `${c.flagged} false flags`,
    '0',
    String(c.errors),
    passFail(c.flagged === 0 && c.errors === 0),
    seconds(clean.wallMs),
    `worst latency/round, mean ${fixed(c.meanDetail, 2)} ms`,
  ]);

  // 30 % random loss on r1 (forwarded away from the host): every hop beyond it and the resource lose.
  const lossGoal = Math.ceil((rounds * 49) / 50);
  const loss = await runBlock(
    labs,
    rounds,
    (lab) => lab.setLoss('r1', 30),
    async (lab, logDir) => {
      const target = lab.addr.resources[0] ?? '';
      const run = await runAgent(lab, [target], {
        logDir,
        flags: flags(25, 0.1, { '--loss-threshold': '5' }),
      });
      const resource = resourceOf(run.doc, target);
      const error = unmeasuredError(resource);
      if (error !== null) return { flagged: false, detail: null, error };
      return { flagged: resource?.lossFlag === true, detail: resource?.lossPct ?? null, error: null };
    },
  );
  const l = summarise(loss.outcomes);
  noteErrors('loss', loss.outcomes);
  rows.push([
    'B 30 % loss at r1',
    String(loss.outcomes.length),
    `${l.flagged} detected`,
    `≥ ${lossGoal}`,
    String(l.errors),
    passFail(l.flagged >= lossGoal && l.errors === 0),
    seconds(loss.wallMs),
    `measured loss, mean ${fixed(l.meanDetail, 1)} %`,
  ]);

  // ICMP rate limiting at r1 (kernel default 1000 ms) and no real loss: the default rule must not flag;
  // the old any-hop rule runs right after on the same lab for comparison.
  const rateLimited = await runBlock(
    labs,
    rounds,
    (lab) => lab.setIcmpRateLimit('r1', 1000),
    async (lab, logDir) => {
      const target = lab.addr.resources[0] ?? '';
      const fast = flags(20, 0.1);
      const byDefault = await runAgent(lab, [target], { logDir, flags: fast });
      const anyHop = await runAgent(lab, [target], { logDir, flags: { ...fast, '--loss-rule': 'any-hop' } });
      const resource = resourceOf(byDefault.doc, target);
      const error = unmeasuredError(resource) ?? unmeasuredError(resourceOf(anyHop.doc, target));
      if (error !== null) return { flagged: false, detail: null, error };
      return {
        flagged: resource?.lossFlag === true,
        detail: resource?.hops?.find((hop) => hop.host === lab.addr.r1)?.lossPct ?? null,
        error: null,
        anyHopFlagged: resourceOf(anyHop.doc, target)?.lossFlag === true,
      };
    },
  );
  const r = summarise(rateLimited.outcomes);
  const anyHopFlags = rateLimited.outcomes.filter((o) => o.error === null && o.anyHopFlagged === true).length;
  noteErrors('rate-limited', rateLimited.outcomes);
  rows.push([
    'C rate-limited r1, default rule',
    String(rateLimited.outcomes.length),
    `${r.flagged} false flags`,
    '0',
    String(r.errors),
    passFail(r.flagged === 0 && r.errors === 0),
    seconds(rateLimited.wallMs),
    `r1 hop loss, mean ${fixed(r.meanDetail, 1)} %`,
  ]);
  rows.push([
    'C same rounds, any-hop (old rule)',
    String(rateLimited.outcomes.length - r.errors),
    `${anyHopFlags} false flags`,
    'none',
    '-',
    '-',
    '(in C above)',
    'shown for comparison',
  ]);

  printTable({
    title: `Detection: ${rounds} rounds per block, spread over ${labs.length} labs run in parallel`,
    headers: ['block', 'rounds', 'flagged', 'goal', 'errors', 'result', 'wall time', 'also measured'],
    rows,
    notes: [
      'A round is one `agent check --json` in a lab host namespace; flags are read from its JSON document.',
      `A: ${resourcesPerLab} resources per round, --count 10 --interval 0.2, default thresholds (75 ms, 5 %);`,
      '   a round is a false flag when any resource has a latency or loss flag.',
      "B: lab.setLoss('r1', 30) (random drop of what r1 forwards away from the host), 1 resource,",
      `   --count 25 --interval 0.1 --loss-threshold 5; goal: 49 of 50 rounds${rounds === 50 ? '' : `, scaled to ${lossGoal} of ${rounds}`}.`,
      "C: lab.setIcmpRateLimit('r1', 1000) (kernel default) and no real loss, 1 resource, --count 20 --interval 0.1:",
      '   r1 answers time-exceeded only ~1/s after a burst, so its hop shows loss that is not real;',
      '   each round runs the default rule (persistent), then --loss-rule any-hop on the same lab.',
      'errors = rounds where the agent did not complete (exit code or document).',
      ...errorNotes,
    ],
  });
}

// ---- speed and footprint ---------------------------------------------------------------

interface AgentSpeedRow {
  size: number;
  concurrency: string;
  run: AgentRun;
}

async function speedAndFootprintBench(config: LabBenchConfig['speed']): Promise<void> {
  const largest = Math.max(...config.sizes);
  const lab = await openLab(largest);
  try {
    const { count, intervalSec } = config;
    const logDir = newLogDir();
    const first = lab.addr.resources[0] ?? '';

    const oldMtrMs = await timeOneOldMtr(lab, first, count);
    const agentMtrArgs = buildMtrArgs({ address: first, family: 4, count, intervalSec });
    const agentMtrStart = performance.now();
    await lab.exec('host', 'mtr', agentMtrArgs, { timeoutMs: 600_000 });
    const agentMtrMs = performance.now() - agentMtrStart;

    const agentRows: AgentSpeedRow[] = [];
    const runs: Array<[number, string]> = config.sizes.map((size) => [size, 'default']);
    if (config.maxConcurrencyRun) runs.push([largest, MAX_CONCURRENCY]);
    for (const [size, concurrency] of runs) {
      const extra: Record<string, string> = concurrency === 'default' ? {} : { '--concurrency': concurrency };
      const run = await runAgent(lab, lab.addr.resources.slice(0, size), {
        logDir,
        flags: flags(count, intervalSec, extra),
        measure: true,
        timeoutMs: 900_000,
      });
      agentRows.push({ size, concurrency, run });
    }

    const oldRuns = new Map<number, OldScriptRun>();
    for (const size of config.oldProcedureSizes) {
      oldRuns.set(size, await runOldScriptProcedure(lab, lab.addr.resources.slice(0, size), count));
    }
    const measuredSteps = [...oldRuns.values()].flatMap((run) => run.steps);
    const perResourceMs = mean(measuredSteps.map((s) => s.mtrMs + s.pingMs));
    const failedOld = measuredSteps.filter((s) => s.mtrExitCode !== 0 || s.pingExitCode !== 0).length;

    const agentFor = (size: number, concurrency = 'default'): AgentRun | undefined =>
      agentRows.find((row) => row.size === size && row.concurrency === concurrency)?.run;
    const speedRows = config.sizes.map((size) => {
      const agent = agentFor(size);
      const wide = agentFor(size, MAX_CONCURRENCY);
      const old = oldRuns.get(size);
      const oldMs = old?.totalMs ?? perResourceMs * size;
      const oldCell =
        old === undefined
          ? `~${seconds(oldMs)} (extrapolated: ${size} x ${seconds(perResourceMs, 2)})`
          : `${seconds(oldMs)} (measured)`;
      return [
        String(size),
        agent === undefined ? 'n/a' : seconds(agent.wallMs),
        wide === undefined ? '-' : seconds(wide.wallMs),
        oldCell,
        agent === undefined ? 'n/a' : `${(oldMs / agent.wallMs).toFixed(1)}x`,
      ];
    });
    printTable({
      title: `Speed: one round, count ${count}, interval ${intervalSec} s, agent vs the old script's procedure`,
      headers: [
        'resources',
        `agent (default --concurrency ${DEFAULTS.concurrency})`,
        `agent --concurrency ${MAX_CONCURRENCY}`,
        'old procedure (mtr then ping, each resource in turn)',
        'speed-up',
      ],
      rows: speedRows,
      notes: [
        'Agent wall time: from spawning `ip netns exec <host> node dist/agent.js check --json` to its exit (gateway path included).',
        `Old procedure per resource: mtr -r -n -c ${count} -o AL -- <target>; ping -c ${count} -- <target>, sequential, in the host namespace.`,
        `Old procedure per resource (mean of ${measuredSteps.length} measured): ${seconds(perResourceMs, 2)} ` +
          `(mtr ${seconds(mean(measuredSteps.map((s) => s.mtrMs)), 2)} + ping ${seconds(mean(measuredSteps.map((s) => s.pingMs)), 2)})` +
          `${failedOld > 0 ? `; ${failedOld} step(s) exited non-zero` : ''}. Sizes not run are extrapolated from it (~).`,
      ],
    });

    const agent10 = agentFor(10);
    const goalRows: string[][] = [];
    if (agent10 !== undefined) {
      goalRows.push([
        `agent, 10 resources ≤ one old-script mtr run (mtr -r -c ${count}) + 3 s`,
        seconds(agent10.wallMs),
        `≤ ${seconds(oldMtrMs + 3000)} (${seconds(oldMtrMs)} + 3 s)`,
        passFail(agent10.wallMs <= oldMtrMs + 3000),
      ]);
      goalRows.push([
        `agent, 10 resources ≤ one mtr run with the agent's own arguments + 3 s (stricter)`,
        seconds(agent10.wallMs),
        `≤ ${seconds(agentMtrMs + 3000)} (${seconds(agentMtrMs)} + 3 s)`,
        passFail(agent10.wallMs <= agentMtrMs + 3000),
      ]);
    }
    printTable({
      title: 'Speed goal',
      headers: ['goal', 'measured', 'limit', 'result'],
      rows: goalRows,
      notes: [
        `Yardsticks measured in this run, to ${first}: \`mtr ${['-r', '-n', '-c', String(count), '-o', 'AL', '--', first].join(' ')}\` ` +
          `(mtr's default 5 s grace) ${seconds(oldMtrMs)};`,
        `\`mtr ${agentMtrArgs.join(' ')}\` (the agent's per-path command, 2 s grace) ${seconds(agentMtrMs)}.`,
      ],
    });

    const mb = (kb: number | null): string => (kb === null ? 'n/a' : (kb / 1024).toFixed(1));
    printTable({
      title: `Footprint: the agent per round (count ${count}, interval ${intervalSec} s; the speed rounds above)`,
      headers: [
        'resources',
        '--concurrency',
        'wall s',
        'agent peak RSS MB',
        'agent CPU s',
        'agent+children CPU s',
        'children (mtr) CPU s',
        'largest process peak RSS MB',
      ],
      rows: agentRows.map(({ size, concurrency, run }) => {
        const f = run.footprint;
        return [
          String(size),
          concurrency === 'default' ? `${DEFAULTS.concurrency} (default)` : concurrency,
          fixed(run.wallMs / 1000, 1),
          f === null ? 'n/a' : mb(f.agentPeakRssKb),
          fixed(f?.agentCpuSec, 2),
          fixed(f?.totalCpuSec, 2),
          f?.totalCpuSec == null ? 'n/a' : fixed(f.totalCpuSec - f.agentCpuSec, 2),
          f === null ? 'n/a' : mb(f.largestPeakRssKb),
        ];
      }),
      notes: [
        'agent = the node process alone: process.resourceUsage() at exit (maxRSS = VmHWM, user+system CPU), via a preloaded hook.',
        hasGnuTime()
          ? 'agent+children = `/usr/bin/time -v` around node: CPU of the agent and every mtr / mtr-packet it waited for;'
          : 'agent+children CPU = /proc/self/stat cutime+cstime at exit (GNU time absent: no children RSS);',
        'largest process peak RSS = the biggest single process of that tree (GNU time reports a maximum, not a sum).',
      ],
    });
  } finally {
    await closeLab(lab);
  }
}

// ---- entry -----------------------------------------------------------------------------

export async function runLabBench(config: LabBenchConfig): Promise<void> {
  try {
    const startedAll = performance.now();
    console.log(`Lab bench: building ${config.detection.labs} labs (3 resources each)...`);
    const labs: Lab[] = [];
    for (let i = 0; i < config.detection.labs; i++) labs.push(await openLab(3));
    const [accuracyLab] = labs;
    if (accuracyLab === undefined) throw new Error('detection.labs must be at least 1');
    console.log(`  ready in ${seconds(performance.now() - startedAll)}\n`);

    await accuracyBench(accuracyLab, config.accuracy);
    const detectionStart = performance.now();
    await detectionBench(labs, config.detection.rounds);
    console.log(`Detection total wall time: ${seconds(performance.now() - detectionStart)}\n`);
    await Promise.all(labs.map((lab) => closeLab(lab)));

    const speedStart = performance.now();
    await speedAndFootprintBench(config.speed);
    console.log(`Speed and footprint wall time: ${seconds(performance.now() - speedStart)}`);
    console.log(`Lab bench wall time: ${seconds(performance.now() - startedAll)}\n`);
  } finally {
    await cleanupLabBench();
  }
}
