/**
 * `install` and `uninstall`: the agent as a systemd timer and service on one
 * host (units.ts says what the units hold and why).
 *
 * install checks everything before it writes anything: root, systemd running
 * (unless --no-enable), the config as `check` reads it, node and each
 * directory the units name (root-only.ts), the log dir (created and proven
 * writable with the agent's own rules, since the service may write nowhere
 * else and the directory must exist when it starts). It then copies the
 * running agent to <lib-dir>/agent.js (a file in a user's home would let that
 * user change what root runs), writes the service, then the timer, each
 * replaced atomically and only when its content changed, and runs
 * `systemctl daemon-reload`, `enable` and `restart` on the timer. Running it
 * again changes nothing, or applies a new config, schedule or agent.
 *
 * uninstall stops and disables the timer and the service, removes what
 * install wrote, and says what it leaves. Both replace or remove only files
 * that carry install's marker (units.ts UNIT_MARKER, isAgentBundle): anything
 * else at one of their names stops them with E_INSTALL before they change a
 * thing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { excerpt, MonitorError, ProcessError } from '../../common/errors.ts';
import type { InstallOptions, UninstallOptions } from '../cli/install-options.ts';
import { closeQuietly, type DirHandle, openDirectory } from '../files/dir-handle.ts';
import { ROOT_LOCK_DIR } from '../files/lock.ts';
import { prepareLogDir } from '../files/log-dir.ts';
import { lstatOrNull, openRegularFile, readBounded } from '../files/open-entry.ts';
import { replaceFile } from '../files/write-atomic.ts';
import type { RunProcess } from '../process/types.ts';
import { requireRootOnly } from './root-only.ts';
import {
  AGENT_FILE,
  isAgentBundle,
  MIN_SYSTEMD_VERSION,
  randomizedDelaySec,
  SERVICE_FILE,
  serviceUnit,
  TIMER_FILE,
  timerUnit,
  UNIT_MARKER,
} from './units.ts';

export interface SetupDeps {
  run: RunProcess;
  /** The running agent bundle (process.argv[1]); install copies it. */
  agentFile: string;
  /** process.execPath: the node the service runs the agent with. */
  nodeBinary: string;
  say(line: string): void;
}

/** sd_booted(3): systemd is the running init system when this directory exists. */
export const SYSTEMD_BOOTED_MARK = '/run/systemd/system';
const SYSTEMCTL_TIMEOUT_MS = 120_000;
const MAX_AGENT_BYTES = 16 * 1024 * 1024;
const MAX_UNIT_BYTES = 64 * 1024;

export function requireRoot(command: string): void {
  if (process.geteuid?.() !== 0) {
    throw new MonitorError('E_INSTALL', `${command} must run as root (sudo)`);
  }
}

export async function install(o: InstallOptions, deps: SetupDeps): Promise<void> {
  requireRoot('install');
  if (o.enable) await requireSystemd(deps.run);
  const node = requireRootOnly(deps.nodeBinary, 'node');
  const agentText = readAgent(deps.agentFile);
  const unitDir = openTrusted(o.unitDir, '--unit-dir', false);
  let libDir: DirHandle | null = null;
  try {
    const service = readOwn(unitDir, SERVICE_FILE, UNIT);
    const timer = readOwn(unitDir, TIMER_FILE, UNIT);
    // An existing lib dir is checked before the log dir is created: a foreign agent.js changes nothing.
    libDir = lstatOrNull(o.libDir) === null ? null : openTrusted(o.libDir, '--lib-dir', false);
    const copy = libDir === null ? null : readOwn(libDir, AGENT_FILE, AGENT_COPY);
    prepareLogDir(o.check.logDir).close();
    libDir ??= openTrusted(o.libDir, '--lib-dir', true);
    const agent = path.join(libDir.realPath, AGENT_FILE);
    const spec = { node, agent, config: o.config, everyMinutes: o.everyMinutes, check: o.check };
    put(libDir, AGENT_FILE, agentText, copy, deps);
    // The timer last: it never names a service that is not there yet.
    put(unitDir, SERVICE_FILE, serviceUnit(spec), service, deps);
    put(unitDir, TIMER_FILE, timerUnit(spec), timer, deps);
  } finally {
    libDir?.close();
    unitDir.close();
  }
  const every = `every ${o.everyMinutes} min (plus this host's fixed offset of up to ${randomizedDelaySec(o.everyMinutes)} s)`;
  if (!o.enable) {
    deps.say(
      `not enabled (--no-enable): start with systemctl daemon-reload && systemctl enable --now ${TIMER_FILE}`,
    );
    return;
  }
  await systemctl(deps, ['daemon-reload']);
  await systemctl(deps, ['enable', TIMER_FILE]);
  // A running timer keeps its old schedule until restarted.
  await systemctl(deps, ['restart', TIMER_FILE]);
  deps.say(
    `installed: check --config ${o.config} ${every}; see systemctl list-timers ${TIMER_FILE} and journalctl -u ${SERVICE_FILE}`,
  );
}

export async function uninstall(o: UninstallOptions, deps: SetupDeps): Promise<void> {
  requireRoot('uninstall');
  const unitDir = openIfThere(o.unitDir);
  const libDir = openIfThere(o.libDir);
  try {
    const service = unitDir === null ? null : readOwn(unitDir, SERVICE_FILE, UNIT);
    const timer = unitDir === null ? null : readOwn(unitDir, TIMER_FILE, UNIT);
    const agent = libDir === null ? null : readOwn(libDir, AGENT_FILE, AGENT_COPY);
    if (service === null && timer === null && agent === null) {
      deps.say(
        `not installed: no ${SERVICE_FILE} or ${TIMER_FILE} in ${o.unitDir}, no ${AGENT_FILE} in ${o.libDir}`,
      );
      return;
    }
    const running = isDirectory(SYSTEMD_BOOTED_MARK);
    if (running && timer !== null) await systemctl(deps, ['disable', '--now', TIMER_FILE]);
    if (running && service !== null) await systemctl(deps, ['stop', SERVICE_FILE]);
    if (timer !== null && unitDir !== null) remove(unitDir, TIMER_FILE, deps);
    if (service !== null && unitDir !== null) remove(unitDir, SERVICE_FILE, deps);
    if (agent !== null && libDir !== null) {
      remove(libDir, AGENT_FILE, deps);
      try {
        fs.rmdirSync(o.libDir);
        deps.say(`removed ${o.libDir}`);
      } catch (error) {
        deps.say(`left ${o.libDir} (${errnoOf(error) ?? 'error'}: not empty?)`);
      }
    }
    if (running) {
      await systemctl(deps, ['daemon-reload']);
      // Forgets a failed last round; fails harmlessly when there was none.
      await deps.run('systemctl', ['reset-failed', SERVICE_FILE, TIMER_FILE], {
        timeoutMs: SYSTEMCTL_TIMEOUT_MS,
      });
    }
    const kept = installedPaths(service);
    // Drop-ins (systemctl edit) are the administrator's: a later install picks them up again.
    const dropIns = [SERVICE_FILE, TIMER_FILE]
      .map((unit) => `${unit}.d`)
      .filter((d) => unitDir !== null && lstatOrNull(unitDir.entry(d)) !== null)
      .map((d) => `, your drop-ins ${path.join(o.unitDir, d)}`);
    deps.say(
      `uninstalled. Left in place: ${kept === null ? 'the config file and the log dir' : `the config ${kept.config}, the log dir ${kept.logDir}`}${dropIns.join('')} (remove them if no longer needed), and ${ROOT_LOCK_DIR} (emptied at boot)`,
    );
  } finally {
    unitDir?.close();
    libDir?.close();
  }
}

async function requireSystemd(run: RunProcess): Promise<void> {
  if (!isDirectory(SYSTEMD_BOOTED_MARK)) {
    throw new MonitorError(
      'E_INSTALL',
      `systemd is not running on this host (no ${SYSTEMD_BOOTED_MARK}): run the agent with watch instead (node agent.js watch --every 5 --config <file>), or check from cron; --no-enable only writes the units`,
    );
  }
  const result = await run('systemctl', ['--version'], { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
  const version = /^systemd (\d+)/.exec(result.stdout);
  if (result.exitCode !== 0 || version === null) throw systemctlError(result, 'printed no systemd version');
  if (Number(version[1]) < MIN_SYSTEMD_VERSION) {
    throw new MonitorError(
      'E_INSTALL',
      `systemd ${version[1]} is older than ${MIN_SYSTEMD_VERSION}, which the service's sandbox needs: run the agent with watch or from cron instead`,
    );
  }
}

async function systemctl(deps: SetupDeps, args: string[]): Promise<void> {
  deps.say(`systemctl ${args.join(' ')}`);
  const result = await deps.run('systemctl', args, { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
  if (result.exitCode !== 0) throw systemctlError(result, 'failed');
}

function systemctlError(result: Awaited<ReturnType<RunProcess>>, what: string): ProcessError {
  const why =
    result.spawnError !== null
      ? `could not run (${result.spawnError})`
      : result.timedOut
        ? `did not finish in ${SYSTEMCTL_TIMEOUT_MS / 1000} s`
        : `${what} (exit code ${result.exitCode ?? result.signal}): ${excerpt(result.stderr, 500)}`;
  return new ProcessError('E_INSTALL', `${result.command.join(' ')} ${why}`, result);
}

/** A directory install writes into: existing (a unit dir) or created (the lib dir), root's alone. */
function openTrusted(dir: string, field: string, create: boolean): DirHandle {
  let handle: DirHandle;
  try {
    handle = openDirectory(dir, create ? { create: { mode: 0o755, as: () => null } } : {});
  } catch (error) {
    throw new MonitorError(
      'E_INSTALL',
      `${field} ${dir} cannot be used (${errnoOf(error) ?? 'error'}: ${String(error instanceof Error ? error.message : error)})`,
    );
  }
  try {
    requireRootOnly(handle.realPath, field);
  } catch (error) {
    handle.close();
    throw error;
  }
  return handle;
}

function openIfThere(dir: string): DirHandle | null {
  try {
    return openDirectory(dir);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw new MonitorError('E_INSTALL', `${dir} cannot be opened (${errnoOf(error) ?? 'error'})`);
  }
}

function isDirectory(dir: string): boolean {
  return lstatOrNull(dir)?.isDirectory() === true;
}

interface Owned {
  maxBytes: number;
  /** True when install wrote this content. */
  ours(text: string): boolean;
}
const UNIT: Owned = { maxBytes: MAX_UNIT_BYTES, ours: (text) => text.startsWith(UNIT_MARKER) };
const AGENT_COPY: Owned = { maxBytes: MAX_AGENT_BYTES, ours: isAgentBundle };

/**
 * The content of a file install wrote, null when there is none; E_INSTALL for
 * anything else at the name (another kind of entry, or a file without the
 * marker, which is someone else's to move).
 */
function readOwn(dir: DirHandle, name: string, kind: Owned): string | null {
  const refuse = (file: string, found: string) =>
    new MonitorError('E_INSTALL', `${file} is ${found}; install writes only regular files there: remove it`);
  const opened = openRegularFile(dir, name, fs.constants.O_RDONLY, { action: 'read it', refuse });
  if (opened === null) return null;
  let read: { text: string; complete: boolean };
  try {
    read = readBounded(opened.fd, kind.maxBytes);
  } finally {
    closeQuietly(opened.fd);
  }
  if (!read.complete || !kind.ours(read.text)) {
    throw new MonitorError(
      'E_INSTALL',
      `${dir.display(name)} was not written by install; move it away first`,
    );
  }
  return read.text;
}

/** The running bundle, read once: what is copied is what runs now. */
function readAgent(file: string): string {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (error) {
    throw new MonitorError(
      'E_INSTALL',
      `the running agent ${file} cannot be read (${errnoOf(error) ?? 'error'})`,
    );
  }
  try {
    const { text, complete } = readBounded(fd, MAX_AGENT_BYTES);
    if (!fs.fstatSync(fd).isFile() || !complete || !isAgentBundle(text)) {
      throw new MonitorError(
        'E_INSTALL',
        `${file} is not the agent bundle: run install from dist/agent.js (npm run build)`,
      );
    }
    return text;
  } finally {
    closeQuietly(fd);
  }
}

function put(dir: DirHandle, name: string, content: string, existing: string | null, deps: SetupDeps): void {
  if (existing === content) {
    deps.say(`unchanged ${dir.display(name)}`);
    return;
  }
  try {
    replaceFile(dir, name, content, { mode: 0o644 });
  } catch (error) {
    throw new MonitorError('E_INSTALL', `${dir.display(name)} cannot be written (${dir.explain(error)})`);
  }
  deps.say(`wrote ${dir.display(name)}`);
}

function remove(dir: DirHandle, name: string, deps: SetupDeps): void {
  try {
    fs.unlinkSync(dir.entry(name));
  } catch (error) {
    throw new MonitorError('E_INSTALL', `${dir.display(name)} cannot be removed (${dir.explain(error)})`);
  }
  deps.say(`removed ${dir.display(name)}`);
}

/** The config and log dir named in the marker line of the service unit. */
function installedPaths(service: string | null): { config: string; logDir: string } | null {
  const json = /^[^\n]* \((\{[^\n]*\})\)\.\n/.exec(service ?? '')?.[1];
  try {
    const value = JSON.parse(json ?? 'null') as { config?: unknown; logDir?: unknown } | null;
    return typeof value?.config === 'string' && typeof value.logDir === 'string'
      ? { config: value.config, logDir: value.logDir }
      : null;
  } catch {
    return null;
  }
}
