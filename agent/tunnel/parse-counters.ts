/**
 * The tunnel's counters as the OpenVPN clients print them.
 *
 * OpenVPN 3 Linux, `openvpn3 session-stats --path <session>`
 * (src/ovpn3cli/commands/session/helpers.cpp statistics_plain): a blank line,
 * `Connection statistics:`, then one line per non-zero counter, the name and
 * the value joined by dots to fixed widths:
 *
 *     BYTES_IN..................123456
 *
 * Names come from the core: BYTES_IN/BYTES_OUT (bytes over the underlay,
 * sessionstats.hpp) and N_RECONNECT (reconnections, error.hpp), kept for the
 * session's whole life. A counter that is 0 is not printed at all.
 *
 * OpenVPN 2, management command `status` on a client (sig.c print_status):
 * `OpenVPN STATISTICS`, `Updated,<time>`, then `<name>,<value>` lines, `END`.
 * `TCP/UDP read bytes` / `TCP/UDP write bytes` count the underlay, data
 * channel offload included; they start from 0 at every reconnect (the level 2
 * context is cleared). `load-stats` (process-wide) misses offloaded traffic and
 * `bytecount` is a notification every N seconds, not an answer: neither is used.
 */

export interface TunnelCounters {
  bytesIn: number | null;
  bytesOut: number | null;
  /** Reconnections the source counted (openvpn3 only; the management history is counted by date). */
  reconnects: number | null;
}

/** A counter as printed, or null when it is not a whole number JSON keeps exact. */
function counter(text: string | undefined): number | null {
  if (text === undefined || !/^\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * Reads `openvpn3 session-stats` output. Null when it has no `Connection
 * statistics:` heading and no counter line (an error text, another tool);
 * a counter not printed is 0, as the tool prints only those that are not.
 */
export function parseSessionStats(text: string): TunnelCounters | null {
  const values = new Map<string, string>();
  let heading = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*Connection statistics:\s*$/.test(line)) heading = true;
    const match = /^\s*([A-Z][A-Z0-9_]*)\.+(\d+)\s*$/.exec(line);
    if (match !== null) values.set(match[1] ?? '', match[2] ?? '');
  }
  if (!heading && values.size === 0) return null;
  const read = (name: string): number | null => {
    const raw = values.get(name);
    return raw === undefined ? 0 : counter(raw);
  };
  return { bytesIn: read('BYTES_IN'), bytesOut: read('BYTES_OUT'), reconnects: read('N_RECONNECT') };
}

/** Reads the management `status` answer; null when it is not OpenVPN's statistics. */
export function parseManagementStatus(text: string): TunnelCounters | null {
  const values = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const comma = line.indexOf(',');
    if (comma > 0) values.set(line.slice(0, comma).trim(), line.slice(comma + 1).trim());
  }
  if (!values.has('TCP/UDP read bytes') && !values.has('TCP/UDP write bytes')) return null;
  return {
    bytesIn: counter(values.get('TCP/UDP read bytes')),
    bytesOut: counter(values.get('TCP/UDP write bytes')),
    reconnects: null,
  };
}
