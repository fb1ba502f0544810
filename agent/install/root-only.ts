/**
 * What systemd runs as root must stay root's: node, the agent copy, the unit
 * files and every directory above them. A directory another user can write
 * lets that user put their own entry in place of ours, and systemd resolves
 * the paths again at every start, long after install looked at them. (The
 * agent checks its config file and log dir itself at every round.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { MonitorError } from '../../common/errors.ts';
import { modeOf, writableByOthers } from '../files/dir-handle.ts';

/**
 * The real path of `file`, once it and every directory above it are owned by
 * root and writable by no one else (a sticky directory such as /tmp keeps
 * root's entries root's, so it may be). Throws E_INSTALL naming what is not.
 */
export function requireRootOnly(file: string, what: string): string {
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (error) {
    throw new MonitorError('E_INSTALL', `${what} ${file} cannot be found (${errnoOf(error) ?? 'error'})`);
  }
  let at = '/';
  for (const part of ['', ...real.split('/').filter(Boolean)]) {
    at = path.join(at, part);
    const stat = fs.lstatSync(at);
    const open = writableByOthers(stat) && (at === real || (stat.mode & 0o1000) === 0);
    if (stat.uid !== 0 || open) {
      const problem =
        stat.uid !== 0 ? `belongs to uid ${stat.uid}` : `is writable by others (mode ${modeOf(stat)})`;
      throw new MonitorError(
        'E_INSTALL',
        `${what} ${real}: ${at} ${problem}; systemd runs it as root, so it and the directories above it must be root's alone`,
      );
    }
  }
  return real;
}
