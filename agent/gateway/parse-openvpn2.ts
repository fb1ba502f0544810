/**
 * Parsers for what an OpenVPN 2.x client exposes: the management interface's
 * `state` answer and its client log (a log file, or the management interface's
 * `log` history, whose lines are `<unix_ts>,<flags>,<message>`).
 *
 * Formats follow OpenVPN 2.4-2.6 sources: manage.c (log_entry_print),
 * socket.c (linksock_print_addr, resolve_remote), socket_util.c
 * (print_sockaddr_ex), proxy.c (establish_http_proxy_passthru), socks.c,
 * sig.c (print_signal), dco.c (dco_check_option_ce) and init.c.
 */
import { isIP } from 'node:net';
import { formatHostPort, type HostPort, parseHostPort } from './host-port.ts';

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

export interface ManagementStateHistory {
  /** The newest state line: what the client is doing now. */
  current: ManagementState;
  /**
   * The newest CONNECTED line that names a remote: the connection in use, or,
   * while the client reconnects, the last one it had. Only CONNECTED lines
   * carry a remote (init.c); the others print empty fields.
   */
  lastConnected: ManagementState | null;
  /** Every state line, oldest first (the tunnel's reconnections are counted from them). */
  states: ManagementState[];
}

// State names are short upper-case words (manage.c man_state_name); anything longer is not a state line.
const STATE_LINE = /^(?:>STATE:)?(\d{1,12}),([A-Z_?]{1,32}),(.*)$/;

/**
 * Parses the answer to `state` or `state all` (oldest line first, as manage.c
 * man_history prints it), including `>STATE:` live lines.
 * 2.4+: `ts,STATE,desc,tun4,remote_ip,remote_port,local_ip,local_port[,tun6]`;
 * before 2.4 the line ends after the remote IP. Management prints IPv6 remotes
 * without brackets and with a comma before the port, so a comma split is exact.
 */
export function parseManagementStateHistory(text: string): ManagementStateHistory | null {
  let current: ManagementState | null = null;
  let lastConnected: ManagementState | null = null;
  const states: ManagementState[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const match = STATE_LINE.exec(rawLine.trim());
    if (match === null) continue;
    const fields = (match[3] ?? '').split(',');
    const modern = fields.length >= 6;
    current = {
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
    states.push(current);
    if (current.state === 'CONNECTED' && current.remoteIp !== null) lastConnected = current;
  }
  return current === null ? null : { current, lastConnected, states };
}

/** The newest state line of a `state` answer, or null when there is none. */
export function parseManagementState(text: string): ManagementState | null {
  return parseManagementStateHistory(text)?.current ?? null;
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

/** One line of a client log that matters for finding the server, classified. */
export type ClientLogEvent =
  /** The version banner: a new OpenVPN process (its startup notes come just before it). */
  | { kind: 'start' }
  /** `SIGUSR1[soft,ping-restart] received, process restarting` (also SIGHUP): a new connection attempt follows. */
  | { kind: 'restart' }
  /** `SIGTERM[hard,] received, process exiting`, `Exiting due to fatal error`. */
  | { kind: 'exit' }
  /** `UDPv4 link remote: [AF_INET]203.0.113.5:1194`: the address the socket talks to. */
  | { kind: 'remote'; ip: string; port: number | null; transport: 'udp' | 'tcp' | null }
  /** `Peer Connection Initiated with [AF_INET]203.0.113.5:1194`. */
  | { kind: 'peer'; ip: string; port: number | null }
  | { kind: 'connected' }
  /** `Send to HTTP proxy: 'CONNECT <server>:<port> HTTP/1.0'` (verb 2 and up); `target` null when unreadable. */
  | { kind: 'http-connect'; target: HostPort | null; text: string }
  /** `SOCKS proxy wants us to send UDP to <relay>`: UDP through SOCKS; the link remote is the server. */
  | { kind: 'socks-udp'; relay: string }
  /** `Note: --socks-proxy disables data channel offload.` (2.6 at verb 3, before the banner, when DCO is possible). */
  | { kind: 'socks-configured' }
  /** `Connection profiles [0]:` of the verb 4 option dump (printed before the banner). */
  | { kind: 'profile'; first: boolean }
  /** `  remote = 'gw.example.com'` and the like within a connection profile of the option dump. */
  | { kind: 'option'; name: ProfileOption; value: string };

type ProfileOption = 'remote' | 'remote_port' | 'socks_proxy_server' | 'socks_proxy_port';

// print_sockaddr_ex: `[AF_INET]203.0.113.5:1194`, `[AF_INET6]2001:db8::1:1194`
// (IPv6 is not bracketed and the port, always printed, follows the last colon,
// so `2001:db8::1:1194` must not be taken whole although it is a valid address).
// OpenVPN before 2.3 printed no family tag.
const LINK_REMOTE = /(\S+) link remote: (\[[A-Z0-9_]+\])?(\S+)/;
const PEER_INITIATED = /\bPeer Connection Initiated with (\[[A-Z0-9_]+\])?(\S+)/;
const RESTART = /\bSIG(?:USR1|HUP)\[[^\]]*\] received, (?:process|client-instance) restarting/;
const EXIT =
  /\bSIG(?:TERM|INT)\[[^\]]*\] received, (?:process|client-instance) exiting|\bExiting due to fatal error/;
// `OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] ...`, printed once per process start.
const BANNER = /\bOpenVPN \d+\.\d+\S* \S+ \[/;
const HTTP_CONNECT = /\bSend to HTTP proxy: 'CONNECT (\S+) HTTP\/[\d.]+'/;
const SOCKS_UDP = /\bSOCKS proxy wants us to send UDP to (\[[A-Z0-9_]+\])?(\S+)/;
const SOCKS_NOTE = /\bNote: --socks-proxy disables data channel offload/;
// options.c show_connection_entry (SHOW_STR): two spaces, the name, ` = '<value>'`, `[UNDEF]` when unset.
const PROFILE = /\bConnection profiles \[(\d+|default)\]:/;
const PROFILE_OPTION = / {2}(remote|remote_port|socks_proxy_server|socks_proxy_port) = '([^']*)'\s*$/;

/** Classifies one log line; null for the many lines that do not matter here. */
export function classifyClientLogLine(line: string): ClientLogEvent | null {
  if (line.includes('link remote:')) {
    const match = LINK_REMOTE.exec(line);
    if (match === null) return null;
    const address = addressWithPort(match[2] ?? '', match[3] ?? '');
    if (address === null) return null;
    const label = (match[1] ?? '').toUpperCase();
    const transport = label.startsWith('TCP') ? 'tcp' : label.startsWith('UDP') ? 'udp' : null;
    return { kind: 'remote', ip: address.ip, port: address.port, transport };
  }
  if (line.includes('Peer Connection Initiated')) {
    const match = PEER_INITIATED.exec(line);
    const address = match === null ? null : addressWithPort(match[1] ?? '', match[2] ?? '');
    return address === null ? null : { kind: 'peer', ip: address.ip, port: address.port };
  }
  if (line.includes('Initialization Sequence Completed')) return { kind: 'connected' };
  if (line.includes(' received, ')) {
    if (RESTART.test(line)) return { kind: 'restart' };
    if (EXIT.test(line)) return { kind: 'exit' };
    return null;
  }
  if (line.includes('Exiting due to fatal error')) return { kind: 'exit' };
  if (line.includes('Send to HTTP proxy:')) {
    const match = HTTP_CONNECT.exec(line);
    if (match === null) return null;
    const text = match[1] ?? '';
    return { kind: 'http-connect', target: parseHostPort(text), text };
  }
  if (line.includes('SOCKS proxy wants us')) {
    const match = SOCKS_UDP.exec(line);
    const relay = match === null ? null : addressWithPort(match[1] ?? '', match[2] ?? '');
    return relay === null
      ? null
      : { kind: 'socks-udp', relay: formatHostPort({ host: relay.ip, port: relay.port }) };
  }
  if (line.includes(" = '")) {
    const option = PROFILE_OPTION.exec(line);
    return option === null
      ? null
      : { kind: 'option', name: option[1] as ProfileOption, value: option[2] ?? '' };
  }
  if (line.includes('Connection profiles [')) {
    const profile = PROFILE.exec(line);
    return profile === null
      ? null
      : { kind: 'profile', first: profile[1] === '0' || profile[1] === 'default' };
  }
  if (line.includes('--socks-proxy') && SOCKS_NOTE.test(line)) return { kind: 'socks-configured' };
  if (line.includes('OpenVPN ') && BANNER.test(line)) return { kind: 'start' };
  return null;
}

/** `1.2.3.4:1194` -> 1.2.3.4 and 1194, `2001:db8::1:1194` -> 2001:db8::1 and 1194; `[undef]` -> null. */
function addressWithPort(family: string, text: string): { ip: string; port: number | null } | null {
  const withPort = /^(.+):(\d+)$/.exec(text);
  const address = withPort?.[1] ?? '';
  const port = portOrNull(withPort?.[2]);
  if (family === '[AF_INET6]') return isIP(address) === 6 ? { ip: address, port } : null;
  if (family === '[AF_INET]') return isIP(address) === 4 ? { ip: address, port } : null;
  if (family !== '') return null;
  if (isIP(address) === 4) return { ip: address, port };
  return isIP(text) === 4 ? { ip: text, port: null } : null;
}

/** How the tunnel's packets reach the server. */
export type Openvpn2Route =
  | { kind: 'direct' }
  /** TCP through an HTTP proxy: the link remote is the proxy; `server` is what CONNECT asked for (null: unreadable). */
  | { kind: 'http-proxy'; server: HostPort | null; connectTarget: string }
  /** UDP through a SOCKS relay: OpenVPN resolved the server itself and the link remote is the server. */
  | { kind: 'socks-udp'; relay: string }
  /**
   * TCP with a SOCKS proxy configured: the link remote is the proxy. OpenVPN
   * logs the server it asks the proxy for nowhere but in the verb 4 option
   * dump: `server` comes from there, when one profile clearly applies.
   */
  | { kind: 'socks-tcp'; proxy: string | null; server: HostPort | null };

interface ProcessNotes {
  socksNote: boolean;
  profiles: Array<Partial<Record<ProfileOption, string>>>;
}

export type Openvpn2ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'exited';

/** The newest connection a client log describes. */
export interface Openvpn2Connection {
  /** The address OpenVPN's socket exchanges packets with: the server, or (TCP through a proxy) the proxy. */
  remoteIp: string;
  remotePort: number | null;
  transport: 'udp' | 'tcp' | null;
  route: Openvpn2Route;
  /**
   * connected: `Initialization Sequence Completed` followed it; connecting:
   * nothing after it yet; reconnecting: a restart or a new process followed;
   * exited: the process exited after it.
   */
  status: Openvpn2ConnectionStatus;
  /** The log line that ended it (status reconnecting or exited). */
  endedBy: string | null;
}

/**
 * Reads a client log in order, line by line (or event by event), and keeps
 * only what describes its newest connection, so a log of any length is read
 * in constant memory.
 *
 * A connection attempt runs from a restart (or process start) to the next; the
 * proxy lines of an attempt (CONNECT is sent before the link remote is logged)
 * belong to the link remote of the same attempt. `Preserving recently used
 * remote address` lines are ignored on purpose: they only appear on reconnects
 * and name the previous connection's address.
 */
export class ClientLogScanner {
  private connection: Openvpn2Connection | null = null;
  private attemptHasRemote = false;
  private httpConnect: { target: HostPort | null; text: string } | null = null;
  private socksUdp: string | null = null;
  /**
   * Startup notes and the option dump precede the version banner: they are
   * pending until the banner, then belong to that process until it exits.
   */
  private pending: ProcessNotes = { socksNote: false, profiles: [] };
  private process: ProcessNotes = { socksNote: false, profiles: [] };

  pushLine(line: string): void {
    const event = classifyClientLogLine(line);
    if (event !== null) this.pushEvent(event, line);
  }

  pushEvent(event: ClientLogEvent, line: string): void {
    switch (event.kind) {
      case 'start':
        this.process = this.pending;
        this.pending = { socksNote: false, profiles: [] };
        this.newAttempt();
        this.end('reconnecting', line);
        return;
      case 'restart':
        this.pending = { socksNote: false, profiles: [] };
        this.newAttempt();
        this.end('reconnecting', line);
        return;
      case 'exit':
        this.pending = { socksNote: false, profiles: [] };
        this.process = { socksNote: false, profiles: [] };
        this.newAttempt();
        this.end('exited', line);
        return;
      case 'http-connect':
        this.httpConnect = { target: event.target, text: event.text };
        return;
      case 'socks-udp':
        this.socksUdp = event.relay;
        return;
      case 'socks-configured':
        this.pending.socksNote = true;
        return;
      case 'profile':
        if (event.first) this.pending.profiles = [];
        this.pending.profiles.push({});
        return;
      case 'option': {
        const profile = this.pending.profiles[this.pending.profiles.length - 1];
        if (profile !== undefined && event.value !== '[UNDEF]') profile[event.name] = event.value;
        return;
      }
      case 'remote':
        this.connect(event.ip, event.port, event.transport);
        return;
      case 'peer':
        // A log that lacks the link remote line still names the peer.
        if (!this.attemptHasRemote) this.connect(event.ip, event.port, null);
        return;
      case 'connected':
        if (this.connection !== null && this.attemptHasRemote) this.connection.status = 'connected';
        return;
    }
  }

  /** The newest connection, or null when the log names no remote. */
  result(): Openvpn2Connection | null {
    return this.connection === null ? null : { ...this.connection };
  }

  private connect(ip: string, port: number | null, transport: 'udp' | 'tcp' | null): void {
    this.attemptHasRemote = true;
    let route: Openvpn2Route = { kind: 'direct' };
    if (this.httpConnect !== null && transport !== 'udp') {
      route = { kind: 'http-proxy', server: this.httpConnect.target, connectTarget: this.httpConnect.text };
    } else if (this.socksUdp !== null && transport !== 'tcp') {
      route = { kind: 'socks-udp', relay: this.socksUdp };
    } else if (transport === 'tcp') {
      route = this.socksRoute(ip) ?? route;
    }
    this.connection = {
      remoteIp: ip,
      remotePort: port,
      transport,
      route,
      status: 'connecting',
      endedBy: null,
    };
  }

  /** A TCP link remote is a SOCKS proxy when the process noted or dumped one; the dump may name the server. */
  private socksRoute(remoteIp: string): Openvpn2Route | null {
    const { socksNote, profiles } = this.process;
    const socks = profiles.filter((profile) => profile.socks_proxy_server !== undefined);
    if (!socksNote && socks.length === 0) return null;
    const [only] = socks;
    if (socks.length !== 1 || only === undefined) return { kind: 'socks-tcp', proxy: null, server: null };
    const proxy = only.socks_proxy_server ?? '';
    const proxyEndpoint = parseHostPort(
      only.socks_proxy_port === undefined
        ? proxy
        : `${proxy.includes(':') ? `[${proxy}]` : proxy}:${only.socks_proxy_port}`,
    );
    // With several profiles the one in use is known only when the link remote is its proxy.
    const applies = profiles.length === 1 || proxy === remoteIp;
    const remote = only.remote;
    const server =
      applies && remote !== undefined
        ? parseHostPort(
            only.remote_port === undefined
              ? remote
              : `${remote.includes(':') ? `[${remote}]` : remote}:${only.remote_port}`,
          )
        : null;
    return {
      kind: 'socks-tcp',
      proxy: proxyEndpoint === null ? null : formatHostPort(proxyEndpoint),
      server,
    };
  }

  private newAttempt(): void {
    this.attemptHasRemote = false;
    this.httpConnect = null;
    this.socksUdp = null;
  }

  private end(status: 'reconnecting' | 'exited', line: string): void {
    if (this.connection === null) return;
    this.connection.status = status;
    this.connection.endedBy = line.trim();
  }
}

/** The newest connection described by a whole client log text (tests, the management `log` history). */
export function parseClientLog(text: string): Openvpn2Connection | null {
  const scanner = new ClientLogScanner();
  for (const line of text.split(/\r?\n/)) scanner.pushLine(line);
  return scanner.result();
}
