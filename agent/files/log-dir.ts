/**
 * The log directory: found and checked before a round starts (so a round never
 * runs for minutes and then fails to record its result), and the one way the
 * agent touches files in it.
 *
 * The agent usually runs as root, and the default log directory
 * (/home/ubuntu/Connexa-Logs) sits in a directory another user owns, who can
 * rename it and plant symbolic links, hard links, FIFOs or files there. The
 * rules, after logrotate's for directories that non-root users can write:
 *
 * 1. The path is walked component by component (dir-handle.ts) and every
 *    operation goes through the opened directory's descriptor: what is
 *    renamed or swapped after the walk is never reached.
 * 2. When the agent is root, every operation in the directory runs as the
 *    user who controls it (act-as.ts), so the kernel refuses what that user
 *    may not do:
 *    - the owner of the last symbolic link on the way that a non-root user
 *      owns: that user chose where the directory is, so the agent writes
 *      there only with that user's rights (a link to /etc gets EACCES);
 *    - else the directory's owner, when not root: that user controls what is
 *      in it;
 *    - else root itself, provided no other user can write the directory; a
 *      root-owned directory writable by a non-root group or by everyone is
 *      refused (logrotate's "insecure permissions").
 *    The directory's ancestors need no rule of their own: a user who can
 *    write one can swap in only a directory they own, a link they own (both
 *    covered above), or a root-owned directory that already lived in a place
 *    they control, which protects nothing from them. This keeps working the
 *    root-owned Connexa-Logs that the old script (run as root) created inside
 *    /home/ubuntu.
 * 3. Every file is opened without following links and without blocking, and
 *    kept only when fstat shows a regular file of the expected owner with one
 *    link (open-entry.ts); reads are bounded.
 *
 * The acting user's gid is the group of the link or directory that made them
 * the acting user, or 65534 when that group is root's; supplementary groups
 * are dropped. POSIX ACLs are not read (Node.js has no xattr API): a user
 * granted write access by an ACL alone is still bounded by rules 1 and 3.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError, MonitorError } from '../../common/errors.ts';
import { actAs, NO_GROUP, type Principal } from './act-as.ts';
import {
  closeQuietly,
  type DirHandle,
  type LinkOwner,
  modeOf,
  openDirectory,
  PathWalkError,
  writableByOthers,
} from './dir-handle.ts';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

export interface LogDir extends DirHandle {
  /** Who file work in the directory runs as; null: the agent's own user. */
  readonly actingAs: Principal | null;
  /** The uid that owns the files the agent writes there. */
  readonly actingUid: number;
  /**
   * Runs `work` as `actingAs`. An errno error becomes E_LOG_DIR naming the
   * directory, `what` was done and the user it was done as; MonitorErrors pass.
   */
  run<T>(what: string, work: () => T): T;
}

/**
 * Opens `dir` (creating missing directories, mode 0755), decides who acts in
 * it, and proves with a real write that the round can record its result.
 * Throws E_LOG_DIR. The caller closes the returned handle.
 */
export function prepareLogDir(dir: string): LogDir {
  const absolute = path.resolve(dir);
  let handle: DirHandle;
  try {
    handle = openDirectory(absolute, { create: { mode: 0o755, as: creatorIn } });
  } catch (error) {
    throw logDirError(absolute, ' cannot be used', error, null);
  }
  try {
    const logDir = asLogDir(handle, actingUserFor(handle));
    writeProbe(logDir);
    return logDir;
  } catch (error) {
    handle.close();
    throw error;
  }
}

/**
 * Opens an existing `dir` only to read what earlier rounds left there (the
 * history report): nothing is created or written, and the same rules decide
 * who acts in it. Throws E_LOG_DIR (a missing directory included). The caller
 * closes the returned handle.
 */
export function openLogDirForReading(dir: string): LogDir {
  const absolute = path.resolve(dir);
  let handle: DirHandle;
  try {
    handle = openDirectory(absolute);
  } catch (error) {
    throw logDirError(absolute, ' cannot be read', error, null);
  }
  try {
    return asLogDir(handle, actingUserFor(handle));
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** A missing directory is created as the user who controls its parent (same rule as for the log directory). */
function creatorIn(parent: fs.Stats, chosenBy: LinkOwner | null): Principal | null {
  if (process.geteuid?.() !== 0) return null;
  if (chosenBy !== null) return viaLink(chosenBy);
  return parent.uid !== 0 ? asOwner(parent) : null;
}

function actingUserFor(handle: DirHandle): Principal | null {
  if (process.geteuid?.() !== 0) return null;
  if (handle.chosenBy !== null) return viaLink(handle.chosenBy);
  if (handle.stat.uid !== 0) return asOwner(handle.stat);
  if (writableByOthers(handle.stat)) {
    const who = (handle.stat.mode & 0o002) !== 0 ? 'everyone' : `group ${handle.stat.gid}`;
    throw new EnvironmentError(
      'E_LOG_DIR',
      `log directory ${describeDir(handle)} is owned by root but writable by ${who} (mode ${modeOf(handle.stat)}): other users could plant links or files there, so the agent refuses to write there as root; remove the write permission (chmod go-w), give the directory to the user it is for, or choose another --log-dir`,
      handle.path,
    );
  }
  return null;
}

function viaLink(link: LinkOwner): Principal {
  return {
    uid: link.uid,
    gid: link.gid !== 0 ? link.gid : NO_GROUP,
    why: `it is reached through the symbolic link ${link.link}, which uid ${link.uid} owns`,
  };
}

function asOwner(stat: fs.Stats): Principal {
  return { uid: stat.uid, gid: stat.gid !== 0 ? stat.gid : NO_GROUP, why: `uid ${stat.uid} owns it` };
}

function asLogDir(handle: DirHandle, actingAs: Principal | null): LogDir {
  const actingUid = actingAs?.uid ?? process.geteuid?.() ?? 0;
  return {
    ...handle,
    actingAs,
    actingUid,
    run<T>(what: string, work: () => T): T {
      try {
        return actAs(actingAs, work);
      } catch (error) {
        if (error instanceof MonitorError) throw error;
        throw logDirError(handle.path, `: ${what} failed`, error, actingAs, handle);
      }
    },
  };
}

/** mode 0o755 and the directory bits say little (root, ACLs, read-only mounts): only a real write proves it. */
function writeProbe(logDir: LogDir): void {
  const probe = logDir.entry(`.cc-monitor-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    actAs(logDir.actingAs, () => {
      const fd = fs.openSync(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
      try {
        fs.writeSync(fd, 'probe\n');
      } finally {
        closeQuietly(fd);
        fs.unlinkSync(probe);
      }
    });
  } catch (error) {
    throw logDirError(logDir.path, ' is not writable', error, logDir.actingAs, logDir);
  }
}

function describeDir(handle: DirHandle): string {
  return handle.realPath === handle.path ? handle.path : `${handle.path} (really ${handle.realPath})`;
}

const ADVICE: Record<string, string> = {
  EACCES:
    'run the agent as a user that may write there (root, or the directory owner), or choose another --log-dir',
  EPERM: 'run the agent as a user that may write there, or choose another --log-dir',
  EROFS:
    'the file system is mounted read-only (under the systemd service: run install again after changing log-dir); choose a --log-dir on a writable file system',
  ENOSPC: 'the disk is full; free space (old MTR files, rotated reports) or choose another --log-dir',
  EDQUOT: 'the disk quota is exhausted; free space or choose another --log-dir',
  ENOTDIR: 'a part of the path is not a directory; remove it or choose another --log-dir',
  EEXIST: 'a file with that name exists where the directory should be; remove it or choose another --log-dir',
  ELOOP: 'the path leads through too many symbolic links; choose another --log-dir',
};

/** `what` follows the directory in the message, with its own leading space or colon. */
function logDirError(
  dir: string,
  what: string,
  error: unknown,
  actingAs: Principal | null,
  handle?: DirHandle,
): EnvironmentError {
  const code = errnoOf(error) ?? 'UNKNOWN';
  const denied = code === 'EACCES' || code === 'EPERM';
  const hint =
    actingAs !== null && denied
      ? `give the directory and its files to uid ${actingAs.uid}, or point --log-dir at a directory only root can write`
      : (ADVICE[code] ?? 'check the path and its permissions, or choose another --log-dir');
  const reason =
    error instanceof PathWalkError
      ? error.message
      : handle !== undefined
        ? handle.explain(error)
        : error instanceof Error
          ? error.message
          : String(error);
  const shown = handle === undefined ? dir : describeDir(handle);
  // Node's errno messages start with the code already ("EACCES: permission denied, open ...").
  const evidence = reason.startsWith(`${code}:`) ? reason : `${code}: ${reason}`;
  const as =
    actingAs === null
      ? ''
      : ` — the agent acts there as uid ${actingAs.uid} (gid ${actingAs.gid}) because ${actingAs.why}`;
  return new EnvironmentError('E_LOG_DIR', `log directory ${shown}${what} (${evidence})${as}; ${hint}`, dir, {
    cause: error,
  });
}
