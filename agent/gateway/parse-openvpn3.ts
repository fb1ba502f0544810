/**
 * Parsers for what the OpenVPN 3 Linux client prints: `openvpn3 sessions-list`
 * and the session journal (`openvpn3-admin journal --path <session path>`).
 *
 * The layout follows openvpn3-linux src/ovpn3cli/commands/session/sessions-list.cpp,
 * but hosts run many releases and people paste these lists through tools that
 * collapse spaces, so the parser keys on labels, not on columns.
 */
import { isIP } from 'node:net';

export interface Openvpn3ConnectedTo {
  /** Lower-case transport as printed (`udp`, `tcp`), or null when the line had none. */
  proto: string | null;
  ip: string;
  /** Null under DCO, which does not expose the port. */
  port: number | null;
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

/** `udp:1.2.3.4:443`, `tcp:[2001:db8::1]:443`, `udp:1.2.3.4` (DCO: no port). */
export function parseConnectedTo(value: string): Openvpn3ConnectedTo | null {
  const text = value.trim();
  const withProto = /^([A-Za-z][A-Za-z0-9_-]*):(.*)$/.exec(text);
  // An unbracketed IPv6 literal also matches `word:rest`, so only a known-looking
  // transport name counts as one.
  const protoCandidate = withProto?.[1] ?? '';
  const hasProto = withProto !== null && isIP(text) === 0 && /^(udp|tcp)/i.test(protoCandidate);
  const proto = hasProto ? protoCandidate.toLowerCase() : null;
  const rest = hasProto ? (withProto?.[2] ?? '').trim() : text;

  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed !== null) {
    const ip = bracketed[1] ?? '';
    if (isIP(ip) === 0) return null;
    return { proto, ip, port: toPort(bracketed[2]) };
  }
  if (isIP(rest) !== 0) return { proto, ip: rest, port: null };
  const hostPort = /^([^:\s]+):(\d+)$/.exec(rest);
  if (hostPort !== null && isIP(hostPort[1] ?? '') === 4) {
    return { proto, ip: hostPort[1] ?? '', port: toPort(hostPort[2]) };
  }
  return null;
}

function toPort(text: string | undefined): number | null {
  if (text === undefined) return null;
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65_535 ? port : null;
}

const CLOUDCONNEXA_PROFILE = /^(cloudconnexa|openvpncloud)(\.ovpn)?$/i;
const CLOUDCONNEXA_DOMAIN = /\.openvpn\.com\.?$/i;
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

function describe(session: Openvpn3Session): string {
  const name = session.configName ?? session.sessionName ?? '(no config name)';
  return `${JSON.stringify(name)} (${session.path || 'no path'}, status ${JSON.stringify(session.status ?? 'unknown')})`;
}

/**
 * Chooses the CloudConnexa session. A connected CloudConnexa session wins; an
 * unrecognised profile is used only when it is the sole session (connectors may
 * import the profile under any name), and then with a warning.
 */
export function pickCloudConnexaSession(sessions: readonly Openvpn3Session[]): Openvpn3SessionPick {
  if (sessions.length === 0) return { session: null, warning: 'openvpn3 lists no sessions' };

  const matching = sessions.filter(isCloudConnexaSession);
  const connected = matching.filter(isConnectedSession);
  const first = connected[0] ?? matching[0];
  if (first !== undefined) {
    const pool = connected.length > 0 ? connected : matching;
    const warnings: string[] = [];
    if (!isConnectedSession(first)) warnings.push(`CloudConnexa session ${describe(first)} is not connected`);
    if (pool.length > 1) {
      warnings.push(`${pool.length} CloudConnexa sessions found; using the first, ${describe(first)}`);
    }
    return { session: first, warning: warnings.length > 0 ? warnings.join('; ') : null };
  }

  const only = sessions.length === 1 ? sessions[0] : undefined;
  if (only !== undefined) {
    const state = isConnectedSession(only) ? '' : ' (and it is not connected)';
    return {
      session: only,
      warning: `the only openvpn3 session ${describe(only)} does not look like CloudConnexa${state}; using it`,
    };
  }
  return {
    session: null,
    warning: `${sessions.length} openvpn3 sessions and none looks like CloudConnexa (config name CloudConnexa, OpenVPNCloud or *.openvpn.com, or server *.gw.openvpn.com): ${sessions.map(describe).join(', ')}`,
  };
}

// `... (77.61.186.235) via /TCP on tun/...`, `... (1.2.3.4) via UDPv4-DCO`.
const VIA_IP = /\(([^()\s]+)\)\s+via\s/;

/**
 * The gateway address from a session journal: the IP in parentheses before
 * ` via ` on the last line that has one (the core logs `Connecting to` and
 * `Connected:` this way; the latest line is the current connection).
 */
export function parseJournalGatewayIp(text: string): string | null {
  const lines = text.split(/\r?\n/);
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index] ?? '';
    if (!line.includes(' via ')) continue;
    const match = VIA_IP.exec(line);
    const ip = match?.[1] ?? '';
    if (isIP(ip) !== 0) return ip;
  }
  return null;
}
