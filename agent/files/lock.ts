/**
 * The round lock: one round per log directory at a time (SSM may send a
 * command while a cron round still runs), and a crashed or hung round never
 * blocks monitoring for good.
 *
 * Where: a lock in a directory another user can write can always be forged
 * or replaced. So a root agent keeps its locks in ROOT_LOCK_DIR
 * (/run/cloudconnexa-monitor, root's alone, emptied at boot), named after the
 * log directory's device and inode: rounds on the same directory meet there
 * whatever path they took, and no user can plant anything. An agent running
 * as another user keeps the lock in the log directory itself, where only
 * users who could already delete its files can interfere.
 *
 * Age: judged by the lock file's ctime, which the kernel sets when the lock
 * is linked into place and which no content can fake (a forged `startedAt`
 * in 2099 changes nothing). A lock older than LOCK_STALE_AFTER_MS is taken
 * over whatever its content says.
 *
 * What can sit at the lock path, and what follows:
 * - our lock, live holder: busy (exit 4) naming the pid;
 * - our lock, dead or reused pid, or from before a reboot, or too old: taken over;
 * - garbled, or over MAX_LOCK_BYTES: busy for GARBLED_GRACE_MS after its
 *   ctime (a lock being written by the open('wx') fallback), then taken over;
 * - a symbolic link, FIFO, device, socket or directory: E_LOG_DIR naming it.
 *   None is ever followed or opened, so nothing blocks and nothing is read
 *   unbounded; the agent never creates such a thing, so a person must look.
 *
 * Creation is link(2) of a fully written temp file onto the lock name: like
 * O_EXCL it succeeds for exactly one process, and unlike open('wx') + write no
 * reader can ever see the lock empty or half written (which it would have to
 * treat as garbled and take over). Where link is not supported we fall back to
 * open('wx') and give a garbled lock a short grace period instead.
 *
 * Taking over a stale lock goes through a second lock (`.break`): only its
 * holder may remove the stale file, after checking it is still the same file
 * (inode and content) it judged stale. Without that, a slow process could
 * remove the fresh lock a faster one had just created over the stale one.
 * A process that finds a takeover in progress waits for it (time-based, not
 * a count of attempts: the process taking over may be held off the CPU), and
 * then answers from what it finds: the lock, or busy naming the new holder.
 * The break lock is held for microseconds; one older than
 * LOCK_TAKEOVER_STALE_MS (or whose holder is dead) is taken over in turn, so
 * the wait ends by LOCK_TAKEOVER_WAIT_MS. Busy never names the stale lock's
 * holder: it is dead or hung, and the round that is taking over is not.
 * Every file operation goes through the lock directory's handle (no symbolic
 * link is ever followed, see dir-handle.ts).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError, LockedError } from '../../common/errors.ts';
import {
  LOCK_STALE_AFTER_MS,
  LOCK_TAKEOVER_STALE_MS,
  LOCK_TAKEOVER_WAIT_MS,
} from '../../common/round-budget.ts';
import {
  closeQuietly,
  type DirHandle,
  describeType,
  modeOf,
  openDirectory,
  writableByOthers,
} from './dir-handle.ts';
import type { LogDir } from './log-dir.ts';
import { lstatOrNull, readBounded } from './open-entry.ts';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

export interface RoundLock {
  path: string;
  release(): void;
}

export interface LockOptions {
  /** A lock older than this (by ctime) is taken over even if its holder lives: a hung round must not block monitoring. */
  staleAfterMs?: number;
  /** The break lock's stale age, LOCK_TAKEOVER_STALE_MS unless a test gives its own; the wait for a takeover is twice this at most. */
  takeoverStaleAfterMs?: number;
  now?: () => number;
  /** Where a root agent keeps its locks; ROOT_LOCK_DIR unless a test gives its own. */
  rootLockDir?: string;
}

/** The lock's name inside the log directory, for an agent that is not root. */
export const LOCK_FILE_NAME = '.cc-monitor.lock';
/** Where a root agent keeps its locks: created mode 0700, refused unless only root can write it. */
export const ROOT_LOCK_DIR = '/run/cloudconnexa-monitor';
export const DEFAULT_STALE_AFTER_MS = LOCK_STALE_AFTER_MS;
/** A lock is a JSON object of five short fields; anything longer is not one of ours. */
export const MAX_LOCK_BYTES = 4096;
/** Only the open('wx') fallback can expose a lock before its content is written. */
const GARBLED_GRACE_MS = 2_000;

interface LockContent {
  pid: number;
  startedAt: string;
  hostname: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): tells a reused pid apart. */
  procStart: string | null;
  /** /proc/sys/kernel/random/boot_id: a lock from before a reboot is stale whatever its pid. */
  bootId: string | null;
}

interface SeenLock {
  ino: number;
  ctimeMs: number;
  raw: string;
  content: LockContent | null;
}

/** The lock file name of a root agent for the log directory with this device and inode. */
export function rootLockName(dev: number, ino: number): string {
  return `${dev}-${ino}.lock`;
}

/**
 * Takes the round lock for `logDir` (see the module comment for where).
 * Throws LockedError (another round holds it) or E_LOG_DIR.
 */
export function acquireRoundLock(logDir: LogDir, o: LockOptions = {}): RoundLock {
  const root = process.geteuid?.() === 0;
  const dir = root ? openRootLockDir(o.rootLockDir ?? ROOT_LOCK_DIR) : logDir.reopen();
  const name = root ? rootLockName(logDir.stat.dev, logDir.stat.ino) : LOCK_FILE_NAME;
  try {
    const lock = acquireLock(dir, name, o);
    return {
      path: lock.path,
      release() {
        lock.release();
        dir.close();
      },
    };
  } catch (error) {
    dir.close();
    throw error;
  }
}

/**
 * Takes the lock file `name` in `dir`. The handle must stay open until the
 * lock is released. Throws LockedError or E_LOG_DIR.
 */
export function acquireLock(dir: DirHandle, name: string, o: LockOptions = {}): RoundLock {
  const now = o.now ?? Date.now;
  const staleAfterMs = o.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const takeoverStaleMs = o.takeoverStaleAfterMs ?? LOCK_TAKEOVER_STALE_MS;
  const text = JSON.stringify(describeSelf(now()));
  // A clock of its own: `now` judges ages (tests move it), this bounds the wait.
  const started = monotonicMs();
  const waitMs = (LOCK_TAKEOVER_WAIT_MS / LOCK_TAKEOVER_STALE_MS) * takeoverStaleMs;
  let takingOver: number | null = null;
  for (;;) {
    if (createExclusive(dir, name, text)) return heldLock(dir, name, text);
    const seen = readLock(dir, name);
    // null: released between our attempt and the read; try again.
    if (seen !== null) {
      if (!isStale(seen, now(), staleAfterMs)) {
        throw new LockedError(dir.display(name), seen.content?.pid ?? null);
      }
      const takeover = breakStaleLock(dir, name, seen, now, takeoverStaleMs);
      if (takeover !== null) {
        takingOver = takeover.by;
        sleepMs(5 + Math.floor(Math.random() * 15));
      }
    }
    // Only a chain of takeovers, each held up to its stale age, or a lock that keeps
    // changing under us (released and taken again and again) lasts this long.
    if (monotonicMs() - started > waitMs) {
      throw new LockedError(dir.display(name), takingOver, { takingOver: true });
    }
  }
}

function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function openRootLockDir(where: string): DirHandle {
  let dir: DirHandle;
  try {
    dir = openDirectory(where, { create: { mode: 0o700, as: () => null } });
  } catch (error) {
    throw new EnvironmentError(
      'E_LOG_DIR',
      `round lock directory ${where} cannot be used (${errnoOf(error) ?? 'error'}: ${error instanceof Error ? error.message : String(error)})`,
      where,
      { cause: error },
    );
  }
  if (dir.chosenBy !== null || dir.stat.uid !== 0 || writableByOthers(dir.stat)) {
    const why =
      dir.chosenBy !== null
        ? `is reached through ${dir.chosenBy.link}, a symbolic link uid ${dir.chosenBy.uid} owns`
        : `belongs to uid ${dir.stat.uid} with mode ${modeOf(dir.stat)}`;
    dir.close();
    throw new EnvironmentError(
      'E_LOG_DIR',
      `round lock directory ${where} ${why}: a root agent keeps its locks only where no other user can write; remove it and the agent recreates it`,
      where,
    );
  }
  return dir;
}

function heldLock(dir: DirHandle, name: string, text: string): RoundLock {
  let released = false;
  // A round that ends through process.exit() or an uncaught exception still frees the lock;
  // SIGKILL cannot be caught, and the dead pid makes that lock stale for the next round.
  const onExit = () => release();
  process.on('exit', onExit);
  function release(): void {
    if (released) return;
    released = true;
    process.removeListener('exit', onExit);
    try {
      // Only our own lock: after a stale takeover, the file belongs to another round.
      if (readLock(dir, name)?.raw === text) fs.unlinkSync(dir.entry(name));
    } catch {
      // Gone already, or not removable: the next round finds our pid dead and recovers it.
    }
  }
  return { path: dir.display(name), release };
}

/**
 * Removes the stale lock `seen` under the break lock. Returns null when the
 * caller should look again at once (removed, or changed meanwhile), or the
 * pid (null if unknown) of another process whose takeover is in progress.
 */
function breakStaleLock(
  dir: DirHandle,
  name: string,
  seen: SeenLock,
  now: () => number,
  takeoverStaleMs: number,
): { by: number | null } | null {
  const breaker = `${name}.break`;
  const breakerText = JSON.stringify(describeSelf(now()));
  if (!createExclusive(dir, breaker, breakerText)) {
    const other = readLock(dir, breaker);
    if (other === null) return null;
    if (!isStale(other, now(), takeoverStaleMs)) return { by: other.content?.pid ?? null };
    removeVerified(dir, breaker, other);
    return null;
  }
  try {
    const current = readLock(dir, name);
    // Changed since we judged it (released, or already replaced): the caller re-evaluates.
    if (current === null || current.ino !== seen.ino || current.raw !== seen.raw) return null;
    removeVerified(dir, name, seen);
    return null;
  } finally {
    try {
      if (readLock(dir, breaker)?.raw === breakerText) fs.unlinkSync(dir.entry(breaker));
    } catch {
      // Already removed as stale by another process.
    }
  }
}

/**
 * Moves the file aside under a unique name and deletes it only if it is the
 * file we judged; if a fresh lock slipped in, it is put back.
 */
function removeVerified(dir: DirHandle, name: string, seen: SeenLock): boolean {
  const aside = `${name}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(dir.entry(name), dir.entry(aside));
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw lockError(dir, name, 'cannot be moved aside', error);
  }
  try {
    if (fs.lstatSync(dir.entry(aside)).ino !== seen.ino) {
      try {
        fs.linkSync(dir.entry(aside), dir.entry(name));
      } catch {
        // Another lock was created meanwhile; it is the one in force.
      }
      return false;
    }
    return true;
  } finally {
    try {
      fs.unlinkSync(dir.entry(aside));
    } catch {
      // Nothing to clean up.
    }
  }
}

function isStale(seen: SeenLock, now: number, staleAfterMs: number): boolean {
  // ctime, not the content: set by the kernel when the file was linked into place.
  const age = now - seen.ctimeMs;
  const lock = seen.content;
  if (lock === null) return age > GARBLED_GRACE_MS;
  if (age > staleAfterMs) return true;
  const self = describeSelf(now);
  const sameBoot = lock.bootId !== null && self.bootId !== null ? lock.bootId === self.bootId : null;
  if (sameBoot === false && lock.hostname === self.hostname) return true; // Written before a reboot.
  const sameMachine = sameBoot ?? lock.hostname === self.hostname;
  // A lock from another machine (shared file system) cannot be checked: only its age counts.
  if (!sameMachine) return false;
  if (!isAlive(lock.pid)) return true;
  const procStart = readProcStart(lock.pid);
  return lock.procStart !== null && procStart !== null && procStart !== lock.procStart;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return errnoOf(error) === 'EPERM';
  }
}

function describeSelf(now: number): LockContent {
  return {
    pid: process.pid,
    startedAt: new Date(now).toISOString(),
    hostname: os.hostname(),
    procStart: readProcStart(process.pid),
    bootId: readBootId(),
  };
}

export function readProcStart(pid: number): string | null {
  const stat = readKernelFile(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : null;
}

function readBootId(): string | null {
  const id = readKernelFile('/proc/sys/kernel/random/boot_id')?.trim() ?? '';
  return id === '' ? null : id;
}

/** A small /proc file, or null. Bounded like every other read. */
function readKernelFile(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const { text, complete } = readBounded(fd, MAX_LOCK_BYTES);
    return complete ? text : null;
  } catch {
    return null;
  } finally {
    closeQuietly(fd);
  }
}

function createExclusive(dir: DirHandle, name: string, text: string): boolean {
  const temp = `${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeNew(dir, temp, text);
  } catch (error) {
    throw lockError(dir, name, 'cannot be created', error);
  }
  try {
    fs.linkSync(dir.entry(temp), dir.entry(name));
    return true;
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
      throw lockError(dir, name, 'cannot be created', error);
    }
  } finally {
    try {
      fs.unlinkSync(dir.entry(temp));
    } catch {
      // Nothing to clean up.
    }
  }
  return createWithOpenExclusive(dir, name, text);
}

/** For file systems without hard links. */
function createWithOpenExclusive(dir: DirHandle, name: string, text: string): boolean {
  try {
    writeNew(dir, name, text);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw lockError(dir, name, 'cannot be created', error);
  }
}

/** O_EXCL never opens what is there already, link or not. */
function writeNew(dir: DirHandle, name: string, text: string): void {
  const fd = fs.openSync(dir.entry(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/** The lock file as it is now, or null when there is none. Never follows, never blocks, reads at most MAX_LOCK_BYTES. */
function readLock(dir: DirHandle, name: string): SeenLock | null {
  const target = dir.entry(name);
  let fd: number;
  try {
    const seen = lstatOrNull(target);
    if (seen === null) return null;
    if (!seen.isFile()) throw notALock(dir, name, describeType(seen));
    fd = fs.openSync(target, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if (error instanceof EnvironmentError) throw error;
    if (errnoOf(error) === 'ENOENT') return null;
    if (errnoOf(error) === 'ELOOP') throw notALock(dir, name, 'a symbolic link', error);
    throw lockError(dir, name, 'cannot be read', error);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw notALock(dir, name, describeType(stat));
    const { text, complete } = readBounded(fd, MAX_LOCK_BYTES);
    return { ino: stat.ino, ctimeMs: stat.ctimeMs, raw: text, content: complete ? parseLock(text) : null };
  } finally {
    fs.closeSync(fd);
  }
}

function parseLock(raw: string): LockContent | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  // pid 0 or negative would make kill(pid, 0) address process groups.
  if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
  if (typeof v.startedAt !== 'string' || typeof v.hostname !== 'string') return null;
  return {
    pid: v.pid,
    startedAt: v.startedAt,
    hostname: v.hostname,
    procStart: typeof v.procStart === 'string' ? v.procStart : null,
    bootId: typeof v.bootId === 'string' ? v.bootId : null,
  };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function notALock(dir: DirHandle, name: string, found: string, cause?: unknown): EnvironmentError {
  const file = dir.display(name);
  const refusal = found === 'a symbolic link' ? 'refusing to follow it' : 'refusing to open it';
  return new EnvironmentError(
    'E_LOG_DIR',
    `round lock ${file} is ${found}, not a lock file; ${refusal} (the agent only ever creates regular files there); remove it`,
    file,
    cause === undefined ? undefined : { cause },
  );
}

function lockError(dir: DirHandle, name: string, what: string, error: unknown): EnvironmentError {
  const file = dir.display(name);
  return new EnvironmentError(
    'E_LOG_DIR',
    `round lock ${file} ${what} (${errnoOf(error) ?? 'error'}: ${dir.explain(error)}); the agent must be able to write ${dir.path}`,
    file,
    { cause: error },
  );
}
