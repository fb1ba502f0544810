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

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/**
 * Replaces the file `name` in `dir` with `content` (UTF-8). Throws what
 * `dir.run` makes of a failure: E_LOG_DIR for the log directory (LogDir.run).
 */
export function writeFileAtomic(
  dir: Pick<LogDir, 'run'> & Pick<DirHandle, 'entry' | 'sync'>,
  name: string,
  content: string,
): void {
  dir.run(`writing ${name}`, () => replaceFile(dir, name, content));
}

/**
 * The same through any directory handle, as the process itself; `mode`, when
 * given, is set whatever the umask. Throws the errno error.
 */
export function replaceFile(
  dir: Pick<DirHandle, 'entry' | 'sync'>,
  name: string,
  content: string | Buffer,
  mode?: number,
): void {
  const temp = `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir.entry(temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 0o644);
    if (mode !== undefined) fs.fchmodSync(fd, mode);
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

function unlinkQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Never created, or already gone.
  }
}
