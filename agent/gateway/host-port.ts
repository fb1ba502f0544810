/**
 * The server an OpenVPN client asks a proxy for, as the client prints it:
 * OpenVPN 2 `CONNECT <host>:<port> HTTP/1.0` (proxy.c: IPv6 literals are not
 * bracketed, the port follows the last colon) and OpenVPN 3
 * `Connecting to [<host>]:<port>` / `Connected: user@<host>:<port>`.
 */
import { isIP } from 'node:net';

export interface HostPort {
  /** An IP literal (without brackets) or a DNS host name, as the profile names the server. */
  host: string;
  port: number | null;
}

/** True for a DNS host name: 1-63 character labels of letters, digits and inner hyphens. */
export function isHostName(host: string): boolean {
  const name = host.replace(/\.$/, '');
  if (name.length === 0 || name.length > 253 || /^[\d.]+$/.test(name)) return false;
  return name.split('.').every((label) => /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/.test(label));
}

/**
 * `host:port`, `[v6]:port`, `2001:db8::1:1194` (last colon), or a bare host;
 * null when the host is neither an IP literal nor a host name.
 */
export function parseHostPort(text: string): HostPort | null {
  const value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  if (bracketed !== null) {
    const host = bracketed[1] ?? '';
    return isIP(host) !== 0 || isHostName(host) ? { host, port: toPort(bracketed[2]) } : null;
  }
  const withPort = /^(.+):(\d{1,5})$/.exec(value);
  if (withPort !== null) {
    const host = withPort[1] ?? '';
    if (isIP(host) !== 0 || isHostName(host)) return { host, port: toPort(withPort[2]) };
  }
  if (isIP(value) !== 0 || isHostName(value)) return { host: value, port: null };
  return null;
}

function toPort(text: string | undefined): number | null {
  if (text === undefined) return null;
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65_535 ? port : null;
}

/** `host:port`, `[v6]:port` or `host` for messages. */
export function formatHostPort(endpoint: HostPort): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return endpoint.port === null ? host : `${host}:${endpoint.port}`;
}
