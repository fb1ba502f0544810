/**
 * Runs the built agent (`dist/agent.js check --json`) inside a lab's host
 * namespace, as the scenario tests do, and optionally measures its footprint:
 * - agent only: a preloaded hook writes the agent process's own
 *   process.resourceUsage() (RUSAGE_SELF) when it exits;
 * - agent + children (mtr): `/usr/bin/time -v`, whose CPU times include every
 *   child the agent waited for; without it, the hook's /proc/self/stat
 *   cutime/cstime give the children's CPU (but not their memory).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessError } from '../common/errors.ts';
import { parseResultDocument, type ResultDocument } from '../common/result-schema.ts';
import type { Lab } from '../test/lab/lab.ts';

export const AGENT_BUNDLE = process.env.CCM_AGENT_BUNDLE ?? path.resolve(__dirname, '..', 'dist', 'agent.js');

const GNU_TIME = '/usr/bin/time';

/** CommonJS so that `node -r` loads it before the bundle; written to a temp dir at run time. */
const USAGE_HOOK = `'use strict';
const fs = require('fs');
process.on('exit', () => {
  const usage = process.resourceUsage();
  let childTicks = null;
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    childTicks = Number(fields[13]) + Number(fields[14]);
  } catch (error) {}
  fs.writeFileSync(process.env.CCM_BENCH_USAGE_FILE, JSON.stringify({ usage, childTicks }));
});
`;

export interface Footprint {
  /** The agent process alone: peak RSS (VmHWM) and user+system CPU. */
  agentPeakRssKb: number;
  agentCpuSec: number;
  /** Agent plus the children it waited for (mtr, mtr-packet); null when unmeasured. */
  totalCpuSec: number | null;
  /** Largest peak RSS of any single process in the tree (GNU time's figure); null without it. */
  largestPeakRssKb: number | null;
  /** How totalCpuSec was obtained. */
  source: 'gnu-time' | 'proc-stat';
}

export interface AgentRun {
  doc: ResultDocument;
  /** From spawning `ip netns exec` to the agent's exit. */
  wallMs: number;
  footprint: Footprint | null;
}

export interface AgentRunOptions {
  logDir: string;
  /** Extra flags, e.g. { '--count': '25' }; they override the defaults below. */
  flags?: Record<string, string>;
  measure?: boolean;
  timeoutMs?: number;
  /** Another agent bundle than AGENT_BUNDLE (bench/history-cost.ts runs two side by side). */
  bundle?: string;
}

let scratch: string | null = null;

function scratchDir(): string {
  if (scratch === null) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ccm-bench-'));
    fs.writeFileSync(path.join(scratch, 'usage-hook.cjs'), USAGE_HOOK);
  }
  return scratch;
}

/** Removes the hook and usage files; call once at the end of the bench. */
export function cleanupAgentRuns(): void {
  if (scratch !== null) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = null;
}

export function hasGnuTime(): boolean {
  return fs.existsSync(GNU_TIME);
}

let runSeq = 0;

export async function runAgent(
  lab: Lab,
  resources: readonly string[],
  options: AgentRunOptions,
): Promise<AgentRun> {
  const flags: Record<string, string> = {
    '--resources': resources.join(','),
    '--count': '10',
    '--interval': '0.2',
    '--log-dir': options.logDir,
    '--openvpn-management': lab.management,
    '--openvpn-log': lab.openvpnLogPath,
    ...options.flags,
  };
  const agentArgs = [options.bundle ?? AGENT_BUNDLE, 'check', '--json', ...Object.entries(flags).flat()];
  let command = process.execPath;
  let args = agentArgs;
  let env: Record<string, string> = {};
  let usageFile = '';
  let timeFile = '';
  if (options.measure === true) {
    const dir = scratchDir();
    runSeq += 1;
    usageFile = path.join(dir, `usage-${runSeq}.json`);
    args = ['-r', path.join(dir, 'usage-hook.cjs'), ...agentArgs];
    env = { CCM_BENCH_USAGE_FILE: usageFile };
    if (hasGnuTime()) {
      timeFile = path.join(dir, `time-${runSeq}.txt`);
      args = ['-v', '-o', timeFile, command, ...args];
      command = GNU_TIME;
    }
  }
  const started = performance.now();
  const result = await lab.exec('host', command, args, { timeoutMs: options.timeoutMs ?? 300_000, env });
  const wallMs = performance.now() - started;
  if (result.exitCode !== 0) {
    throw new ProcessError(
      'E_PROCESS',
      `agent check in ${lab.hostNamespace} exited with ${result.exitCode}`,
      {
        command: result.command,
        exitCode: result.exitCode,
        signal: result.signal,
        stderr: `${result.stderr}\n${result.stdout.slice(0, 2000)}`,
      },
    );
  }
  const doc = parseResultDocument(result.stdout);
  const footprint = options.measure === true ? readFootprint(usageFile, timeFile) : null;
  return { doc, wallMs, footprint };
}

interface HookOutput {
  usage: { userCPUTime: number; systemCPUTime: number; maxRSS: number };
  childTicks: number | null;
}

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux build this runs on. */
const CLOCK_TICKS = 100;

function readFootprint(usageFile: string, timeFile: string): Footprint {
  const hook = JSON.parse(fs.readFileSync(usageFile, 'utf8')) as HookOutput;
  const agentCpuSec = (hook.usage.userCPUTime + hook.usage.systemCPUTime) / 1e6;
  const base = { agentPeakRssKb: hook.usage.maxRSS, agentCpuSec };
  if (timeFile !== '' && fs.existsSync(timeFile)) {
    const text = fs.readFileSync(timeFile, 'utf8');
    const num = (label: string): number | null => {
      const match = new RegExp(`${label}: ([\\d.]+)`).exec(text);
      return match?.[1] === undefined ? null : Number(match[1]);
    };
    const user = num('User time \\(seconds\\)');
    const system = num('System time \\(seconds\\)');
    return {
      ...base,
      totalCpuSec: user === null || system === null ? null : user + system,
      largestPeakRssKb: num('Maximum resident set size \\(kbytes\\)'),
      source: 'gnu-time',
    };
  }
  return {
    ...base,
    totalCpuSec: hook.childTicks === null ? null : agentCpuSec + hook.childTicks / CLOCK_TICKS,
    largestPeakRssKb: null,
    source: 'proc-stat',
  };
}
