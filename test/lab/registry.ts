/**
 * Where labs are recorded, and how they are removed. Every lab owns a directory
 * `<tmp>/ccm-lab/ccmXXXXXX` (mkdtemp makes the id unique across concurrent test
 * files) holding `owner.pid`, written before any namespace exists; its namespaces
 * are named `ccmXXXXXX-<node>`. A namespace whose lab directory is gone, or whose
 * owner is dead, belongs to a crashed run and may be removed by anyone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessError } from '../../common/errors.ts';
import { isAlive, run, runChecked, terminate } from './run.ts';

export const LAB_ID_PATTERN = /^ccm[A-Za-z0-9]{6}$/;
const NAMESPACE_PATTERN = /^(ccm[A-Za-z0-9]{6})-[A-Za-z0-9]+$/;
/** A directory this young without owner.pid is a lab being created right now. */
const CREATION_GRACE_MS = 60_000;

export function registryDir(): string {
  return path.join(os.tmpdir(), 'ccm-lab');
}

/** Creates the lab's directory and records this process as its owner. */
export function registerLab(): { id: string; dir: string } {
  fs.mkdirSync(registryDir(), { recursive: true });
  const dir = fs.mkdtempSync(path.join(registryDir(), 'ccm'));
  fs.writeFileSync(path.join(dir, 'owner.pid'), `${process.pid}\n`);
  return { id: path.basename(dir), dir };
}

/** Every namespace on the machine (names only). */
export async function listNamespaces(): Promise<string[]> {
  const result = await runChecked('ip', ['netns', 'list'], { timeoutMs: 10_000 });
  return result.stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

export async function namespacePids(namespace: string): Promise<number[]> {
  const result = await run('ip', ['netns', 'pids', namespace], { timeoutMs: 10_000 });
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => Number.parseInt(line, 10))
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
}

/**
 * Ends every process inside the namespaces, then deletes them. Firewall rules,
 * addresses, routes and TUN devices live inside the namespaces and go with them.
 */
export async function removeNamespaces(namespaces: readonly string[]): Promise<void> {
  if (namespaces.length === 0) return;
  const pidLists = await Promise.all(namespaces.map(namespacePids));
  await terminate([...new Set(pidLists.flat())]);
  // -force: keep going past a namespace that is already gone (idempotent tear-down)
  const input = namespaces.map((name) => `netns delete ${name}\n`).join('');
  await run('ip', ['-force', '-batch', '-'], { input, timeoutMs: 30_000 });
  // one more pass: a namespace can stay busy for a moment while its last process exits
  for (let attempt = 0; attempt < 2; attempt++) {
    const left = new Set(await listNamespaces());
    const stuck = namespaces.filter((name) => left.has(name));
    if (stuck.length === 0) return;
    if (attempt === 1) {
      throw new ProcessError('E_PROCESS', `cannot delete namespaces ${stuck.join(', ')}`, {
        command: ['ip', 'netns', 'delete', ...stuck],
        exitCode: null,
        signal: null,
        stderr: '',
      });
    }
    await terminate((await Promise.all(stuck.map(namespacePids))).flat());
    await run('ip', ['-force', '-batch', '-'], {
      input: stuck.map((name) => `netns delete ${name}\n`).join(''),
      timeoutMs: 30_000,
    });
  }
}

export async function labNamespaces(id: string): Promise<string[]> {
  return (await listNamespaces()).filter((name) => name.startsWith(`${id}-`));
}

function ownerPid(dir: string): number | null {
  try {
    const pid = Number.parseInt(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isStale(id: string): boolean {
  const dir = path.join(registryDir(), id);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return true;
  }
  const pid = ownerPid(dir);
  if (pid === null) return Date.now() - stat.mtimeMs > CREATION_GRACE_MS;
  return pid !== process.pid && !isAlive(pid);
}

export interface CleanupReport {
  labs: string[];
  namespaces: string[];
}

/**
 * Removes labs of earlier runs whose owning process is dead: their namespaces,
 * the processes inside them (OpenVPN, relays, services, agents) and their
 * directories. Labs of live processes, including concurrent test files, are left alone.
 */
export async function cleanupStaleLabs(): Promise<CleanupReport> {
  const namespaces = await listNamespaces();
  const ids = new Set<string>();
  for (const name of namespaces) {
    const match = NAMESPACE_PATTERN.exec(name);
    if (match?.[1] !== undefined) ids.add(match[1]);
  }
  let entries: string[] = [];
  try {
    entries = fs.readdirSync(registryDir());
  } catch {
    // no registry yet: nothing recorded
  }
  for (const entry of entries) if (LAB_ID_PATTERN.test(entry)) ids.add(entry);
  const stale = [...ids].filter(isStale).sort();
  const removed = namespaces.filter((name) => stale.some((id) => name.startsWith(`${id}-`)));
  await removeNamespaces(removed);
  for (const id of stale) fs.rmSync(path.join(registryDir(), id), { recursive: true, force: true });
  return { labs: stale, namespaces: removed };
}
