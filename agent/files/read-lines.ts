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

const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface LinesRead {
  /** Complete, non-empty lines, oldest first. */
  lines: string[];
  /** The read reached the file's first byte: no older line was left unread. */
  fromStart: boolean;
  /** Bytes read. */
  bytes: number;
}

/**
 * The last `maxLines` complete lines of `name` in `dir`, reading at most
 * `maxBytes` from its end (fewer lines when the budget runs out first). Null
 * when the file does not exist. Throws E_LOG_DIR when it is not a regular file
 * of the acting user with one link, or cannot be read (see LogDir.run).
 */
export function readLastLines(
  dir: LogDir,
  name: string,
  o: { maxLines: number; maxBytes: number },
): LinesRead | null {
  if (!(o.maxLines >= 0) || !(o.maxBytes >= 0)) {
    throw new MonitorError(
      'E_INTERNAL',
      `readLastLines: bad bounds ${o.maxLines} lines, ${o.maxBytes} bytes`,
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
      return readBackwards(opened.fd, opened.stat.size, o);
    } finally {
      fs.closeSync(opened.fd);
    }
  });
}

function readBackwards(fd: number, size: number, o: { maxLines: number; maxBytes: number }): LinesRead {
  const chunks: Buffer[] = [];
  let start = size;
  let newlines = 0;
  const budgetStart = Math.max(0, size - o.maxBytes);
  // Complete lines in [start, size): between newlines, plus the first one once the start is reached.
  const complete = (): number => (start === 0 ? newlines : Math.max(0, newlines - 1));
  while (start > budgetStart && complete() < o.maxLines) {
    const from = Math.max(budgetStart, start - CHUNK_BYTES);
    const chunk = Buffer.alloc(start - from);
    let filled = 0;
    while (filled < chunk.length) {
      const n = fs.readSync(fd, chunk, filled, chunk.length - filled, from + filled);
      // The file shrank under us (rotated by another writer): read what there is.
      if (n === 0) break;
      filled += n;
    }
    const got = chunk.subarray(0, filled);
    for (const byte of got) if (byte === NEWLINE) newlines++;
    chunks.unshift(got);
    start = from;
    if (filled < chunk.length) break;
  }
  const region = Buffer.concat(chunks);
  const pieces: Buffer[] = [];
  let lineStart = 0;
  for (let i = 0; i < region.length; i++) {
    if (region[i] !== NEWLINE) continue;
    pieces.push(region.subarray(lineStart, i));
    lineStart = i + 1;
  }
  // Before the first newline: the end of an older line, unless the file starts there.
  if (start > 0) pieces.shift();
  const lines = pieces.map((piece) => piece.toString('utf8')).filter((line) => line !== '');
  const keep = Math.min(lines.length, o.maxLines);
  return { lines: lines.slice(lines.length - keep), fromStart: start === 0, bytes: region.length };
}
