/**
 * Parsers for what the OpenVPN 3 Linux client prints: `openvpn3 sessions-list`
 * and the session journal (`openvpn3-admin journal --path <session path>`).
 *
 * The layout follows openvpn3-linux src/ovpn3cli/commands/session/sessions-list.cpp,
 * but hosts run many releases and people paste these lists through tools that
 * collapse spaces, so the parser keys on labels, not on columns.
 */
import { isIP } from 'node:net';
import { excerpt } from '../../common/errors.ts';
import { type HostPort, parseHostPort } from './host-port.ts';

export interface Openvpn3ConnectedTo {
  /** Lower-case transport as printed (`udp`, `tcp`, `tcpv4-via-http`), or null when the line had none. */
  proto: string | null;
  /** The server, or with `viaHttpProxy` the HTTP proxy (the core's server_endpoint is the proxy's socket). */
  ip: string;
  /** The server's port (also through a proxy); null under DCO, which does not expose it. */
  port: number | null;
  /** Transport `TCPv4-via-HTTP` (openvpn3 core httpcli.hpp): `ip` is the proxy's address, not the server's. */
  viaHttpProxy: boolean;
}

export interface Openvpn3Session {
  path: string;
  /** Profile name the session was started with, without suffixes such as `(Config not available)`. */
  configName: string | null;
  /** v23 and older (and v24+ without connection details): the server host name. */
  sessionName: string | null;
  /** v24 and newer: the server address the tunnel is connected to. */
  connectedTo: Openvpn3ConnectedTo | null;
  status: string | null;
  device: string | null;
  owner: string | null;
  pid: number | null;
}

/** Result of choosing the CloudConnexa session; `session` is null only with a warning saying why. */
export type Openvpn3SessionPick =
  | { session: Openvpn3Session; warning: string | null }
  | { session: null; warning: string };

const DELIMITER = /^\s*-{10,}\s*$/;
const LABELLED = /^\s*([A-Za-z][A-Za-z ]*?)\s*:\s?(.*)$/;
// The second column is padded with setw(47 - first.size()); a first value of 47
// characters or more leaves no space at all before it, hence no \s+ required.
const SECOND_COLUMN = /^(.*?)\s*(PID|Device)\s*:\s*(.*?)\s*$/;
const CONFIG_SUFFIX = /\s+\((?:Config not available|Current name:[^)]*)\)\s*$/i;

/** Parses `openvpn3 sessions-list` output; `No sessions available` (or empty output) gives []. */
export function parseSessionsList(text: string): Openvpn3Session[] {
  const sessions: Openvpn3Session[] = [];
  let current: Openvpn3Session | null = null;
  let seenLabel = false;

  const flush = (): void => {
    if (current !== null && seenLabel) sessions.push(current);
    current = null;
    seenLabel = false;
  };

  for (const rawLine of text.split(/\r?\n/)) {
    if (rawLine.trim() === '' || DELIMITER.test(rawLine)) {
      flush();
      continue;
    }
    const labelled = LABELLED.exec(rawLine);
    if (labelled === null) continue;
    const label = (labelled[1] ?? '').replace(/\s+/g, ' ').toLowerCase();
    const value = (labelled[2] ?? '').trim();
    // A `Path:` always opens a session, even when the blank line before it was lost.
    if (label === 'path' && current !== null && seenLabel) flush();
    if (current === null) current = emptySession();
    const session: Openvpn3Session = current;
    if (applyField(session, label, value)) seenLabel = true;
  }
  flush();
  return sessions;
}

function emptySession(): Openvpn3Session {
  return {
    path: '',
    configName: null,
    sessionName: null,
    connectedTo: null,
    status: null,
    device: null,
    owner: null,
    pid: null,
  };
}

function applyField(session: Openvpn3Session, label: string, value: string): boolean {
  switch (label) {
    case 'path':
      session.path = value;
      return true;
    case 'created':
    case 'owner': {
      const split = SECOND_COLUMN.exec(value);
      const first = split === null ? value : (split[1] ?? '').trim();
      if (label === 'owner') session.owner = absentAsNull(first);
      if (split !== null) applySecondColumn(session, split[2] ?? '', split[3] ?? '');
      return true;
    }
    case 'config name': {
      const name = value.replace(CONFIG_SUFFIX, '').trim();
      session.configName = name === '' ? null : name;
      return true;
    }
    case 'session name':
      session.sessionName = value === '' ? null : value;
      return true;
    case 'connected to':
      session.connectedTo = parseConnectedTo(value);
      return true;
    case 'status':
      session.status = value === '' ? null : value;
      return true;
    default:
      return false;
  }
}

function applySecondColumn(session: Openvpn3Session, key: string, value: string): void {
  if (key === 'PID') {
    session.pid = /^\d+$/.test(value) ? Number(value) : null;
  } else {
    session.device = absentAsNull(value);
  }
}

/** openvpn3 prints `(None)`, `(not available)` or `-` where it has no value. */
function absentAsNull(value: string): string | null {
  const trimmed = value.trim();
  if (trimmed === '' || trimmed === '-' || /^\(.*\)$/.test(trimmed)) return null;
  return trimmed;
}

/**
 * `udp:1.2.3.4:443`, `tcp:[2001:db8::1]:443`, `udp:1.2.3.4` (DCO: no port),
 * `tcpv4-via-http:192.0.2.8:443` (through an HTTP proxy: the proxy's address
 * with the server's port).
 */
export function parseConnectedTo(value: string): Openvpn3ConnectedTo | null {
  const text = value.trim();
  const withProto = /^([A-Za-z][A-Za-z0-9_-]*):(.*)$/.exec(text);
  // An unbracketed IPv6 literal also matches `word:rest`, so only a known-looking
  // transport name counts as one.
  const protoCandidate = withProto?.[1] ?? '';
  const hasProto = withProto !== null && isIP(text) === 0 && /^(udp|tcp)/i.test(protoCandidate);
  const proto = hasProto ? protoCandidate.toLowerCase() : null;
  const rest = hasProto ? (withProto?.[2] ?? '').trim() : text;
  const viaHttpProxy = proto !== null && VIA_HTTP.test(proto);

  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed !== null) {
    const ip = bracketed[1] ?? '';
    if (isIP(ip) === 0) return null;
    return { proto, ip, port: toPort(bracketed[2]), viaHttpProxy };
  }
  if (isIP(rest) !== 0) return { proto, ip: rest, port: null, viaHttpProxy };
  const hostPort = /^([^:\s]+):(\d+)$/.exec(rest);
  if (hostPort !== null && isIP(hostPort[1] ?? '') === 4) {
    return { proto, ip: hostPort[1] ?? '', port: toPort(hostPort[2]), viaHttpProxy };
  }
  return null;
}

/** The core names a transport through an HTTP proxy `TCPv4-via-HTTP` (httpcli.hpp server_endpoint_info). */
const VIA_HTTP = /-via-http\b/i;

function toPort(text: string | undefined): number | null {
  if (text === undefined) return null;
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65_535 ? port : null;
}

// The connector setup tool imports `CloudConnexa` (before the 2023 rebrand `OpenVPNCloud`);
// people also keep names such as `CloudConnexa-us-east.ovpn` or `openvpn-cloud`.
const CLOUDCONNEXA_PROFILE = /cloud[\s_-]?connexa|openvpn[\s_-]?cloud/i;
// Profiles downloaded from the portal are named after it: `myorg.openvpn.com`, maybe with `.ovpn` or a note.
const CLOUDCONNEXA_DOMAIN =
  /(?:^|[^A-Za-z0-9.-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.openvpn\.com\.?(?:\.ovpn)?(?:$|[^A-Za-z0-9.-])/i;
const CLOUDCONNEXA_GATEWAY_HOST = /\.gw\.openvpn\.com\.?$/i;

/** True when the profile name or server host says this session is a CloudConnexa tunnel. */
export function isCloudConnexaSession(session: Openvpn3Session): boolean {
  const config = session.configName ?? '';
  if (CLOUDCONNEXA_PROFILE.test(config) || CLOUDCONNEXA_DOMAIN.test(config)) return true;
  return CLOUDCONNEXA_GATEWAY_HOST.test(session.sessionName ?? '');
}

/** Status text of a session whose tunnel is up (`Connection, Client connected`). */
export function isConnectedSession(session: Openvpn3Session): boolean {
  return /client connected/i.test(session.status ?? '');
}

/** `"CloudConnexa" (/net/openvpn/v3/sessions/..., status "...", udp:203.0.113.10:1194)` for warnings. */
export function describeSession(session: Openvpn3Session): string {
  const name = session.configName ?? session.sessionName ?? '(no config name)';
  const to = session.connectedTo;
  const address =
    to === null
      ? ''
      : `, ${to.proto === null ? '' : `${to.proto}:`}${to.ip.includes(':') ? `[${to.ip}]` : to.ip}${to.port === null ? '' : `:${to.port}`}`;
  // Profile names and statuses are whatever the host's users made them: clipped for the result document.
  return `${JSON.stringify(excerpt(name, 80))} (${excerpt(session.path || 'no path', 100)}, status ${JSON.stringify(excerpt(session.status ?? 'unknown', 60))}${address})`;
}

/**
 * Chooses the CloudConnexa session:
 *   1. the connected CloudConnexa session (several: the first as listed, with a
 *      warning naming them all and how to choose);
 *   2. a CloudConnexa session that is not connected (connecting, reconnecting,
 *      paused), with a warning: its last known server is the best evidence;
 *   3. a session whose name is not recognised, when it is the only session or
 *      the only connected one (connectors may import the profile under any
 *      name), with a warning;
 *   otherwise none, with a warning listing the sessions.
 */
export function pickCloudConnexaSession(sessions: readonly Openvpn3Session[]): Openvpn3SessionPick {
  if (sessions.length === 0) return { session: null, warning: 'openvpn3 lists no sessions' };

  const matching = sessions.filter(isCloudConnexaSession);
  const connected = matching.filter(isConnectedSession);
  const [firstConnected] = connected;
  if (firstConnected !== undefined) {
    if (connected.length === 1) return { session: firstConnected, warning: null };
    return {
      session: firstConnected,
      warning:
        `${connected.length} connected CloudConnexa sessions: ${connected.map(describeSession).join(', ')}; ` +
        `using the first, ${JSON.stringify(excerpt(firstConnected.configName ?? firstConnected.path, 80))}: pass --gateway-ip to trace another`,
    };
  }
  const [firstMatching] = matching;
  if (firstMatching !== undefined) {
    const several =
      matching.length > 1
        ? `; ${matching.length} CloudConnexa sessions, none connected: using the first`
        : '';
    return {
      session: firstMatching,
      warning: `CloudConnexa session ${describeSession(firstMatching)} is not connected${several}`,
    };
  }

  const connectedUnknown = sessions.filter(isConnectedSession);
  const guess =
    sessions.length === 1 ? sessions[0] : connectedUnknown.length === 1 ? connectedUnknown[0] : undefined;
  if (guess !== undefined) {
    const why = sessions.length === 1 ? 'the only openvpn3 session' : 'the only connected openvpn3 session';
    const state = isConnectedSession(guess) ? '' : ' (and it is not connected)';
    return {
      session: guess,
      warning: `${why}, ${describeSession(guess)}, does not look like CloudConnexa${state}; using it: pass --gateway-ip if it is not the CloudConnexa tunnel`,
    };
  }
  return {
    session: null,
    warning: `${sessions.length} openvpn3 sessions and none looks like CloudConnexa (config name CloudConnexa, OpenVPNCloud or *.openvpn.com, or server *.gw.openvpn.com): ${sessions.map(describeSession).join(', ')}; pass --gateway-ip`,
  };
}

/** What the session journal says about the newest connection (attempt). */
export interface JournalConnection {
  /** The address in parentheses: the server, or with `viaHttpProxy` the HTTP proxy. */
  ip: string;
  /** The server as the profile names it (`Connecting to [host]:port`, `Connected: user@host:port`), when printed. */
  server: HostPort | null;
  /** Transport as printed after `via` (`UDPv4`, `TCPv4-via-HTTP`, `UDPv6-DCO`), without the client address. */
  proto: string | null;
  viaHttpProxy: boolean;
}

// cliproto.hpp server_endpoint_render: `Connecting to [HOST]:PORT (IP) via PROTO`;
// clievent.hpp Connected::render: `[user@]HOST:PORT (IP) via CLIENT_IP/PROTO on ...` (HOST bracketed when it has a colon).
const CONNECTION_LINE =
  /\b(?:Connecting to|Connected:)\s+(?:\S*@)?(\[[^\]\s]*\]|[^\s@[\]]+?):(\d*)\s+\(([^()\s]+)\)\s+via\s+(\S*)/;
// `... (77.61.186.235) via /TCP on tun/...`, `... (1.2.3.4) via UDPv4-DCO`.
const VIA_IP = /\(([^()\s]+)\)\s+via\s+(\S*)/;

/**
 * The newest connection in a session journal: the last line with an IP in
 * parentheses before ` via ` (the core logs `Connecting to` and `Connected:`
 * this way; the latest line is the current connection or attempt).
 */
export function parseJournalConnection(text: string): JournalConnection | null {
  const lines = text.split(/\r?\n/);
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index] ?? '';
    if (!line.includes(' via ')) continue;
    const full = CONNECTION_LINE.exec(line);
    if (full !== null && isIP(full[3] ?? '') !== 0) {
      const host = (full[1] ?? '').replace(/^\[(.*)\]$/, '$1');
      const server = parseHostPort(
        full[2] === '' ? host : `${host.includes(':') ? `[${host}]` : host}:${full[2]}`,
      );
      return connection(full[3] ?? '', server, full[4] ?? '');
    }
    const bare = VIA_IP.exec(line);
    if (bare !== null && isIP(bare[1] ?? '') !== 0) return connection(bare[1] ?? '', null, bare[2] ?? '');
  }
  return null;
}

function connection(ip: string, server: HostPort | null, via: string): JournalConnection {
  // `via 10.0.0.5/UDPv4`: the client address comes first.
  const proto = via.slice(via.lastIndexOf('/') + 1);
  return { ip, server, proto: proto === '' ? null : proto, viaHttpProxy: VIA_HTTP.test(proto) };
}
