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
import { TUNNEL_LIMITS, TUNNEL_SOURCES, TUNNEL_STATES } from '../../common/result-contract.ts';
import { closeQuietly } from '../files/dir-handle.ts';
import type { LogDir } from '../files/log-dir.ts';
import { openRegularFile, readBounded } from '../files/open-entry.ts';
import { writeFileAtomic } from '../files/write-atomic.ts';
import type { TunnelMemory } from './tunnel-result.ts';

/** Beside the old script's files, hidden like the round lock; the old tool never had it. */
export const TUNNEL_STATE_FILE = '.cc-monitor-tunnel.json';
const MAX_BYTES = 16 * 1024;

const isCount = (v: unknown): v is number | null =>
  v === null || (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= TUNNEL_LIMITS.maxCount);
const isText = (v: unknown, max: number): v is string | null =>
  v === null || (typeof v === 'string' && v.length <= max);

/** The memory in `text`, or null when it is not exactly what writeTunnelMemory writes. */
export function parseTunnelMemory(text: string): TunnelMemory | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const m = value as Record<string, unknown>;
  const ok =
    m.v === 1 &&
    (TUNNEL_STATES as readonly unknown[]).includes(m.state) &&
    (m.source === null || (TUNNEL_SOURCES as readonly unknown[]).includes(m.source)) &&
    isText(m.since, 40) &&
    (m.since === null || !Number.isNaN(Date.parse(m.since as string))) &&
    isText(m.key, 4200) &&
    isCount(m.bytesIn) &&
    isCount(m.bytesOut) &&
    isCount(m.reconnects) &&
    isCount(m.mark);
  if (!ok) return null;
  const { state, source, since, key, bytesIn, bytesOut, reconnects, mark } = m as unknown as TunnelMemory;
  return { state, source, since, key, bytesIn, bytesOut, reconnects, mark };
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
