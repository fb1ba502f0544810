/**
 * Runs a synchronous piece of file work with another user's effective uid and
 * gid, so that the kernel itself refuses what that user may not do (append to
 * a root-only file, write into a root-owned directory), whatever the agent's
 * own checks miss. logrotate's `su` directive does the same for directories
 * that non-root users can write.
 *
 * Why this is safe to do inside a Node.js process:
 * - Only synchronous work runs in between: no JavaScript can interleave, so
 *   no other part of the agent ever runs with the borrowed identity.
 * - The identity is restored in `finally`, on success and on every exception.
 *   seteuid() keeps the saved set-user-ID 0, so switching back cannot fail.
 * - glibc applies seteuid/setegid/setgroups to every thread, the libuv thread
 *   pool included. The rounds call this only when no fs work is in flight
 *   (before the probes start and after they all finished); a DNS lookup left
 *   over from a timed-out probe could at worst fail, never gain rights.
 */
import { readFileSync } from 'node:fs';
import { MonitorError } from '../../common/errors.ts';

/** The user file work runs as: uid and gid, and why (for error messages). */
export interface Principal {
  uid: number;
  gid: number;
  why: string;
}

/**
 * The gid used when the user's own group cannot be known without the user
 * database: `nogroup` (Debian, Ubuntu) / `nobody` (RHEL), which grants nothing.
 */
export const NO_GROUP = 65534;

let acting: Principal | null = null;

/** The principal currently in force inside actAs, or null. */
export function currentPrincipal(): Principal | null {
  return acting;
}

/**
 * Runs `work` as `who` (null: as the agent itself) and returns its result.
 * Supplementary groups are dropped for the duration. Throws E_INTERNAL when
 * asked to switch while not root, or while already acting as someone else.
 */
export function actAs<T>(who: Principal | null, work: () => T): T {
  if (who === null) return work();
  if (acting !== null) {
    if (acting.uid === who.uid && acting.gid === who.gid) return work();
    throw new MonitorError('E_INTERNAL', `actAs: already acting as uid ${acting.uid}, asked for ${who.uid}`);
  }
  const { seteuid, setegid, setgroups, geteuid, getegid, getgroups } = process;
  if (!seteuid || !setegid || !setgroups || !geteuid || !getegid || !getgroups) {
    throw new MonitorError('E_INTERNAL', 'actAs: this platform cannot change the effective user');
  }
  const saved = { euid: geteuid(), egid: getegid(), groups: supplementaryGroups() ?? getgroups() };
  if (saved.euid !== 0) {
    throw new MonitorError(
      'E_INTERNAL',
      `actAs: only root can act as uid ${who.uid} (euid is ${saved.euid})`,
    );
  }
  try {
    // Groups and gid first: once the euid is dropped, neither may be changed any more.
    setgroups([]);
    setegid(who.gid);
    seteuid(who.uid);
    acting = who;
    return work();
  } finally {
    acting = null;
    if (geteuid() !== saved.euid) seteuid(saved.euid);
    setegid(saved.egid);
    setgroups(saved.groups);
  }
}

/**
 * The kernel's supplementary groups (/proc/self/status, a kernel file). Not
 * process.getgroups(): it adds the egid, and restoring that list would give
 * the process a group it did not have.
 */
function supplementaryGroups(): number[] | null {
  try {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Groups:'));
    if (line === undefined) return null;
    const ids = line.slice('Groups:'.length).trim().split(/\s+/).filter(Boolean).map(Number);
    return ids.every(Number.isInteger) ? ids : null;
  } catch {
    return null;
  }
}
