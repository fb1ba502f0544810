/**
 * Opening one file in a directory handle the way a root process must open
 * files in a directory someone else can write: never through a symbolic link
 * (O_NOFOLLOW), never waiting on a FIFO or device (lstat first, O_NONBLOCK on
 * the open), and only keeping what fstat proves to be a regular file (with,
 * for files we write, the expected owner and a single link, so a hard link to
 * another file is never written through). Reads are always bounded.
 */
import * as fs from 'node:fs';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError } from '../../common/errors.ts';
import { closeQuietly, type DirHandle, describeType } from './dir-handle.ts';

const { O_NOFOLLOW, O_NONBLOCK, O_CREAT } = fs.constants;

export interface RegularFileRules {
  /** What the caller is about to do, for the refusal: "append to it". */
  action: string;
  /** Creation mode (before umask), when flags include O_CREAT. */
  mode?: number;
  /** The uid the file must belong to (files the agent writes are its own). */
  owner?: number;
  /** Refuse a file with more than one hard link (writing it would change another name's content). */
  singleLink?: boolean;
  /** Builds the error for a refusal; default E_LOG_DIR naming the file. `cause`: the open(2) error that showed it. */
  refuse?: (file: string, found: string, action: string, cause?: unknown) => Error;
}

export interface OpenedFile {
  fd: number;
  stat: fs.Stats;
}

/**
 * Opens `name` in `dir` with `flags` (plus O_NOFOLLOW | O_NONBLOCK). Returns
 * null when it does not exist and flags lack O_CREAT. Throws the `refuse`
 * error when the entry is not a regular file (symbolic link, FIFO, device,
 * socket, directory) or breaks `owner`/`singleLink`; other failures throw the
 * errno error as is.
 */
export function openRegularFile(
  dir: DirHandle,
  name: string,
  flags: number,
  rules: RegularFileRules,
): OpenedFile | null {
  const refuse = rules.refuse ?? refuseInLogDir;
  const target = dir.entry(name);
  const shown = dir.display(name);
  // lstat before open: some devices act on open (a tape rewinds), so a non-regular file is never opened.
  const seen = lstatOrNull(target);
  if (seen !== null && !seen.isFile()) throw refuse(shown, describeType(seen), rules.action);
  if (seen === null && (flags & O_CREAT) === 0) return null;
  let fd: number;
  try {
    fd = fs.openSync(target, flags | O_NOFOLLOW | O_NONBLOCK, rules.mode ?? 0o644);
  } catch (error) {
    const code = errnoOf(error);
    // Replaced since the lstat: ELOOP is a symbolic link (O_NOFOLLOW), ENXIO a FIFO without a reader.
    if (code === 'ELOOP') throw refuse(shown, 'a symbolic link', rules.action, error);
    if (code === 'ENXIO') throw refuse(shown, 'a FIFO (named pipe)', rules.action, error);
    if (code === 'ENOENT' && (flags & O_CREAT) === 0) return null;
    throw error;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw refuse(shown, describeType(stat), rules.action);
    if (rules.owner !== undefined && stat.uid !== rules.owner) {
      throw refuse(
        shown,
        `owned by uid ${stat.uid}, not by uid ${rules.owner} that the agent writes as`,
        rules.action,
      );
    }
    if (rules.singleLink === true && stat.nlink !== 1) {
      throw refuse(
        shown,
        `a file with ${stat.nlink} hard links (another name shares its content)`,
        rules.action,
      );
    }
    return { fd, stat };
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

/** The refusal for a file in the log directory: E_LOG_DIR naming the file, what was found, and what to do. */
export function refuseInLogDir(
  file: string,
  found: string,
  action: string,
  cause?: unknown,
): EnvironmentError {
  const followed = found === 'a symbolic link' ? 'refusing to follow it' : `refusing to ${action}`;
  return new EnvironmentError(
    'E_LOG_DIR',
    `${file} is ${found}; ${followed} (the agent writes only regular files of its own there); remove it, or choose another --log-dir`,
    file,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Reads at most `maxBytes` from the descriptor's current position. `complete`
 * is false when more was there: the caller treats the content as too large
 * instead of reading on (a /dev/zero or a huge file is never read whole).
 */
export function readBounded(fd: number, maxBytes: number): { text: string; complete: boolean } {
  const buffer = Buffer.alloc(maxBytes + 1);
  let filled = 0;
  while (filled < buffer.length) {
    const n = fs.readSync(fd, buffer, filled, buffer.length - filled, null);
    if (n === 0) break;
    filled += n;
  }
  return {
    text: buffer.subarray(0, Math.min(filled, maxBytes)).toString('utf8'),
    complete: filled <= maxBytes,
  };
}

export function lstatOrNull(target: string): fs.Stats | null {
  try {
    return fs.lstatSync(target);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw error;
  }
}
