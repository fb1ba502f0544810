/**
 * Finds the newest connection in an OpenVPN 2 client log without ever reading
 * more than a fixed number of bytes, however long the tunnel has been up.
 *
 * The log is read backwards from its end, in chunks, until the newest
 * `link remote:` line and the start of its connection attempt are found (the
 * proxy lines of an attempt precede its link remote); for a TCP connection the
 * search goes on to the process start, where OpenVPN 2.6 notes a configured
 * SOCKS proxy. A connector's log grows for weeks after that line (hourly TLS
 * renegotiation, and the monitor's own management queries), so a fixed tail
 * would lose it.
 *
 * When the log has no such line (logrotate's `copytruncate` emptied it, or the
 * client keeps writing to the renamed file), the newest rotated copy beside it
 * is read too: `<log>.1`, `<log>.0`, `<log>-<date>`, each optionally `.gz`.
 *
 * Every file is opened non-blocking and must be a regular file (a FIFO,
 * `/dev/zero` or a directory is refused before any read); rotated copies must
 * not be symbolic links, since the log directory may be writable by others.
 */
import { constants, createReadStream, type Dir, promises as fs, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { errnoOrMessage } from '../../common/errno.ts';
import { MonitorError } from '../../common/errors.ts';
import {
  type ClientLogEvent,
  ClientLogScanner,
  classifyClientLogLine,
  type Openvpn2Connection,
} from './parse-openvpn2.ts';

/** Bytes read from all files of one search together (decompressed bytes for `.gz`). */
export const LOG_READ_MAX_BYTES = 32 * 1024 * 1024;
const CHUNK_BYTES = 64 * 1024;
/** OpenVPN formats a message in a buffer of at most 10 KiB (ERR_BUF_SIZE); longer lines are not its own. */
const MAX_LINE_BYTES = 16 * 1024;
/** Startup notes (DCO, deprecations) and the verb 4 option dump (about 300 lines) precede the version banner. */
const PRE_BANNER_LINES = 2000;
/** A log directory with more entries than this is not searched for rotated copies. */
const MAX_DIRECTORY_ENTRIES = 10_000;

export interface ClientLogLimits {
  maxBytes: number;
  /** Monotonic time (as `now()` returns it) after which no more is read. */
  deadline: number;
  now: () => number;
}

export interface ClientLogRead {
  connection: Openvpn2Connection | null;
  /** Files read, oldest content first. */
  files: Array<{ path: string; bytesRead: number; compressed: boolean }>;
  /** Set when the search stopped before it could finish: the read limit or the deadline. */
  incomplete: string | null;
  /** Rotated copies that were skipped, and why. */
  notes: string[];
}

type TimedEvent = [ClientLogEvent, string];

/**
 * Reads the newest connection of the client log at `path`. Rejects with
 * MonitorError('E_GATEWAY') when the log itself cannot be opened or is not a
 * regular file; problems with rotated copies become notes.
 */
export async function readClientLog(path: string, limits: ClientLogLimits): Promise<ClientLogRead> {
  const read: ClientLogRead = { connection: null, files: [], incomplete: null, notes: [] };
  const current = await openRegularFile(path, false).catch((error: unknown) => {
    throw new MonitorError(
      'E_GATEWAY',
      `cannot read --openvpn-log ${JSON.stringify(path)}: ${describeOpenError(error)}`,
    );
  });
  let search: NewestConnectionSearch;
  let scanned: BackwardScan;
  try {
    search = new NewestConnectionSearch();
    scanned = await scanBackward(current.handle, current.size, limits, (line) => search.visit(line));
  } finally {
    await current.handle.close();
  }
  read.files.push({ path, bytesRead: scanned.bytes, compressed: false });

  const scanner = new ClientLogScanner();
  if (search.foundRemote()) {
    for (const [event, line] of search.events()) scanner.pushEvent(event, line);
    read.connection = scanner.result();
    return read;
  }
  if (scanned.stopped === 'bytes' || scanned.stopped === 'time') {
    read.incomplete = stopReason(scanned.stopped, limits);
    return read;
  }

  // No connection in the whole current file: its content may have moved to a rotated copy.
  const remaining = { ...limits, maxBytes: limits.maxBytes - scanned.bytes };
  const rotated = await newestRotatedCopy(path, read.notes);
  if (rotated !== null) {
    const outcome = await readRotated(rotated, remaining, scanner, read.notes);
    if (outcome !== null) {
      read.files.unshift({ path: rotated.path, bytesRead: outcome.bytes, compressed: rotated.compressed });
      if (outcome.incomplete !== null && scanner.result() === null) read.incomplete = outcome.incomplete;
    }
  }
  // Whatever the current file says after the rotated one (a restart, a new process) is newer.
  for (const [event, line] of search.events()) scanner.pushEvent(event, line);
  read.connection = scanner.result();
  return read;
}

function stopReason(stopped: 'bytes' | 'time', limits: ClientLogLimits): string {
  return stopped === 'bytes'
    ? `read limit of ${Math.round(limits.maxBytes / (1024 * 1024))} MiB reached`
    : 'discovery deadline reached';
}

interface OpenFile {
  handle: fs.FileHandle;
  size: number;
}

class NotRegularFileError extends Error {}

/** Opens without blocking (a FIFO would block a plain open) and refuses anything but a regular file. */
async function openRegularFile(path: string, noFollow: boolean): Promise<OpenFile> {
  const flags =
    constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (noFollow ? constants.O_NOFOLLOW : 0);
  const handle = await fs.open(path, flags);
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new NotRegularFileError(`not a regular file but ${fileKind(stat)}`);
    return { handle, size: stat.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isSocket()) return 'a socket';
  return 'a special file';
}

function describeOpenError(error: unknown): string {
  return error instanceof NotRegularFileError ? error.message : errnoOrMessage(error);
}

interface BackwardScan {
  bytes: number;
  /** visitor: the visitor had enough; start: the file's first line was visited. */
  stopped: 'visitor' | 'start' | 'bytes' | 'time';
}

/**
 * Visits the lines of a file newest first; `visit` returns true to stop.
 * Reads at most `limits.maxBytes`; a line longer than MAX_LINE_BYTES is cut
 * to its last MAX_LINE_BYTES bytes.
 */
async function scanBackward(
  handle: fs.FileHandle,
  size: number,
  limits: ClientLogLimits,
  visit: (line: string) => boolean,
): Promise<BackwardScan> {
  const buffer = Buffer.alloc(CHUNK_BYTES);
  let position = size;
  let carry = Buffer.alloc(0);
  let bytes = 0;
  while (position > 0) {
    if (bytes >= limits.maxBytes) return { bytes, stopped: 'bytes' };
    if (limits.now() >= limits.deadline) return { bytes, stopped: 'time' };
    const length = Math.min(CHUNK_BYTES, position, limits.maxBytes - bytes);
    const start = position - length;
    const { bytesRead } = await handle.read(buffer, 0, length, start);
    // The file shrank under us (truncated by rotation): what was read is all there is.
    if (bytesRead !== length) return { bytes, stopped: 'start' };
    bytes += bytesRead;
    position = start;
    const data =
      carry.length === 0 ? buffer.subarray(0, length) : Buffer.concat([buffer.subarray(0, length), carry]);
    let end = data.length;
    let newline = data.lastIndexOf(0x0a, end - 1);
    while (newline !== -1) {
      if (visit(data.toString('utf8', newline + 1, end))) return { bytes, stopped: 'visitor' };
      end = newline;
      newline = end === 0 ? -1 : data.lastIndexOf(0x0a, end - 1);
    }
    const keep = Math.min(end, MAX_LINE_BYTES);
    carry = Buffer.from(data.subarray(end - keep, end));
  }
  if (carry.length > 0 && visit(carry.toString('utf8'))) return { bytes, stopped: 'visitor' };
  return { bytes, stopped: 'start' };
}

function isMarker(event: ClientLogEvent): boolean {
  return event.kind === 'start' || event.kind === 'restart' || event.kind === 'exit';
}

/**
 * The backward half of ClientLogScanner: visits lines newest first and keeps
 * exactly the events the forward scanner needs to describe the newest
 * connection, in constant memory:
 *   - after the newest remote: the last marker (restart, new process, exit)
 *     and whether `Initialization Sequence Completed` followed the remote;
 *   - the remote itself (a `Peer Connection Initiated` line is replaced by the
 *     link remote of the same attempt);
 *   - within its attempt: the newest CONNECT and SOCKS UDP lines, and the
 *     marker that began the attempt;
 *   - for TCP without CONNECT, back to the process start: a SOCKS proxy note
 *     and the connection profiles of a verb 4 option dump.
 */
class NewestConnectionSearch {
  private phase: 'after-remote' | 'attempt' | 'process' = 'after-remote';
  private lastMarker: TimedEvent | null = null;
  private pendingConnected = false;
  private connected = false;
  private remote: TimedEvent | null = null;
  private httpConnect: TimedEvent | null = null;
  private socksUdp: TimedEvent | null = null;
  private attemptStart: TimedEvent | null = null;
  /** SOCKS notes and option-dump lines of the process, newest first. */
  private processEvents: TimedEvent[] = [];
  private linesBeforeBanner = -1;

  foundRemote(): boolean {
    return this.remote !== null;
  }

  visit(line: string): boolean {
    if (this.linesBeforeBanner >= 0 && ++this.linesBeforeBanner > PRE_BANNER_LINES) return true;
    const event = classifyClientLogLine(line);
    if (event === null) return false;
    if (this.phase === 'after-remote') {
      if (isMarker(event)) {
        if (this.lastMarker === null) this.lastMarker = [event, line];
        this.pendingConnected = false;
      } else if (event.kind === 'connected') {
        this.pendingConnected = true;
      } else if (event.kind === 'remote' || event.kind === 'peer') {
        this.remote = [event, line];
        this.connected = this.pendingConnected;
        this.phase = 'attempt';
      }
      return false;
    }
    if (this.phase === 'attempt') {
      if (event.kind === 'remote' && this.remote?.[0].kind === 'peer') this.remote = [event, line];
      else if (event.kind === 'http-connect' && this.httpConnect === null) this.httpConnect = [event, line];
      else if (event.kind === 'socks-udp' && this.socksUdp === null) this.socksUdp = [event, line];
      else if (isMarker(event)) {
        this.attemptStart = [event, line];
        const remote = this.remote?.[0];
        const tcp = remote?.kind === 'remote' && remote.transport === 'tcp';
        // Only a TCP connection without CONNECT can be through SOCKS unnoticed; an exit ends the process.
        if (event.kind === 'exit' || !tcp || this.httpConnect !== null) return true;
        this.phase = 'process';
        if (event.kind === 'start') this.linesBeforeBanner = 0;
      }
      return false;
    }
    // phase 'process': the notes and option dump at the start of the process that made the newest connection.
    if (event.kind === 'socks-configured' || event.kind === 'profile' || event.kind === 'option') {
      this.processEvents.push([event, line]);
    }
    if (event.kind === 'exit') return true;
    if (event.kind === 'start' && this.linesBeforeBanner < 0) this.linesBeforeBanner = 0;
    return false;
  }

  /** The kept events in log order, for ClientLogScanner.pushEvent. */
  events(): TimedEvent[] {
    const events: TimedEvent[] = [];
    if (this.remote !== null) {
      for (let index = this.processEvents.length - 1; index >= 0; index -= 1) {
        const kept = this.processEvents[index];
        if (kept !== undefined) events.push(kept);
      }
      if (this.attemptStart !== null) events.push(this.attemptStart);
      if (this.socksUdp !== null) events.push(this.socksUdp);
      if (this.httpConnect !== null) events.push(this.httpConnect);
      events.push(this.remote);
      if (this.connected) events.push([{ kind: 'connected' }, '']);
    }
    if (this.lastMarker !== null) events.push(this.lastMarker);
    return events;
  }
}

interface RotatedCopy {
  path: string;
  compressed: boolean;
}

// logrotate: `rotate` gives `.1` (`.1.gz` with compress), `dateext` gives `-20250405`; some setups use `.0`.
const ROTATED_SUFFIX = /^(?:\.[01]|-\d[\d-]{5,})(\.gz)?$/;

/** The newest regular file beside `path` named like a rotated copy of it, or null. */
async function newestRotatedCopy(path: string, notes: string[]): Promise<RotatedCopy | null> {
  const directory = dirname(path);
  const name = basename(path);
  let newest: { path: string; compressed: boolean; mtimeMs: number } | null = null;
  let entries = 0;
  let dir: Dir;
  try {
    dir = await fs.opendir(directory);
  } catch (error) {
    notes.push(`rotated copies not searched: cannot list ${directory}: ${errnoOrMessage(error)}`);
    return null;
  }
  try {
    for await (const entry of dir) {
      if (++entries > MAX_DIRECTORY_ENTRIES) {
        notes.push(
          `rotated copies not searched: ${directory} has more than ${MAX_DIRECTORY_ENTRIES} entries`,
        );
        return null;
      }
      if (!entry.name.startsWith(name)) continue;
      const suffix = ROTATED_SUFFIX.exec(entry.name.slice(name.length));
      if (suffix === null) continue;
      const candidate = join(directory, entry.name);
      const stat = await fs.lstat(candidate).catch(() => null);
      if (stat === null) continue;
      if (!stat.isFile()) {
        notes.push(`${candidate} skipped: ${stat.isSymbolicLink() ? 'a symbolic link' : fileKind(stat)}`);
        continue;
      }
      if (newest === null || stat.mtimeMs > newest.mtimeMs) {
        newest = { path: candidate, compressed: suffix[1] !== undefined, mtimeMs: stat.mtimeMs };
      }
    }
  } catch (error) {
    notes.push(`rotated copies not searched: cannot list ${directory}: ${errnoOrMessage(error)}`);
    return null;
  }
  return newest === null ? null : { path: newest.path, compressed: newest.compressed };
}

/** Feeds the newest connection of a rotated copy into `scanner`; null when it could not be read. */
async function readRotated(
  copy: RotatedCopy,
  limits: ClientLogLimits,
  scanner: ClientLogScanner,
  notes: string[],
): Promise<{ bytes: number; incomplete: string | null } | null> {
  let file: OpenFile;
  try {
    file = await openRegularFile(copy.path, true);
  } catch (error) {
    notes.push(`${copy.path} skipped: ${describeOpenError(error)}`);
    return null;
  }
  try {
    if (copy.compressed) {
      const streamed = await scanGzipForward(file, limits, (line) => scanner.pushLine(line));
      if (streamed.error !== null) notes.push(`${copy.path}: ${streamed.error}`);
      return {
        bytes: streamed.bytes,
        incomplete: streamed.stopped === null ? null : stopReason(streamed.stopped, limits),
      };
    }
    const search = new NewestConnectionSearch();
    const scanned = await scanBackward(file.handle, file.size, limits, (line) => search.visit(line));
    for (const [event, line] of search.events()) scanner.pushEvent(event, line);
    const stopped = scanned.stopped === 'bytes' || scanned.stopped === 'time' ? scanned.stopped : null;
    return { bytes: scanned.bytes, incomplete: stopped === null ? null : stopReason(stopped, limits) };
  } finally {
    await file.handle.close();
  }
}

/** Streams a gzip file through gunzip, line by line in order, up to `limits.maxBytes` decompressed bytes. */
function scanGzipForward(
  file: OpenFile,
  limits: ClientLogLimits,
  visit: (line: string) => void,
): Promise<{ bytes: number; stopped: 'bytes' | 'time' | null; error: string | null }> {
  return new Promise((resolve) => {
    const input = createReadStream('', { fd: file.handle.fd, autoClose: false, start: 0 });
    const gunzip = createGunzip();
    const decoder = new StringDecoder('utf8');
    let carry = '';
    let bytes = 0;
    let settled = false;
    const finish = (stopped: 'bytes' | 'time' | null, error: string | null): void => {
      if (settled) return;
      settled = true;
      input.unpipe(gunzip);
      input.destroy();
      gunzip.destroy();
      resolve({ bytes, stopped, error });
    };
    const take = (text: string, last: boolean): void => {
      const lines = (carry + text).split('\n');
      carry = last ? '' : (lines.pop() ?? '');
      if (carry.length > MAX_LINE_BYTES) carry = carry.slice(carry.length - MAX_LINE_BYTES);
      for (const line of lines) visit(line);
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      const room = limits.maxBytes - bytes;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      bytes += part.length;
      take(decoder.write(part), false);
      if (bytes >= limits.maxBytes) finish('bytes', null);
      else if (limits.now() >= limits.deadline) finish('time', null);
    });
    gunzip.on('end', () => {
      take(decoder.end(), true);
      finish(null, null);
    });
    // A copy being compressed right now ends early: keep what was read.
    gunzip.on('error', (error: Error) => {
      take(decoder.end(), true);
      finish(null, `gzip data unreadable after ${bytes} bytes (${error.message})`);
    });
    input.on('error', (error: Error) => finish(null, `read failed: ${errnoOrMessage(error)}`));
    input.pipe(gunzip);
  });
}
