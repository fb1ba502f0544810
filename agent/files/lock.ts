/**
 * The round lock: one round per host at a time (SSM may send a command while a
 * cron round still runs), and a crashed or hung round never blocks monitoring
 * for good.
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
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError, LockedError } from '../../common/errors.ts';
import { LOCK_STALE_AFTER_MS } from '../../common/round-budget.ts';

export interface RoundLock {
  path: string;
  release(): void;
}

export interface LockOptions {
  /** A lock older than this is taken over even if its holder lives: a hung round must not block monitoring. */
  staleAfterMs?: number;
  now?: () => number;
}

export const LOCK_FILE_NAME = '.cc-monitor.lock';
export const DEFAULT_STALE_AFTER_MS = LOCK_STALE_AFTER_MS;
/** Only the open('wx') fallback can expose a lock before its content is written. */
const GARBLED_GRACE_MS = 2_000;
/** The break lock is held for microseconds; older than this, its holder died while holding it. */
const BREAKER_STALE_MS = 30_000;
const MAX_ATTEMPTS = 50;

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
  mtimeMs: number;
  raw: string;
  content: LockContent | null;
}

export function acquireRoundLock(dir: string, o: LockOptions = {}): RoundLock {
  const lockPath = path.join(path.resolve(dir), LOCK_FILE_NAME);
  const now = o.now ?? Date.now;
  const staleAfterMs = o.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const text = JSON.stringify(describeSelf(now()));
  let holderPid: number | null = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    if (createExclusive(lockPath, text)) return heldLock(lockPath, text);
    const seen = readLock(lockPath);
    if (seen === null) continue; // Released between our attempt and the read: try again.
    holderPid = seen.content?.pid ?? null;
    if (!isStale(seen, now(), staleAfterMs)) throw new LockedError(lockPath, holderPid);
    if (!breakStaleLock(lockPath, seen, now)) sleepMs(5 + Math.floor(Math.random() * 15));
  }
  throw new LockedError(lockPath, holderPid);
}

function heldLock(lockPath: string, text: string): RoundLock {
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
      if (fs.readFileSync(lockPath, 'utf8') === text) fs.unlinkSync(lockPath);
    } catch {
      // Gone already, or not removable: the next round finds our pid dead and recovers it.
    }
  }
  return { path: lockPath, release };
}

/** Returns true when it removed the stale lock, false when another process is doing it. */
function breakStaleLock(lockPath: string, seen: SeenLock, now: () => number): boolean {
  const breakerPath = `${lockPath}.break`;
  const breakerText = JSON.stringify(describeSelf(now()));
  if (!createExclusive(breakerPath, breakerText)) {
    const breaker = readLock(breakerPath);
    if (breaker !== null && isStale(breaker, now(), BREAKER_STALE_MS)) removeVerified(breakerPath, breaker);
    return false;
  }
  try {
    const current = readLock(lockPath);
    // Changed since we judged it (released, or already replaced): the caller re-evaluates.
    if (current === null || current.ino !== seen.ino || current.raw !== seen.raw) return true;
    return removeVerified(lockPath, seen);
  } finally {
    try {
      if (fs.readFileSync(breakerPath, 'utf8') === breakerText) fs.unlinkSync(breakerPath);
    } catch {
      // Already removed as stale by another process.
    }
  }
}

/**
 * Moves the file aside under a unique name and deletes it only if it is the
 * file we judged; if a fresh lock slipped in, it is put back.
 */
function removeVerified(file: string, seen: SeenLock): boolean {
  const aside = `${file}.stale.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw lockError(file, 'cannot be moved aside', error);
  }
  try {
    if (fs.statSync(aside).ino !== seen.ino) {
      try {
        fs.linkSync(aside, file);
      } catch {
        // Another lock was created meanwhile; it is the one in force.
      }
      return false;
    }
    return true;
  } finally {
    try {
      fs.unlinkSync(aside);
    } catch {
      // Nothing to clean up.
    }
  }
}

function isStale(seen: SeenLock, now: number, staleAfterMs: number): boolean {
  const lock = seen.content;
  if (lock === null) return now - seen.mtimeMs > GARBLED_GRACE_MS;
  const started = Date.parse(lock.startedAt);
  if (!Number.isFinite(started)) return now - seen.mtimeMs > GARBLED_GRACE_MS;
  if (now - started > staleAfterMs) return true;
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
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const value = fields[19];
    return value !== undefined && /^\d+$/.test(value) ? value : null;
  } catch {
    return null;
  }
}

function readBootId(): string | null {
  try {
    const id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return id === '' ? null : id;
  } catch {
    return null;
  }
}

function createExclusive(file: string, text: string): boolean {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(temp, text, { mode: 0o644, flag: 'wx' });
  } catch (error) {
    throw lockError(file, 'cannot be created', error);
  }
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') {
      throw lockError(file, 'cannot be created', error);
    }
  } finally {
    try {
      fs.unlinkSync(temp);
    } catch {
      // Nothing to clean up.
    }
  }
  return createWithOpenExclusive(file, text);
}

/** For file systems without hard links. */
function createWithOpenExclusive(file: string, text: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx', 0o644);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw lockError(file, 'cannot be created', error);
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readLock(file: string): SeenLock | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw lockError(file, 'cannot be read', error);
  }
  try {
    const stat = fs.fstatSync(fd);
    const raw = fs.readFileSync(fd, 'utf8');
    return { ino: stat.ino, mtimeMs: stat.mtimeMs, raw, content: parseLock(raw) };
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

function lockError(file: string, what: string, error: unknown): EnvironmentError {
  const reason = error instanceof Error ? error.message : String(error);
  return new EnvironmentError(
    'E_LOG_DIR',
    `round lock ${file} ${what} (${errnoOf(error) ?? 'error'}: ${reason}); the log directory must be writable by the agent`,
    file,
  );
}
