/**
 * Whole-file writes that a crash cannot tear: readers see the old file or the
 * new one, never a prefix. The temp file lives in the same directory because
 * rename(2) is atomic only within one file system.
 *
 * Both steps go through the log directory's handle as its acting user: the
 * temp file is created with O_EXCL | O_NOFOLLOW (a name someone planted makes
 * the write fail, it is never written through), and rename(2) replaces the
 * target's name without following it, so a link planted at the target is
 * replaced, never written through.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { closeQuietly, type DirHandle } from './dir-handle.ts';
import type { LogDir } from './log-dir.ts';
import { lstatOrNull } from './open-entry.ts';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/**
 * How the new file's permissions are chosen. By default it takes the
 * permission bits (and, as root, the group) of the file it replaces: a user
 * who made the file 0600 keeps it private. A new file gets 0644 less the
 * umask.
 */
export interface ReplaceOptions {
  /** Permission bits set whatever the umask and whatever was there (install's units and agent copy). */
  mode?: number;
  /**
   * When the agent runs as root: the owner and group of the file it replaces
   * too (an operator's file, `report --html`). Files in the log dir keep the
   * acting user's (log-dir.ts), which their readers require.
   */
  keepOwner?: boolean;
}

/**
 * Replaces the file `name` in `dir` with `content` (UTF-8), keeping the
 * replaced file's permission bits (ReplaceOptions). Throws what `dir.run`
 * makes of a failure: E_LOG_DIR for the log directory (LogDir.run).
 */
export function writeFileAtomic(
  dir: Pick<LogDir, 'run'> & Pick<DirHandle, 'entry' | 'sync'>,
  name: string,
  content: string,
  options: ReplaceOptions = {},
): void {
  dir.run(`writing ${name}`, () => replaceFile(dir, name, content, options));
}

/**
 * The same through any directory handle, as the process itself (or as the
 * user `dir.run` acts as). Throws the errno error.
 *
 * Only the permission bits (0777) are carried over, never set-user-ID,
 * set-group-ID or sticky: the file at the name may have been swapped since it
 * was looked at by whoever can write the directory, and nothing the agent
 * writes is a program. Only a regular file at the name is a model.
 */
export function replaceFile(
  dir: Pick<DirHandle, 'entry' | 'sync'>,
  name: string,
  content: string | Buffer,
  options: ReplaceOptions = {},
): void {
  const temp = `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fd: number | undefined;
  try {
    const seen = options.mode === undefined ? lstatOrNull(dir.entry(name)) : null;
    fd = fs.openSync(dir.entry(temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
    if (options.mode !== undefined) fs.fchmodSync(fd, options.mode);
    else if (seen?.isFile() === true) keepPermissions(fd, seen, options.keepOwner === true);
    const buffer = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    let offset = 0;
    while (offset < buffer.length) offset += fs.writeSync(fd, buffer, offset, buffer.length - offset);
    // Without fsync before rename, a power loss can leave the new name pointing at an empty file.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(dir.entry(temp), dir.entry(name));
  } catch (error) {
    if (fd !== undefined) closeQuietly(fd);
    unlinkQuietly(dir.entry(temp));
    throw error;
  }
  // Makes the rename itself durable.
  dir.sync();
}

/**
 * Gives the open file `fd` the permission bits of `model`; as root (not while
 * acting as another user, who could not) its group too (a log readable by
 * `adm` stays so), and with `owner` its owner. The owner first: chown clears
 * set-id bits.
 */
export function keepPermissions(fd: number, model: fs.Stats, owner: boolean): void {
  // Root not acting as another user creates files as uid 0.
  if (process.geteuid?.() === 0) fs.fchownSync(fd, owner ? model.uid : 0, model.gid);
  fs.fchmodSync(fd, model.mode & 0o777);
}

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Never created, or already gone.
  }
}
