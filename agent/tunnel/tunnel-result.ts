/**
 * The round's `tunnel` object from what a source observed and what the
 * previous round on this host remembered (tunnel-memory.ts): counters become
 * counts since the previous round, and a state the source gives no start for
 * keeps the start of the first round that saw it. Pure.
 *
 * Counters are only comparable under the same key (the same openvpn3 session,
 * the same management endpoint). A counter that went down, a new session of
 * the same source, or (OpenVPN 2) a restart in the state history since the
 * previous round means the counter started again: the count since the
 * previous round is then what it counted since it started, never negative.
 */
import { escapeControlCharacters } from '../../common/printable.ts';
import { TUNNEL_LIMITS } from '../../common/result-contract.ts';
import type { TunnelResult, TunnelSource, TunnelState } from '../../common/result-schema.ts';
import type { TunnelObservation } from './tunnel-state.ts';

/** What the next round needs of this one (the tunnel state file). */
export interface TunnelMemory {
  state: TunnelState;
  source: TunnelSource | null;
  since: string | null;
  /** The observation's counter key (`<source> <session or endpoint>`). */
  key: string | null;
  bytesIn: number | null;
  bytesOut: number | null;
  reconnects: number | null;
  /** OpenVPN 2 management: the newest state line's time (Unix seconds). */
  mark: number | null;
}

/** The source part of a counter key. */
const sourceOf = (key: string): string => key.split(' ', 1)[0] ?? key;

/** The source's text, control characters escaped, within TUNNEL_LIMITS.detailChars, no surrogate pair cut. */
export function tunnelDetail(text: string): string {
  const max = TUNNEL_LIMITS.detailChars;
  const escaped = escapeControlCharacters(text.trim().slice(0, 4 * max));
  if (escaped.length <= max) return escaped;
  const code = escaped.charCodeAt(max - 2);
  const end = code >= 0xd800 && code <= 0xdbff ? max - 2 : max - 1;
  return `${escaped.slice(0, end)}…`;
}

export function buildTunnel(
  seen: TunnelObservation,
  previous: TunnelMemory | null,
  roundStart: Date,
): { tunnel: TunnelResult; memory: TunnelMemory } {
  const key = seen.counterKey;
  const sameKey = previous !== null && key !== null && previous.key === key;
  const comparable =
    sameKey || (previous?.key != null && key !== null && sourceOf(previous.key) === sourceOf(key));
  const mark = sameKey ? previous.mark : null;
  const history = seen.history;
  const restarted =
    !sameKey || (history !== null && mark !== null && history.restarts.some((at) => at > mark));
  const delta = (now: number | null | undefined, before: number | null | undefined): number | null => {
    if (now == null || !comparable) return null;
    if (restarted) return now;
    if (before == null) return null;
    return now >= before ? now - before : now;
  };
  const counters = seen.counters;
  let since: string | null = null;
  if (seen.sinceMs !== null) since = new Date(seen.sinceMs).toISOString();
  else if (seen.state !== 'unknown') {
    const same = previous !== null && previous.state === seen.state && previous.source === seen.source;
    since = same && previous.since !== null ? previous.since : roundStart.toISOString();
  }
  const tunnel: TunnelResult = {
    state: seen.state,
    source: seen.source,
    detail: tunnelDetail(seen.detail),
    since,
    reconnects:
      history === null
        ? delta(counters?.reconnects, previous?.reconnects)
        : mark === null
          ? null
          : history.reconnects.filter((at) => at > mark).length,
    bytesIn: delta(counters?.bytesIn, previous?.bytesIn),
    bytesOut: delta(counters?.bytesOut, previous?.bytesOut),
    explains: false,
  };
  const memory: TunnelMemory = {
    state: seen.state,
    source: seen.source,
    since,
    key,
    bytesIn: counters?.bytesIn ?? null,
    bytesOut: counters?.bytesOut ?? null,
    reconnects: counters?.reconnects ?? null,
    mark: history?.newest ?? null,
  };
  return { tunnel, memory };
}
