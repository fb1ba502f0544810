/**
 * Reads the `--config` JSON file. The file decides, among other things, where
 * a root agent writes (`log-dir`), so it gets logrotate's rule for
 * configuration files: when the agent is root, the file, its directory and
 * every symbolic link on the way must be root's alone. It is found without
 * following links in its last component blindly (dir-handle.ts), opened only
 * when it is a regular file (never a FIFO or device, which would block or
 * never end) and read up to MAX_CONFIG_BYTES.
 */
import * as fs from 'node:fs';
import { errnoOf } from '../../common/errno.ts';
import { MonitorError } from '../../common/errors.ts';
import {
  closeQuietly,
  describeType,
  type FoundEntry,
  findEntry,
  modeOf,
  PathWalkError,
  writableByOthers,
} from '../files/dir-handle.ts';
import { readBounded } from '../files/open-entry.ts';
import { jsonMemberTexts } from './json-member-texts.ts';
import { type ConfigObject, readConfigObject } from './resolve-options.ts';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;

/** Far above any valid configuration (50 resources of 512 characters and the options). */
export const MAX_CONFIG_BYTES = 256 * 1024;

/**
 * The options in the config file `file`, checked as readConfigObject checks
 * them, its numbers as written there (json-member-texts.ts). Throws
 * E_CONFIG_FILE naming the file and what is wrong, E_INVALID_INPUT for a key
 * or value that is not allowed.
 */
export function loadConfigFile(file: string): ConfigObject {
  const text = readConfigText(file);
  return readConfigObject(parseConfigText(text, file), file, jsonMemberTexts(text));
}

/** The parsed JSON value of the file at `file`. Throws E_CONFIG_FILE naming the file and what is wrong. */
export function readConfigFile(file: string): unknown {
  return parseConfigText(readConfigText(file), file);
}

function parseConfigText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw configError(`${shownFile(file)} is not valid JSON (${reason})`, error);
  }
}

const shownFile = (file: string): string => `--config ${JSON.stringify(file)}`;

function readConfigText(file: string): string {
  const shown = shownFile(file);
  let found: FoundEntry;
  try {
    found = findEntry(file);
  } catch (error) {
    const code = errnoOf(error) ?? 'error';
    const detail = error instanceof PathWalkError ? `: ${error.message}` : '';
    throw configError(`${shown} cannot be read (${code}${detail}): give a readable JSON file`, error);
  }
  try {
    return withoutByteOrderMark(readFound(found, shown));
  } finally {
    found.parent.close();
  }
}

/**
 * The text without a leading UTF-8 byte order mark (EF BB BF, which some
 * Windows editors write): JSON.parse refuses it with a message whose culprit
 * is invisible, and RFC 8259 section 8.1 lets a parser ignore it, as Node.js
 * does for a JSON file it requires.
 */
function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function readFound(found: FoundEntry, shown: string): string {
  const { parent, name, stat } = found;
  if (stat === null) throw configError(`${shown} cannot be read (ENOENT): give a readable JSON file`);
  if (!stat.isFile())
    throw configError(`${shown} is ${describeType(stat)}, not a regular file: give a JSON file`);
  if (process.geteuid?.() === 0) checkOnlyRootCanChange(found, shown);
  let fd: number;
  try {
    fd = fs.openSync(parent.entry(name), O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    throw configError(
      `${shown} cannot be read (${errnoOf(error) ?? 'error'}): give a readable JSON file`,
      error,
    );
  }
  try {
    const opened = fs.fstatSync(fd);
    if (!opened.isFile() || opened.ino !== stat.ino || opened.dev !== stat.dev) {
      throw configError(`${shown} was replaced while it was being read; try again`);
    }
    const { text, complete } = readBounded(fd, MAX_CONFIG_BYTES);
    if (!complete) {
      throw configError(
        `${shown} is larger than ${MAX_CONFIG_BYTES} bytes: a configuration is a small JSON object`,
      );
    }
    return text;
  } finally {
    closeQuietly(fd);
  }
}

/**
 * A root agent takes settings only from a file no other user can change or
 * swap: links on the way, the file and its directory must be root's and not
 * writable by others (a sticky directory, like /tmp, protects root's file).
 */
function checkOnlyRootCanChange({ parent, name, stat }: FoundEntry, shown: string): void {
  const file = parent.realPath === '/' ? `/${name}` : `${parent.realPath}/${name}`;
  let problem: string | null = null;
  if (parent.chosenBy !== null) {
    problem = `is reached through the symbolic link ${parent.chosenBy.link}, which uid ${parent.chosenBy.uid} owns`;
  } else if (stat !== null && stat.uid !== 0) {
    problem = `(${file}) is owned by uid ${stat.uid}`;
  } else if (stat !== null && writableByOthers(stat)) {
    problem = `(${file}) is writable by other users (mode ${modeOf(stat)})`;
  } else if (parent.stat.uid !== 0) {
    problem = `is in ${parent.realPath}, which uid ${parent.stat.uid} owns and can replace the file in`;
  } else if (writableByOthers(parent.stat) && (parent.stat.mode & 0o1000) === 0) {
    problem = `is in ${parent.realPath}, which other users can write (mode ${modeOf(parent.stat)})`;
  }
  if (problem !== null) {
    throw configError(
      `${shown} ${problem}: the agent runs as root and takes settings only from a file only root can change; make it root's (chown root, chmod go-w) in a directory only root can write, such as /etc`,
    );
  }
}

/** `cause`: the caught error, when there is one. */
function configError(message: string, cause?: unknown): MonitorError {
  return new MonitorError('E_CONFIG_FILE', message, cause === undefined ? undefined : { cause });
}
