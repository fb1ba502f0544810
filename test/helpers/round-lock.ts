/** Where a root agent keeps the round lock of a log directory (agent/files/lock.ts). */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT_LOCK_DIR, rootLockName } from '../../agent/files/lock.ts';

/** The lock file's path, or null while the log directory does not exist yet. */
export function roundLockPath(logDir: string): string | null {
  if (!existsSync(logDir)) return null;
  const st = statSync(logDir);
  return join(ROOT_LOCK_DIR, rootLockName(st.dev, st.ino));
}

export function roundLockExists(logDir: string): boolean {
  const file = roundLockPath(logDir);
  return file !== null && existsSync(file);
}
