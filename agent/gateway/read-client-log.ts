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
import { constants, type Dir, promises as fs, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { tailOf } from '../../common/clip-text.ts';
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
      { cause: error },
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

  if (search.foundRemote()) {
    const scanner = new ClientLogScanner();
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
  let scanner = new ClientLogScanner();
  if (rotated !== null) {
    const outcome = await readRotated(rotated, remaining, read.notes);
    if (outcome !== null) {
      read.files.unshift({ path: rotated.path, bytesRead: outcome.bytes, compressed: rotated.compressed });
      read.incomplete = outcome.incomplete;
      scanner = outcome.scanner;
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
 *   - after the newest connection: the last marker (restart, new process,
 *     exit) and whether `Initialization Sequence Completed` followed it;
 *   - the connection itself: the last link remote of its attempt, else the
 *     first `Peer Connection Initiated` line;
 *   - within its attempt: the newest CONNECT and SOCKS UDP lines before it,
 *     and the marker that began the attempt;
 *   - for TCP without CONNECT: the startup notes and option dump of its
 *     process, which precede the process's banner (a SOCKS proxy).
 */
class NewestConnectionSearch {
  private phase: 'after-remote' | 'attempt' | 'process' | 'notes' = 'after-remote';
  private lastMarker: TimedEvent | null = null;
  private pendingConnected = false;
  private connected = false;
  /** `connected` lines seen since the current candidate: they follow an earlier candidate of the same attempt. */
  private connectedSinceCandidate = false;
  private remote: TimedEvent | null = null;
  private httpConnect: TimedEvent | null = null;
  private socksUdp: TimedEvent | null = null;
  private attemptStart: TimedEvent | null = null;
  private banner: TimedEvent | null = null;
  /** Startup notes and option-dump lines of the process, newest first. */
  private notes: TimedEvent[] = [];

  foundRemote(): boolean {
    return this.remote !== null;
  }

  visit(line: string): boolean {
    const event = classifyClientLogLine(line);
    if (event === null) return false;
    switch (this.phase) {
      case 'after-remote':
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
      case 'attempt':
        return this.visitAttempt(event, line);
      case 'process':
        // Earlier attempts of the same process, back to its banner.
        if (event.kind === 'exit') return true;
        if (event.kind === 'start') {
          this.banner = [event, line];
          this.phase = 'notes';
        }
        return false;
      case 'notes':
        if (isMarker(event)) return true;
        if (event.kind === 'socks-configured' || event.kind === 'profile' || event.kind === 'option') {
          this.notes.push([event, line]);
        }
        return false;
    }
  }

  private visitAttempt(event: ClientLogEvent, line: string): boolean {
    const current = this.remote?.[0];
    // The forward scanner keeps the last link remote of an attempt, or else its first peer line.
    if ((event.kind === 'remote' || event.kind === 'peer') && current?.kind === 'peer') {
      this.remote = [event, line];
      this.connected = this.connected || this.connectedSinceCandidate;
      this.connectedSinceCandidate = false;
      // Proxy lines seen so far came after this earlier line: they belong to no connection.
      this.httpConnect = null;
      this.socksUdp = null;
      return false;
    }
    if (event.kind === 'connected') this.connectedSinceCandidate = true;
    else if (event.kind === 'http-connect' && this.httpConnect === null) this.httpConnect = [event, line];
    else if (event.kind === 'socks-udp' && this.socksUdp === null) this.socksUdp = [event, line];
    else if (isMarker(event)) {
      this.attemptStart = [event, line];
      const remote = this.remote?.[0];
      const tcp = remote?.kind === 'remote' && remote.transport === 'tcp';
      // Only a TCP connection without CONNECT can run through SOCKS unnoticed; an exit ends the process.
      if (event.kind === 'exit' || !tcp || this.httpConnect !== null) return true;
      this.phase = event.kind === 'start' ? 'notes' : 'process';
    }
    return false;
  }

  /** The kept events in log order, for ClientLogScanner.pushEvent. */
  events(): TimedEvent[] {
    const events: TimedEvent[] = [];
    if (this.remote !== null) {
      for (let index = this.notes.length - 1; index >= 0; index -= 1) {
        const kept = this.notes[index];
        if (kept !== undefined) events.push(kept);
      }
      if (this.banner !== null) events.push(this.banner);
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

/**
 * A scanner holding the newest connection of a rotated copy; null when the
 * copy could not be opened. A search cut short by the limits keeps nothing of
 * the copy: a gzip copy is read from its oldest line, so what was read is not
 * its newest connection.
 */
async function readRotated(
  copy: RotatedCopy,
  limits: ClientLogLimits,
  notes: string[],
): Promise<{ scanner: ClientLogScanner; bytes: number; incomplete: string | null } | null> {
  let file: OpenFile;
  try {
    file = await openRegularFile(copy.path, true);
  } catch (error) {
    notes.push(`${copy.path} skipped: ${describeOpenError(error)}`);
    return null;
  }
  try {
    const scanner = new ClientLogScanner();
    if (copy.compressed) {
      const streamed = await scanGzipForward(file, limits, (line) => scanner.pushLine(line));
      if (streamed.error !== null) notes.push(`${copy.path}: ${streamed.error}`);
      if (streamed.stopped !== null) {
        return {
          scanner: new ClientLogScanner(),
          bytes: streamed.bytes,
          incomplete: stopReason(streamed.stopped, limits),
        };
      }
      return { scanner, bytes: streamed.bytes, incomplete: null };
    }
    const search = new NewestConnectionSearch();
    const scanned = await scanBackward(file.handle, file.size, limits, (line) => search.visit(line));
    for (const [event, line] of search.events()) scanner.pushEvent(event, line);
    const stopped = scanned.stopped === 'bytes' || scanned.stopped === 'time' ? scanned.stopped : null;
    return {
      scanner,
      bytes: scanned.bytes,
      incomplete: stopped === null || search.foundRemote() ? null : stopReason(stopped, limits),
    };
  } finally {
    await file.handle.close();
  }
}

/**
 * Decompresses a gzip file in order, line by line, reading it in chunks
 * (never a stream on its descriptor, which the caller closes), until its end,
 * `limits.maxBytes` decompressed bytes, or the deadline.
 */
async function scanGzipForward(
  file: OpenFile,
  limits: ClientLogLimits,
  visit: (line: string) => void,
): Promise<{ bytes: number; stopped: 'bytes' | 'time' | null; error: string | null }> {
  const gunzip = createGunzip();
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let bytes = 0;
  let stopped: 'bytes' | 'time' | null = null;
  let error: string | null = null;
  const take = (text: string, last: boolean): void => {
    const lines = (carry + text).split('\n');
    carry = last ? '' : (lines.pop() ?? '');
    if (carry.length > MAX_LINE_BYTES) carry = tailOf(carry, MAX_LINE_BYTES);
    for (const line of lines) visit(line);
  };
  gunzip.on('data', (chunk: Buffer) => {
    if (stopped !== null) return;
    const room = limits.maxBytes - bytes;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    bytes += part.length;
    take(decoder.write(part), false);
    if (bytes >= limits.maxBytes) stopped = 'bytes';
    else if (limits.now() >= limits.deadline) stopped = 'time';
  });
  // A copy being compressed right now ends early: what was read is kept.
  const finished = new Promise<void>((resolve) => {
    gunzip.on('end', () => resolve());
    gunzip.on('error', (cause: Error) => {
      error = `gzip data unreadable after ${bytes} bytes (${cause.message})`;
      resolve();
    });
  });

  const buffer = Buffer.alloc(CHUNK_BYTES);
  for (let position = 0; position < file.size && stopped === null && error === null; ) {
    const { bytesRead } = await file.handle.read(
      buffer,
      0,
      Math.min(CHUNK_BYTES, file.size - position),
      position,
    );
    if (bytesRead === 0) break;
    position += bytesRead;
    const written = gunzip.write(Buffer.from(buffer.subarray(0, bytesRead)));
    if (!written && stopped === null && error === null) {
      await new Promise<void>((resolve) => {
        gunzip.once('drain', resolve);
        gunzip.once('error', () => resolve());
      });
    }
  }
  if (stopped !== null) {
    gunzip.destroy();
    return { bytes, stopped, error };
  }
  gunzip.end();
  await finished;
  take(decoder.end(), true);
  return { bytes, stopped, error };
}
