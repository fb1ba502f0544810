/**
 * Reads the newest lines of a line-oriented file in the log directory (the
 * round history) with a bound on what is read, however large the file has
 * grown: the file is read backwards from its end in chunks until enough
 * complete lines are found, the byte budget is spent or its start is reached.
 *
 * A line counts only when a newline ends it: a tail without one is a record
 * being appended or torn by a crash (append-line.ts), and is left out. Lines
 * are split on the newline byte before decoding, so a UTF-8 sequence is never
 * cut. The file is opened as every file in the log directory is (log-dir.ts,
 * open-entry.ts): through the directory handle, as its acting user, never
 * through a link, and kept only when it is a regular file of that user with
 * one link.
 */
import * as fs from 'node:fs';
import { MonitorError } from '../../common/errors.ts';
import type { LogDir } from './log-dir.ts';
import { openRegularFile } from './open-entry.ts';

/** The first read from the end when the caller does not size it; each later read doubles what was read. */
export const FIRST_READ_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface LinesRead {
  /** Complete, non-empty lines, oldest first. */
  lines: string[];
  /** The read reached the file's first byte: no older line was left unread. */
  fromStart: boolean;
  /** Bytes read. */
  bytes: number;
  /**
   * The file ends with bytes no newline closes (a record in flight or torn),
   * which the next append turns into a line of its own (append-line.ts);
   * false when nothing was read.
   */
  openTail: boolean;
  /** The file read, as it was when opened: what an append can tell a change by (sameFile). */
  file: FileState;
}

/**
 * A file's identity and size: a file unchanged since it was read has the
 * same (another user's line slipped in makes it longer; a replaced file has
 * another inode).
 */
export interface FileState {
  dev: number;
  ino: number;
  size: number;
}

export const fileState = (stat: fs.Stats): FileState => ({ dev: stat.dev, ino: stat.ino, size: stat.size });

/** Whether two states are the same file at the same size. */
export const sameFile = (a: FileState, b: FileState): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size;

export interface TailBounds {
  /** Complete, non-empty lines wanted (Infinity: every line the byte budget reaches). */
  maxLines: number;
  /** Bytes read at most, from the end. */
  maxBytes: number;
  /**
   * The first read (bytes): about what `maxLines` lines are expected to take,
   * so that a steady file is read in one go; default FIRST_READ_BYTES.
   */
  firstReadBytes?: number;
}

/**
 * The last `maxLines` complete, non-empty lines of `name` in `dir`, reading
 * at most `maxBytes` from its end (fewer lines when the budget runs out
 * first). The file is read backwards in growing reads (firstReadBytes, then
 * doubling what was read) until enough lines are found, so a round pays for
 * the lines it needs, not for the budget. Null when the file does not exist.
 * Throws E_LOG_DIR when it is not a regular file of the acting user with one
 * link, or cannot be read (see LogDir.run).
 */
export function readLastLines(dir: LogDir, name: string, o: TailBounds): LinesRead | null {
  const first = o.firstReadBytes ?? FIRST_READ_BYTES;
  if (!(o.maxLines >= 0) || !(o.maxBytes >= 0) || !(first >= 1)) {
    throw new MonitorError(
      'E_INTERNAL',
      `readLastLines: bad bounds ${o.maxLines} lines, ${o.maxBytes} bytes, first read ${first} bytes`,
    );
  }
  return dir.run(`reading ${name}`, () => {
    const opened = openRegularFile(dir, name, fs.constants.O_RDONLY, {
      action: 'read it',
      owner: dir.actingUid,
      singleLink: true,
    });
    if (opened === null) return null;
    try {
      return {
        ...readBackwards(
          opened.fd,
          opened.stat.size,
          o.maxLines,
          Math.max(0, opened.stat.size - o.maxBytes),
          first,
        ),
        file: fileState(opened.stat),
      };
    } finally {
      fs.closeSync(opened.fd);
    }
  });
}

/**
 * Reads [budgetStart, size) backwards: each read prepends older bytes to
 * `region` (the bytes [start, size)), and the newlines are looked for with
 * Buffer.lastIndexOf (native) only in what the lines found so far do not
 * cover. Lines are positions into `region` until the end, so only the lines
 * kept become strings.
 */
function readBackwards(
  fd: number,
  size: number,
  maxLines: number,
  budgetStart: number,
  firstReadBytes: number,
): Omit<LinesRead, 'file'> {
  let region = Buffer.alloc(0);
  let start = size;
  // Absolute offsets: [from, to) of each line found, newest first.
  const found: [number, number][] = [];
  // The newline that ends the oldest line not yet found; null until the last newline is seen.
  let lineEnd: number | null = null;
  let readSize = firstReadBytes;
  while (found.length < maxLines && start > budgetStart) {
    const from = Math.max(budgetStart, start - readSize);
    const chunk = Buffer.allocUnsafe(start - from);
    let filled = 0;
    while (filled < chunk.length) {
      const n = fs.readSync(fd, chunk, filled, chunk.length - filled, from + filled);
      if (n === 0) break;
      filled += n;
    }
    // Short: the file was cut under us; bytes that do not reach `start` would join lines wrongly, so stop here.
    if (filled < chunk.length) break;
    region = region.length === 0 ? chunk : Buffer.concat([chunk, region]);
    start = from;
    lineEnd = collect(region, start, lineEnd, found, maxLines);
    readSize = region.length;
  }
  // At the file's first byte, the bytes before the oldest newline are a whole line too.
  if (start === 0 && lineEnd !== null && lineEnd > 0 && found.length < maxLines) found.push([0, lineEnd]);
  const lines = found.reverse().map(([a, b]) => region.toString('utf8', a - start, b - start));
  const openTail = region.length > 0 && region[region.length - 1] !== NEWLINE;
  return { lines, fromStart: start === 0, bytes: region.length, openTail };
}

/**
 * Finds lines in `region` (the file's bytes from `start`) older than
 * `lineEnd`, appending them to `found` until it holds `maxLines`; returns the
 * newline ending the oldest line still to be found (null: no newline seen yet;
 * a tail without one is a record in flight or torn, and is never a line).
 */
function collect(
  region: Buffer,
  start: number,
  lineEnd: number | null,
  found: [number, number][],
  maxLines: number,
): number | null {
  let end: number;
  if (lineEnd !== null) end = lineEnd;
  else {
    const last = region.lastIndexOf(NEWLINE);
    if (last < 0) return null;
    end = start + last;
  }
  while (found.length < maxLines && end > start) {
    const previous: number = region.lastIndexOf(NEWLINE, end - start - 1);
    if (previous < 0) break;
    // An empty line (two newlines in a row) is no record: skipped, not counted.
    if (start + previous + 1 < end) found.push([start + previous + 1, end]);
    end = start + previous;
  }
  return end;
}

/** A file of the log directory held open for reading (openForReading): its size when opened. */
export interface HeldFile {
  fd: number;
  size: number;
}

/**
 * Opens `name` in `dir` for reading as readLastLines does (regular file of
 * the acting user, one link, never through a link); null when it does not
 * exist. The caller closes `fd`. Throws E_LOG_DIR (see LogDir.run).
 */
export function openForReading(dir: LogDir, name: string): HeldFile | null {
  return dir.run(`reading ${name}`, () => {
    const opened = openRegularFile(dir, name, fs.constants.O_RDONLY, {
      action: 'read it',
      owner: dir.actingUid,
      singleLink: true,
    });
    return opened === null ? null : { fd: opened.fd, size: opened.stat.size };
  });
}

/** Bytes read at a time by forEachLine. */
const FORWARD_CHUNK_BYTES = 1024 * 1024;

/**
 * Calls `onLine` for each complete, non-empty line of the bytes [from, to)
 * of `fd`, oldest first, holding at most one chunk and one line in memory:
 * the lines readLastLines would give for that range (when `from` is not 0,
 * the bytes before the first newline are the end of an older line and are
 * left out; a tail without a newline is left out). A line longer than
 * `maxLineBytes` is not decoded: `onLine(null)` stands for it. Stops early
 * when the file turns out shorter than `to` (cut under us).
 */
export function forEachLine(
  fd: number,
  from: number,
  to: number,
  maxLineBytes: number,
  onLine: (line: string | null) => void,
): void {
  const chunk = Buffer.allocUnsafe(Math.min(FORWARD_CHUNK_BYTES, Math.max(1, to - from)));
  // The start of the line being read, held across chunks; null while skipping.
  let carry: Buffer[] = [];
  let carried = 0;
  let skipping = from > 0;
  let oversize = false;
  let position = from;
  while (position < to) {
    const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, to - position), position);
    if (n === 0) break;
    position += n;
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 || newline >= n ? n : newline;
      const length = carried + end - start;
      if (!skipping && !oversize) {
        if (length > maxLineBytes) {
          oversize = true;
          carry = [];
          carried = 0;
        } else if (newline >= 0 && newline < n) {
          if (length > 0)
            onLine(
              carried === 0
                ? chunk.toString('utf8', start, end)
                : Buffer.concat([...carry, chunk.subarray(start, end)]).toString('utf8'),
            );
        } else if (end > start) {
          // Copied: the chunk is overwritten by the next read.
          carry.push(Buffer.from(chunk.subarray(start, end)));
          carried += end - start;
        }
      }
      if (newline < 0 || newline >= n) break;
      if (oversize) onLine(null);
      carry = [];
      carried = 0;
      skipping = false;
      oversize = false;
      start = newline + 1;
    }
  }
}
