/**
 * The tunnel state file: one small JSON object in the log directory that the
 * next round subtracts its counters from (tunnel-result.ts). The directory is
 * not trusted (agent/files/log-dir.ts): the file is read through the held
 * directory handle as its acting user, only when it is a regular file of that
 * user with one link, at most MAX_BYTES, and every value is checked; it is
 * replaced atomically (agent/files/write-atomic.ts). A file that is missing,
 * refused or garbled only means the counters start afresh, with a warning;
 * it never fails the round.
 */
import * as fs from 'node:fs';
import { excerpt } from '../../common/errors.ts';
import { TUNNEL_SOURCES, TUNNEL_STATES } from '../../common/result-contract.ts';
import { closeQuietly } from '../files/dir-handle.ts';
import type { LogDir } from '../files/log-dir.ts';
import { openRegularFile, readBounded } from '../files/open-entry.ts';
import { writeFileAtomic } from '../files/write-atomic.ts';
import type { TunnelMemory } from './tunnel-result.ts';

/** Beside the old script's files, hidden like the round lock; the old tool never had it. */
export const TUNNEL_STATE_FILE = '.cc-monitor-tunnel.json';
const MAX_BYTES = 16 * 1024;

const FIELDS = ['state', 'source', 'since', 'key', 'bytesIn', 'bytesOut', 'reconnects', 'mark'] as const;

/** The memory in `text`, or null when it is not exactly what writeTunnelMemory writes. */
export function parseTunnelMemory(text: string): TunnelMemory | null {
  let m: Record<string, unknown>;
  try {
    m = Object(JSON.parse(text));
  } catch {
    return null;
  }
  const since = m.since;
  // The round copies `since` into the result's tunnel.since (an ISO timestamp): only the text the agent
  // wrote (toISOString) is kept, not any other that Date.parse takes ("Jan 1 2026 (<anything>)").
  const sinceMs = typeof since === 'string' && since.length <= 40 ? Date.parse(since) : Number.NaN;
  const ok =
    m.v === 1 &&
    (TUNNEL_STATES as readonly unknown[]).includes(m.state) &&
    [null, ...TUNNEL_SOURCES].includes(m.source as never) &&
    (since === null || (sinceMs > 0 && new Date(sinceMs).toISOString() === since)) &&
    (m.key === null || (typeof m.key === 'string' && m.key.length <= 4200)) &&
    FIELDS.slice(4).every((k) => {
      const n = m[k];
      return n === null || (Number.isSafeInteger(n) && (n as number) >= 0);
    });
  return ok ? (Object.fromEntries(FIELDS.map((k) => [k, m[k]])) as unknown as TunnelMemory) : null;
}

/** The previous round's memory: null on a first round; a warning when a file was there but unusable. */
export function readTunnelMemory(dir: LogDir): { memory: TunnelMemory | null; warning: string | null } {
  const shown = dir.display(TUNNEL_STATE_FILE);
  const unusable = (why: string) => ({
    memory: null,
    warning: `tunnel state ${shown} ${why}; the tunnel counters start afresh this round`,
  });
  let text: string;
  try {
    const read = dir.run(`reading ${TUNNEL_STATE_FILE}`, () => {
      const opened = openRegularFile(dir, TUNNEL_STATE_FILE, fs.constants.O_RDONLY, {
        action: 'read it',
        owner: dir.actingUid,
        singleLink: true,
      });
      if (opened === null) return null;
      try {
        return readBounded(opened.fd, MAX_BYTES);
      } finally {
        closeQuietly(opened.fd);
      }
    });
    if (read === null) return { memory: null, warning: null };
    if (!read.complete) return unusable(`is larger than ${MAX_BYTES} bytes`);
    text = read.text;
  } catch (error) {
    return unusable(
      `cannot be read (${excerpt(error instanceof Error ? error.message : String(error), 300)})`,
    );
  }
  const memory = parseTunnelMemory(text);
  return memory === null ? unusable('is not a tunnel state the agent wrote') : { memory, warning: null };
}

/** Replaces the file; a warning when it cannot be written (the round's result stands). */
export function writeTunnelMemory(dir: LogDir, memory: TunnelMemory): string | null {
  try {
    writeFileAtomic(dir, TUNNEL_STATE_FILE, `${JSON.stringify({ v: 1, ...memory })}\n`);
    return null;
  } catch (error) {
    const why = excerpt(error instanceof Error ? error.message : String(error), 300);
    return `tunnel state ${dir.display(TUNNEL_STATE_FILE)} not written (${why}); the next round's tunnel counters start afresh`;
  }
}
