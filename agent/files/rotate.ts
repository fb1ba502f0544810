/**
 * Keeps the log directory bounded. The agent runs every few minutes for months;
 * without rotation the JSON report and the MTR text files fill the disk, and a
 * full disk is what tears records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { errnoOf } from '../../common/errno.ts';
import { InvalidInputError } from '../../common/errors.ts';

/**
 * When `file` is larger than maxBytes: file.(keep-1) -> file.keep, ..., file ->
 * file.1; the previous file.keep is dropped. keep 0 drops the file itself.
 * Returns the paths that were removed or renamed away, in the order acted on
 * (oldest first). Run it under the round lock: two rotators would shift twice.
 * An appender that opened the file before the rename writes into file.1, so
 * its line is kept, not lost.
 */
export function rotateIfNeeded(file: string, o: { maxBytes: number; keep: number }): string[] {
  if (!Number.isFinite(o.maxBytes) || o.maxBytes < 0) {
    throw new InvalidInputError('rotate maxBytes', o.maxBytes, 'a number of bytes, 0 or more');
  }
  if (!Number.isInteger(o.keep) || o.keep < 0) {
    throw new InvalidInputError('rotate keep', o.keep, 'a whole number of rotated files, 0 or more');
  }
  const size = sizeOf(file);
  if (size === null || size <= o.maxBytes) return [];
  const acted: string[] = [];
  const numbered = (n: number) => `${file}.${n}`;
  const oldest = o.keep === 0 ? file : numbered(o.keep);
  if (removeIfPresent(oldest)) acted.push(oldest);
  for (let n = o.keep - 1; n >= 0; n -= 1) {
    const from = n === 0 ? file : numbered(n);
    if (renameIfPresent(from, numbered(n + 1))) acted.push(from);
  }
  return acted;
}

const MTR_FILE = /^MTR-(?:RESOURCE|GATEWAY)-(\d+)\.txt$/;

/**
 * Keeps the newest maxFiles MTR text files (MTR-RESOURCE-<id>.txt,
 * MTR-GATEWAY-<id>.txt) and deletes the others. Newest means the largest id
 * (ids are timestamps, and mtime changes when files are copied), then the
 * latest mtime. Every other file, and anything that is not a regular file, is
 * left alone. Returns the deleted paths.
 */
export function pruneMtrFiles(dir: string, o: { maxFiles: number }): string[] {
  if (!Number.isInteger(o.maxFiles) || o.maxFiles < 0) {
    throw new InvalidInputError('prune maxFiles', o.maxFiles, 'a whole number of files, 0 or more');
  }
  const candidates: { file: string; id: string; mtimeMs: number; name: string }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const match = MTR_FILE.exec(name);
    const id = match?.[1];
    if (id === undefined) continue;
    const file = path.join(dir, name);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      continue; // Removed by someone else since readdir.
    }
    if (!stat.isFile()) continue;
    candidates.push({ file, id: id.replace(/^0+(?=\d)/, ''), mtimeMs: stat.mtimeMs, name });
  }
  candidates.sort(
    (a, b) =>
      compareDigits(b.id, a.id) || b.mtimeMs - a.mtimeMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const deleted: string[] = [];
  for (const candidate of candidates.slice(o.maxFiles)) {
    if (removeIfPresent(candidate.file)) deleted.push(candidate.file);
  }
  return deleted;
}

/** Compares decimal digit strings without leading zeros, of any length (no Number overflow). */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sizeOf(file: string): number | null {
  try {
    return fs.statSync(file).size;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    throw error;
  }
}

function removeIfPresent(file: string): boolean {
  try {
    fs.unlinkSync(file);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

function renameIfPresent(from: string, to: string): boolean {
  try {
    fs.renameSync(from, to);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}
