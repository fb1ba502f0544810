/**
 * Checks the log directory before a round starts, so that a round never runs
 * for minutes and then fails to record its result.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError } from '../../common/errors.ts';

export function prepareLogDir(dir: string): string {
  const absolute = path.resolve(dir);
  try {
    fs.mkdirSync(absolute, { recursive: true, mode: 0o755 });
  } catch (error) {
    throw logDirError(absolute, 'cannot be created', error);
  }
  // mode 0o755 and the directory bits say little (root, ACLs, read-only mounts): only a real write proves it.
  const probe = path.join(absolute, `.cc-monitor-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fd = fs.openSync(probe, 'wx', 0o644);
    try {
      fs.writeSync(fd, 'probe\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    throw logDirError(absolute, 'is not writable', error);
  } finally {
    try {
      fs.unlinkSync(probe);
    } catch {
      // Not created (the failure above says why) or already gone.
    }
  }
  return absolute;
}

function logDirError(dir: string, what: string, error: unknown): EnvironmentError {
  const code = errnoOf(error) ?? 'UNKNOWN';
  const advice: Record<string, string> = {
    EACCES:
      'run the agent as a user that may write there (root, or the directory owner), or choose another --log-dir',
    EPERM: 'run the agent as a user that may write there, or choose another --log-dir',
    EROFS: 'the file system is mounted read-only; choose a --log-dir on a writable file system',
    ENOSPC: 'the disk is full; free space (old MTR files, rotated reports) or choose another --log-dir',
    EDQUOT: 'the disk quota is exhausted; free space or choose another --log-dir',
    ENOTDIR: 'a part of the path is a file, not a directory; remove it or choose another --log-dir',
    EEXIST:
      'a file with that name exists where the directory should be; remove it or choose another --log-dir',
  };
  const hint = advice[code] ?? 'check the path and its permissions, or choose another --log-dir';
  const reason = error instanceof Error ? error.message : String(error);
  return new EnvironmentError('E_LOG_DIR', `log directory ${dir} ${what} (${code}: ${reason}); ${hint}`, dir);
}
