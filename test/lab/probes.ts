/**
 * Probes run from inside a lab namespace, parsed into plain numbers, for the
 * lab's self-tests, the scenario tests and the benchmarks.
 */
import path from 'node:path';
import { parseMtrJson } from '../../agent/mtr/parse-mtr-json.ts';
import { ProcessError } from '../../common/errors.ts';
import type { Hop } from '../../common/result-schema.ts';
import type { Lab, NodeName } from './lab.ts';

/**
 * One hop as the agent reads it (agent/mtr/parse-mtr-json.ts): host null for a
 * hop that never answered, times null when mtr printed none.
 */
export type MtrHub = Hop;

const TCP_CONNECT_SCRIPT = path.join(__dirname, 'tcp_connect.py');

/**
 * Real `mtr -n --json` from a node, read by the agent's own mtr reader (so the
 * lab measures what the agent would see); throws with mtr's stderr when it
 * fails, and E_MTR_OUTPUT when its output is not a report.
 */
export async function mtr(
  lab: Lab,
  node: NodeName,
  target: string,
  options: { count?: number; interval?: number; graceSec?: number; extra?: string[] } = {},
): Promise<MtrHub[]> {
  const args = ['-n', '--json', '-c', String(options.count ?? 5), '-i', String(options.interval ?? 0.2)];
  // mtr waits 5 s after the last probe by default; nothing in the lab is that slow
  args.push('--gracetime', String(options.graceSec ?? 1));
  const result = await lab.exec(node, 'mtr', [...args, ...(options.extra ?? []), '--', target], {
    timeoutMs: 120_000,
  });
  if (result.exitCode !== 0) {
    throw new ProcessError('E_MTR_FAILED', `mtr to ${target} from ${lab.ns(node)} failed`, {
      command: result.command,
      exitCode: result.exitCode,
      signal: result.signal,
      stderr: result.stderr,
    });
  }
  return parseMtrJson(result.stdout).hops;
}

export interface PingSummary {
  transmitted: number;
  received: number;
  lossPct: number;
  /** Fastest round trip: what a loaded machine inflates least, for comparisons with a baseline. */
  minMs: number | null;
  avgMs: number | null;
  /** ping's mdev: how scattered the round trips were. */
  mdevMs: number | null;
}

/** `ping -n -q` from a node; a target that never answers is a result (100 % loss), not an error. */
export async function ping(
  lab: Lab,
  node: NodeName,
  target: string,
  options: { count?: number; interval?: number; waitSec?: number; preload?: number } = {},
): Promise<PingSummary> {
  const count = options.count ?? 5;
  const args = ['-n', '-q', '-c', String(count), '-i', String(options.interval ?? 0.05)];
  // ping keeps only `preload` probes in flight; a burst test needs more than the default
  if (options.preload !== undefined) args.push('-l', String(options.preload));
  args.push('-W', String(options.waitSec ?? 1), '--', target);
  const result = await lab.exec(node, 'ping', args, { timeoutMs: 60_000 });
  const counts = /(\d+) packets transmitted, (\d+) received/.exec(result.stdout);
  const rtt = /= ([\d.]+)\/([\d.]+)\/[\d.]+\/([\d.]+)/.exec(result.stdout);
  if (counts?.[1] === undefined || counts[2] === undefined) {
    throw new ProcessError('E_PROCESS', `ping to ${target} from ${lab.ns(node)} printed no summary`, {
      command: result.command,
      exitCode: result.exitCode,
      signal: result.signal,
      stderr: result.stderr || result.stdout,
    });
  }
  const transmitted = Number(counts[1]);
  const received = Number(counts[2]);
  return {
    transmitted,
    received,
    lossPct: transmitted === 0 ? 100 : (100 * (transmitted - received)) / transmitted,
    minMs: rtt?.[1] === undefined ? null : Number(rtt[1]),
    avgMs: rtt?.[2] === undefined ? null : Number(rtt[2]),
    mdevMs: rtt?.[3] === undefined ? null : Number(rtt[3]),
  };
}

/** One TCP connect from a node: its time in ms, or null when refused or timed out. */
export async function tcpConnect(
  lab: Lab,
  node: NodeName,
  address: string,
  port: number,
  timeoutSec = 2,
): Promise<number | null> {
  const result = await lab.exec(node, 'python3', [
    TCP_CONNECT_SCRIPT,
    address,
    String(port),
    String(timeoutSec),
  ]);
  return result.exitCode === 0 ? Number(result.stdout.trim()) : null;
}
