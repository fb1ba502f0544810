/**
 * Directories addressed by what was checked, not by a path that can change
 * afterwards.
 *
 * A path is walked from `/` one component at a time, each directory opened
 * with O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK and symbolic links read and
 * followed by hand, so the walk knows every link on the way and who owns it
 * (the kernel's own protected_symlinks rule is off on many hosts, and would
 * hide that information anyway). The walk ends with an open descriptor of the
 * directory; every later operation names its file as
 * `/proc/self/fd/<fd>/<name>`, which the kernel resolves through that
 * descriptor: renaming the directory or any ancestor, or swapping either for a
 * symbolic link, after the walk changes nothing. (Node.js has no openat(2);
 * this is how to get its guarantee on Linux. The agent is Linux-only.)
 *
 * File names inside a handle are single components; no operation through a
 * handle ever resolves a symbolic link in the last component unless the
 * caller asks for it (see open-entry.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { attachCause, MonitorError } from '../../common/errors.ts';
import { actAs, type Principal } from './act-as.ts';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
/** O_NONBLOCK: never wait on whatever sits at the path (a FIFO fails O_DIRECTORY before it could block). */
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK;
/** Linux's own limit on symbolic links in one path resolution (MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;
/** Entries flipping between two checks (an attacker racing the walk) cannot keep it going past this. */
const MAX_STEPS = 4096;

/** The owner of a symbolic link the walk followed: that user chose where the path leads. */
export interface LinkOwner {
  uid: number;
  gid: number;
  /** The link's own path (ancestors resolved). */
  link: string;
}

export interface DirHandle {
  /** The path as given, made absolute: for messages and the result document. */
  readonly path: string;
  /** Where the walk really ended, symbolic links resolved. */
  readonly realPath: string;
  /** fstat of the directory when it was opened. */
  readonly stat: fs.Stats;
  /** The owner of the last symbolic link followed that a non-root user owns, or null. */
  readonly chosenBy: LinkOwner | null;
  /** The path to use for the file `name` in this very directory (a single component). */
  entry(name: string): string;
  /** The path that lists this very directory. */
  listing(): string;
  /** `name` under the given path, for people. */
  display(name: string): string;
  /** An error's message with the /proc/self/fd form replaced by the directory's path. */
  explain(error: unknown): string;
  /** A second descriptor for the same directory, closed on its own. */
  reopen(): DirHandle;
  /** fsync of the directory (makes renames durable); best effort. */
  sync(): void;
  /** Idempotent; the handle refuses every use afterwards (its fd number may be reused). */
  close(): void;
}

/** Why a walk stopped: `code` is an errno name, `at` the path where it stopped. */
export class PathWalkError extends Error {
  readonly code: string;
  readonly at: string;
  readonly detail: string;
  constructor(code: string, at: string, detail: string, options?: ErrorOptions) {
    super(`${at} ${detail}`);
    this.name = 'PathWalkError';
    this.code = code;
    this.at = at;
    this.detail = detail;
    attachCause(this, options);
  }
}

export interface WalkOptions {
  /**
   * Create missing directories with this mode (before umask). `as` names the
   * user each is created as, given its parent's stat and the link owner so far.
   */
  create?: { mode: number; as: (parent: fs.Stats, chosenBy: LinkOwner | null) => Principal | null };
}

/** Opens the directory at `given` (relative paths resolve against the cwd). Throws PathWalkError. */
export function openDirectory(given: string, o: WalkOptions = {}): DirHandle {
  const absolute = path.resolve(given);
  const walked = walk(absolute, o, false);
  return makeHandle(absolute, walked.fd, walked.realPath, walked.chosenBy);
}

/** The last component of a file path, found but not opened, with its directory open. */
export interface FoundEntry {
  parent: DirHandle;
  name: string;
  /** lstat of the entry (never a symbolic link: those are followed), null when it does not exist. */
  stat: fs.Stats | null;
}

/** Walks to the directory holding `given`'s last component (following links), without opening it. */
export function findEntry(given: string): FoundEntry {
  const absolute = path.resolve(given);
  const walked = walk(absolute, {}, true);
  if (walked.last === null) {
    closeQuietly(walked.fd);
    throw new PathWalkError('EISDIR', absolute, 'is a directory');
  }
  const parent = makeHandle(path.dirname(absolute), walked.fd, walked.realPath, walked.chosenBy);
  return { parent, name: walked.last.name, stat: walked.last.stat };
}

/** A short description of what a stat describes, for messages: "a FIFO (named pipe)". */
export function describeType(stat: fs.Stats): string {
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFile()) return 'a regular file';
  return 'a special file';
}

/** The permission bits as people write them: "0755". */
export function modeOf(stat: fs.Stats): string {
  return (stat.mode & 0o7777).toString(8).padStart(4, '0');
}

/** Group-writable by a group other than root's, or writable by everyone. */
export function writableByOthers(stat: fs.Stats): boolean {
  return ((stat.mode & 0o020) !== 0 && stat.gid !== 0) || (stat.mode & 0o002) !== 0;
}

export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed: nothing left to release.
  }
}

interface Walked {
  fd: number;
  realPath: string;
  chosenBy: LinkOwner | null;
  last: { name: string; stat: fs.Stats | null } | null;
}

function walk(absolute: string, o: WalkOptions, lastIsEntry: boolean): Walked {
  let fd = openDirectoryAt('/', '/');
  let real: string[] = [];
  let chosenBy: LinkOwner | null = null;
  let links = 0;
  const todo = components(absolute);
  try {
    for (let steps = 0; todo.length > 0; steps++) {
      if (steps > MAX_STEPS) throw new PathWalkError('ELOOP', absolute, 'kept changing while it was checked');
      const name = todo.shift() as string;
      const here = path.posix.join('/', ...real, name);
      if (name === '..') {
        const up = openDirectoryAt(procPath(fd, '..'), here);
        fs.closeSync(fd);
        fd = up;
        real = real.slice(0, -1);
        continue;
      }
      const isLast = todo.length === 0;
      const stat = lstatOrNull(procPath(fd, name), here);
      if (stat === null) {
        if (lastIsEntry && isLast) return { fd, realPath: joinReal(real), chosenBy, last: { name, stat } };
        if (o.create === undefined) throw new PathWalkError('ENOENT', here, 'does not exist');
        makeDirectory(fd, name, here, o.create, chosenBy);
        todo.unshift(name);
        continue;
      }
      if (stat.isSymbolicLink()) {
        links += 1;
        if (links > MAX_SYMLINKS) {
          throw new PathWalkError('ELOOP', here, `leads through more than ${MAX_SYMLINKS} symbolic links`);
        }
        const target = readLink(procPath(fd, name), here);
        if (stat.uid !== 0) chosenBy = { uid: stat.uid, gid: stat.gid, link: here };
        if (target.startsWith('/')) {
          const top = openDirectoryAt('/', '/');
          fs.closeSync(fd);
          fd = top;
          real = [];
        }
        todo.unshift(...components(target));
        continue;
      }
      if (lastIsEntry && isLast) return { fd, realPath: joinReal(real), chosenBy, last: { name, stat } };
      if (!stat.isDirectory())
        throw new PathWalkError('ENOTDIR', here, `is ${describeType(stat)}, not a directory`);
      let next: number;
      try {
        next = fs.openSync(procPath(fd, name), DIR_FLAGS);
      } catch (error) {
        const code = errnoOf(error);
        // Replaced between lstat and open: look again (bounded by MAX_STEPS).
        if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENOENT') {
          todo.unshift(name);
          continue;
        }
        throw walkError(error, here);
      }
      fs.closeSync(fd);
      fd = next;
      real.push(name);
    }
    return { fd, realPath: joinReal(real), chosenBy, last: null };
  } catch (error) {
    closeQuietly(fd);
    throw error;
  }
}

function makeDirectory(
  parentFd: number,
  name: string,
  here: string,
  create: NonNullable<WalkOptions['create']>,
  chosenBy: LinkOwner | null,
): void {
  const who = create.as(fs.fstatSync(parentFd), chosenBy);
  try {
    actAs(who, () => fs.mkdirSync(procPath(parentFd, name), create.mode));
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return; // Created meanwhile: the walk looks at what is there now.
    const as = who === null ? '' : ` as uid ${who.uid} (${who.why})`;
    throw new PathWalkError(
      errnoOf(error) ?? 'EIO',
      here,
      `cannot be created${as}: ${messageOf(error).split(procPath(parentFd, name)).join(here)}`,
      { cause: error },
    );
  }
}

function openDirectoryAt(target: string, here: string): number {
  try {
    return fs.openSync(target, DIR_FLAGS);
  } catch (error) {
    throw walkError(error, here);
  }
}

function lstatOrNull(target: string, here: string): fs.Stats | null {
  try {
    return fs.lstatSync(target);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw walkError(error, here);
  }
}

function readLink(target: string, here: string): string {
  try {
    return fs.readlinkSync(target);
  } catch (error) {
    throw walkError(error, here);
  }
}

function walkError(error: unknown, here: string): PathWalkError {
  const code = errnoOf(error) ?? 'EIO';
  return new PathWalkError(code, here, `cannot be opened (${code})`, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

function joinReal(real: string[]): string {
  return `/${real.join('/')}`;
}

function procPath(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function makeHandle(given: string, fd: number, realPath: string, chosenBy: LinkOwner | null): DirHandle {
  let open = true;
  const prefix = `/proc/self/fd/${fd}`;
  let stat: fs.Stats;
  try {
    stat = fs.fstatSync(fd);
    const viaProc = fs.statSync(prefix);
    if (viaProc.ino !== stat.ino || viaProc.dev !== stat.dev)
      throw new Error('/proc/self/fd/N is another file');
  } catch (error) {
    closeQuietly(fd);
    throw new PathWalkError(
      errnoOf(error) ?? 'ENOENT',
      '/proc/self/fd',
      `does not lead to the opened directory (${messageOf(error)}): the agent needs /proc mounted`,
      { cause: error },
    );
  }
  const live = (): void => {
    if (!open) throw new MonitorError('E_INTERNAL', `the handle of directory ${given} was used after close`);
  };
  const handle: DirHandle = {
    path: given,
    realPath,
    stat,
    chosenBy,
    entry(name) {
      live();
      if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
        throw new MonitorError('E_INTERNAL', `not a single file name: ${JSON.stringify(name)}`);
      }
      return `${prefix}/${name}`;
    },
    listing() {
      live();
      return prefix;
    },
    display(name) {
      return path.join(given, name);
    },
    explain(error) {
      return messageOf(error).split(prefix).join(given);
    },
    reopen() {
      live();
      return makeHandle(given, fs.openSync(`${prefix}/.`, DIR_FLAGS), realPath, chosenBy);
    },
    sync() {
      live();
      try {
        fs.fsyncSync(fd);
      } catch {
        // Some file systems refuse fsync on a directory; the files' own content is durable already.
      }
    },
    close() {
      if (!open) return;
      open = false;
      closeQuietly(fd);
    },
  };
  return handle;
}
