/**
 * Keeps the log directory bounded. The agent runs every few minutes for months;
 * without rotation the JSON report and the MTR text files fill the disk, and a
 * full disk is what tears records.
 *
 * Everything goes through the log directory's handle as its acting user
 * (log-dir.ts): sizes come from lstat, and rename(2) and unlink(2) act on
 * names, never on what a symbolic link points to, so a link planted at
 * `report.N` or among the MTR files is moved or left alone, never followed.
 */
import * as fs from 'node:fs';
import { errnoOf } from '../../common/errno.ts';
import { EnvironmentError, InvalidInputError } from '../../common/errors.ts';
import { closeQuietly } from './dir-handle.ts';
import type { LogDir } from './log-dir.ts';
import { lstatOrNull } from './open-entry.ts';
import { keepPermissions } from './write-atomic.ts';

/**
 * Listing more entries than this is refused rather than held in memory: over
 * twice the largest --max-mtr-files (100,000), so only a directory flooded by
 * someone else reaches it.
 */
export const MAX_LISTED_ENTRIES = 250_000;

/**
 * When the regular file `name` in `dir` is larger than maxBytes:
 * name.(keep-1) -> name.keep, ..., name -> name.1; the previous name.keep is
 * dropped. keep 0 drops the file itself. Anything but a regular file at
 * `name` is left for appendLine to refuse. `name` then starts again empty,
 * with the permissions of the file rotated away (startAgainLike). Returns
 * the display paths that were removed or renamed away, in the order acted on
 * (oldest first). Run it
 * under the round lock: two rotators would shift twice. An appender that
 * opened the file before the rename writes into name.1, so its line is kept.
 * Throws E_LOG_DIR, E_INVALID_INPUT.
 */
export function rotateIfNeeded(dir: LogDir, name: string, o: { maxBytes: number; keep: number }): string[] {
  if (!Number.isFinite(o.maxBytes) || o.maxBytes < 0) {
    throw new InvalidInputError('rotate maxBytes', o.maxBytes, 'a number of bytes, 0 or more');
  }
  if (!Number.isInteger(o.keep) || o.keep < 0) {
    throw new InvalidInputError('rotate keep', o.keep, 'a whole number of rotated files, 0 or more');
  }
  return dir.run(`rotating ${name}`, () => {
    const stat = lstatOrNull(dir.entry(name));
    if (stat === null || !stat.isFile() || stat.size <= o.maxBytes) return [];
    const acted: string[] = [];
    const numbered = (n: number) => `${name}.${n}`;
    const oldest = o.keep === 0 ? name : numbered(o.keep);
    if (removeIfPresent(dir, oldest)) acted.push(dir.display(oldest));
    for (let n = o.keep - 1; n >= 0; n -= 1) {
      const from = n === 0 ? name : numbered(n);
      if (renameIfPresent(dir, from, numbered(n + 1))) acted.push(dir.display(from));
    }
    startAgainLike(dir, name, stat);
    return acted;
  });
}

/**
 * Creates `name` empty with the permission bits (and, as root, the group) of
 * the file rotated away, as logrotate's `create` does: a report made private
 * with chmod 600 must not come back 0644 from the next append. An appender
 * that got there first (EEXIST) keeps its file.
 */
function startAgainLike(dir: LogDir, name: string, rotated: fs.Stats): void {
  let fd: number;
  try {
    // 'wx' is O_CREAT | O_EXCL, which never follows a link at the name (EEXIST).
    fd = fs.openSync(dir.entry(name), 'wx', 0o600);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return;
    throw error;
  }
  try {
    keepPermissions(fd, rotated, false);
  } finally {
    closeQuietly(fd);
  }
}

const MTR_FILE = /^MTR-(?:RESOURCE|GATEWAY)-(\d+)\.txt$/;

/**
 * Keeps the newest maxFiles MTR text files (MTR-RESOURCE-<id>.txt,
 * MTR-GATEWAY-<id>.txt) in `dir` and deletes the others. Newest means the
 * largest id (ids are timestamps, and mtime changes when files are copied),
 * then the latest mtime. Every other file, and anything that is not a
 * regular file (a symbolic link included), is left alone. Returns the deleted
 * display paths. Throws E_LOG_DIR (also when the directory holds more than
 * MAX_LISTED_ENTRIES entries), E_INVALID_INPUT.
 */
export function pruneMtrFiles(dir: LogDir, o: { maxFiles: number; maxListed?: number }): string[] {
  if (!Number.isInteger(o.maxFiles) || o.maxFiles < 0) {
    throw new InvalidInputError('prune maxFiles', o.maxFiles, 'a whole number of files, 0 or more');
  }
  return dir.run('pruning MTR files', () => {
    const candidates: { name: string; id: string; mtimeMs: number }[] = [];
    for (const name of listNames(dir, (n) => MTR_FILE.test(n), o.maxListed ?? MAX_LISTED_ENTRIES)) {
      const match = MTR_FILE.exec(name);
      const id = match?.[1];
      if (id === undefined) continue;
      const stat = lstatOrNull(dir.entry(name)); // null: removed by someone else since the listing
      if (stat === null || !stat.isFile()) continue;
      candidates.push({ name, id: id.replace(/^0+(?=\d)/, ''), mtimeMs: stat.mtimeMs });
    }
    candidates.sort(
      (a, b) =>
        compareDigits(b.id, a.id) ||
        b.mtimeMs - a.mtimeMs ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
    const deleted: string[] = [];
    for (const candidate of candidates.slice(o.maxFiles)) {
      if (removeIfPresent(dir, candidate.name)) deleted.push(dir.display(candidate.name));
    }
    return deleted;
  });
}

/** The entry names that `keep` accepts, read one at a time so that a flooded directory is refused, not loaded. */
function listNames(dir: LogDir, keep: (name: string) => boolean, maxListed: number): string[] {
  const names: string[] = [];
  const listing = fs.opendirSync(dir.listing());
  try {
    let seen = 0;
    for (let entry = listing.readSync(); entry !== null; entry = listing.readSync()) {
      seen += 1;
      if (seen > maxListed) {
        throw new EnvironmentError(
          'E_LOG_DIR',
          `log directory ${dir.path} holds more than ${maxListed} entries; MTR files are not pruned until it is cleaned up`,
          dir.path,
        );
      }
      if (keep(entry.name)) names.push(entry.name);
    }
  } finally {
    listing.closeSync();
  }
  return names;
}

/** Compares decimal digit strings without leading zeros, of any length (no Number overflow). */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function removeIfPresent(dir: LogDir, name: string): boolean {
  try {
    fs.unlinkSync(dir.entry(name));
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

function renameIfPresent(dir: LogDir, from: string, to: string): boolean {
  try {
    fs.renameSync(dir.entry(from), dir.entry(to));
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}
