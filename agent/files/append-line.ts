/**
 * Appends one record to a line-oriented file (the JSON report) so that readers
 * (people, the CloudWatch agent tailing the file) never see half a record.
 *
 * Why one write(2) on an O_APPEND descriptor: the kernel moves the offset to the
 * end and copies the data under the inode lock, so concurrent appenders never
 * interleave, and a process killed between writes leaves whole lines only.
 *
 * No fsync per line: the records are also in the result document the caller
 * prints, and what we guard against is a killed process, after which the page
 * cache still reaches the disk. A power loss can leave a torn or zero-filled
 * tail; the next append repairs the line boundary (below), so one damaged
 * record never makes later records unreadable. An fsync per round would cost
 * a disk flush on every host every few minutes for no such gain.
 *
 * The file is opened through the log directory's handle as its acting user,
 * never through a symbolic link, and appended to only when it is a regular
 * file of that user with a single link (see log-dir.ts, open-entry.ts).
 */
import * as fs from 'node:fs';
import { errnoOf } from '../../common/errno.ts';
import { MonitorError } from '../../common/errors.ts';
import type { LogDir } from './log-dir.ts';
import { openRegularFile, type RegularFileRules } from './open-entry.ts';
import { type FileState, fileState } from './read-lines.ts';

const { O_RDWR, O_WRONLY, O_APPEND, O_CREAT } = fs.constants;

const NEWLINE = 0x0a;
/** A write(2) of one record takes microseconds, even a throttled one far less than this. */
const TORN_MIN_AGE_MS = 1_000;
const TORN_WAIT_LIMIT_MS = 3_000;

/**
 * Appends `line` and a newline to the file `name` in `dir`. `line` may be a
 * function of the file as it is just before the write (its identity and
 * size, after a torn tail is closed): a record that depends on the lines
 * before it (the round history leaves out the paths they have) is composed
 * against the file it lands in, not the one its writer read earlier.
 * Throws E_LOG_DIR (see LogDir.run), E_INTERNAL.
 */
export function appendLine(dir: LogDir, name: string, line: string | ((file: FileState) => string)): void {
  // A record known up front is checked before the file is opened (or created).
  if (typeof line === 'string') checkRecord(dir, name, line);
  dir.run(`appending to ${name}`, () => {
    const { fd, readable } = openForAppend(dir, name);
    try {
      // A torn tail (crash, full disk, an older version) is closed first so the
      // new record starts on its own line and stays parseable.
      const prefix = readable && hasTornTail(fd) ? '\n' : '';
      let record = line;
      if (typeof record !== 'string') {
        // Only a composed record needs the file: a plain append (the report, every round) costs no fstat.
        const stat = fs.fstatSync(fd);
        record = record({ ...fileState(stat), size: stat.size + Buffer.byteLength(prefix) });
        checkRecord(dir, name, record);
      }
      writeAll(fd, Buffer.from(`${prefix}${record}\n`, 'utf8'));
    } finally {
      fs.closeSync(fd);
    }
  });
}

/** A record split over lines would be read as two broken records. Throws E_INTERNAL. */
function checkRecord(dir: LogDir, name: string, record: string): void {
  if (record.includes('\n') || record.includes('\r')) {
    throw new MonitorError(
      'E_INTERNAL',
      `appendLine: the record for ${dir.display(name)} contains a line break`,
    );
  }
}

/** Read-write lets us read the last byte; a file we may append to but not read is still appended to. */
function openForAppend(dir: LogDir, name: string): { fd: number; readable: boolean } {
  const rules: RegularFileRules = {
    action: 'append to it',
    mode: 0o644,
    owner: dir.actingUid,
    singleLink: true,
  };
  let opened: ReturnType<typeof openRegularFile>;
  let readable = true;
  try {
    opened = openRegularFile(dir, name, O_RDWR | O_APPEND | O_CREAT, rules);
  } catch (error) {
    if (errnoOf(error) !== 'EACCES' && errnoOf(error) !== 'EPERM') throw error;
    opened = openRegularFile(dir, name, O_WRONLY | O_APPEND | O_CREAT, rules);
    readable = false;
  }
  if (opened === null) throw new MonitorError('E_INTERNAL', 'appendLine: O_CREAT open returned nothing');
  return { fd: opened.fd, readable };
}

/**
 * A tail without '\n' may be another appender's record in flight (the kernel
 * grows the file page by page, and a writer can be descheduled mid-write), not
 * a torn record. In-flight writes have just set the mtime, so the tail counts
 * as torn only once the file has been unchanged for TORN_MIN_AGE_MS; a write
 * in flight finishes sooner and then ends with '\n'. Appenders repairing one
 * real torn tail at the same instant can leave empty lines, which line readers
 * skip; that is preferred to gluing a record onto the fragment and losing it.
 * The wait (up to TORN_MIN_AGE_MS) happens only once, right after a crash.
 */
function hasTornTail(fd: number): boolean {
  const deadline = Date.now() + TORN_WAIT_LIMIT_MS;
  for (;;) {
    const stat = fs.fstatSync(fd);
    if (stat.size === 0 || lastByte(fd, stat.size) === NEWLINE) return false;
    if (Date.now() - stat.mtimeMs >= TORN_MIN_AGE_MS && fs.fstatSync(fd).size === stat.size) return true;
    // Still ambiguous: repair anyway, since a stray empty line loses nothing and a glued record is lost.
    if (Date.now() >= deadline) return true;
    sleepMs(5);
  }
}

function lastByte(fd: number, size: number): number | undefined {
  const last = Buffer.alloc(1);
  return fs.readSync(fd, last, 0, 1, size - 1) === 1 ? last[0] : undefined;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** write(2) to a regular file is short only when the disk fills or a signal lands; then finish the rest. */
function writeAll(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) {
    const written = fs.writeSync(fd, buffer, offset, buffer.length - offset);
    if (written <= 0) throw new MonitorError('E_INTERNAL', 'appendLine: write made no progress');
    offset += written;
  }
}
