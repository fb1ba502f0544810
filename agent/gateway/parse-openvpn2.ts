/**
 * Parsers for what an OpenVPN 2.x client exposes: the management interface's
 * `state` answer and the client log. Formats follow OpenVPN's manage.c
 * (log_entry_print) and socket_util.c (print_sockaddr_ex).
 */
import { isIP } from 'node:net';

export interface ManagementState {
  timestamp: number;
  /** CONNECTED, RECONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP, TCP_CONNECT, EXITING, ... */
  state: string;
  description: string;
  tunIpv4: string | null;
  remoteIp: string | null;
  /** Null before 2.4 (not printed) or when the remote is not known. */
  remotePort: number | null;
  localIp: string | null;
  localPort: number | null;
  tunIpv6: string | null;
}

const STATE_LINE = /^(?:>STATE:)?(\d+),([A-Z_?]+),(.*)$/;

/**
 * Parses the answer to `state` (or `>STATE:` live lines): the last state line wins.
 * 2.4+: `ts,STATE,desc,tun4,remote_ip,remote_port,local_ip,local_port[,tun6]`;
 * before 2.4 the line ends after the remote IP. Management prints IPv6 remotes
 * without brackets and with a comma before the port, so a comma split is exact.
 */
export function parseManagementState(text: string): ManagementState | null {
  let last: ManagementState | null = null;
  for (const rawLine of text.split(/\r?\n/)) {
    const match = STATE_LINE.exec(rawLine.trim());
    if (match === null) continue;
    const fields = (match[3] ?? '').split(',');
    const modern = fields.length >= 6;
    last = {
      timestamp: Number(match[1]),
      state: match[2] ?? '',
      description: fields[0] ?? '',
      tunIpv4: ipOrNull(fields[1]),
      remoteIp: ipOrNull(fields[2]),
      remotePort: modern ? portOrNull(fields[3]) : null,
      localIp: modern ? ipOrNull(fields[4]) : null,
      localPort: modern ? portOrNull(fields[5]) : null,
      tunIpv6: modern ? ipOrNull(fields[6]) : null,
    };
  }
  return last;
}

function ipOrNull(field: string | undefined): string | null {
  const value = (field ?? '').trim();
  return isIP(value) === 0 ? null : value;
}

function portOrNull(field: string | undefined): number | null {
  const value = (field ?? '').trim();
  if (!/^\d+$/.test(value)) return null;
  const port = Number(value);
  return port >= 1 && port <= 65_535 ? port : null;
}

// print_sockaddr_ex: `[AF_INET]203.0.113.5:1194`, `[AF_INET6]2001:db8::1:1194`
// (IPv6 is not bracketed and the port, always printed, follows the last colon,
// so `2001:db8::1:1194` must not be taken whole although it is a valid address).
// OpenVPN before 2.3 printed no family tag.
const LINK_REMOTE = /\blink remote: (\[AF_INET6?\])?(\S+)/;
const PEER_INITIATED = /\bPeer Connection Initiated with (\[AF_INET6?\])?(\S+)/;

/**
 * The remote address from the last `link remote:` or `Peer Connection Initiated
 * with` line of an OpenVPN 2 client log.
 *
 * `Preserving recently used remote address` lines are ignored on purpose: they
 * only appear on reconnects, name the address of the previous connection, and
 * are always followed by a `link remote:` line for the connection being made.
 */
export function parseClientLogGatewayIp(text: string): string | null {
  const lines = text.split(/\r?\n/);
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index] ?? '';
    const match = LINK_REMOTE.exec(line) ?? PEER_INITIATED.exec(line);
    if (match === null) continue;
    const ip = addressWithoutPort(match[1] ?? '', match[2] ?? '');
    if (ip !== null) return ip;
  }
  return null;
}

/** `1.2.3.4:1194` -> `1.2.3.4`, `2001:db8::1:1194` -> `2001:db8::1`; `[undef]:1194` -> null. */
function addressWithoutPort(family: string, text: string): string | null {
  const withPort = /^(.+):(\d+)$/.exec(text);
  const address = withPort?.[1] ?? '';
  if (family === '[AF_INET6]') return isIP(address) === 6 ? address : null;
  if (family === '[AF_INET]') return isIP(address) === 4 ? address : null;
  if (isIP(address) === 4) return address;
  return isIP(text) === 4 ? text : null;
}
