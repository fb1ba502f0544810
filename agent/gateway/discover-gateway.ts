/**
 * Finds the public address of the CloudConnexa (or OpenVPN) server the host's
 * tunnel is connected to, so the agent can run mtr towards it outside the
 * tunnel.
 *
 * Sources, in this order (what the user names wins over what is guessed):
 *   1. --gateway-ip;
 *   2. the OpenVPN 2 management interface (--openvpn-management: `state all`,
 *      and `log 500` to see whether the connection runs through a proxy);
 *   3. the OpenVPN 2 client log (--openvpn-log, read backwards in bounded
 *      chunks, and its newest rotated copy when the log names no connection);
 *   4. OpenVPN 3 (`openvpn3 sessions-list`, then the session journal through
 *      `openvpn3-admin journal --path`, the only openvpn3 command that reads
 *      past events: `openvpn3 log` follows new events only and never exits);
 *   5. an OpenVPN 2 client log whose process has exited since (last known).
 * Sources 2-4 run at the same time; the whole discovery ends within
 * `timeoutMs`. A tunnel that is reconnecting gives its last known server with
 * a warning: the path to it is the evidence support needs exactly then.
 *
 * Through a proxy the address OpenVPN's socket talks to is the proxy's (the
 * OpenVPN 2 link remote and management `state`, the OpenVPN 3 `Connected to`
 * with transport `tcpv4-via-http`); the server is the one the client asked the
 * proxy for (CONNECT line, journal). When that is a host name, which the proxy
 * resolved on its side, it is resolved here with the system resolver, as
 * resources are (getaddrinfo, within the discovery deadline), and a warning
 * says so. A SOCKS proxy over TCP hides the server from OpenVPN 2's log: then
 * no address and a warning. A missing gateway is a warning, never an exception;
 * a failing source is recorded in `errors` with its evidence.
 *
 * With `observeTunnel`, the same pass (the same deadline) also tells the
 * tunnel's state (agent/tunnel/tunnel-state.ts): the management interface is
 * asked `status` too, openvpn3 `session-stats` for the session it picked, and
 * when no source tells, the tun devices are read. The sources are then asked
 * even with --gateway-ip (the journal, needed only for the address, is not).
 */
import { isIP } from 'node:net';
import { type ErrorInfo, excerpt, MonitorError, ProcessError, toErrorInfo } from '../../common/errors.ts';
import type { GatewaySource } from '../../common/result-schema.ts';
import { KILL_GRACE_MS, RESOLVE_TIMEOUT_MS } from '../../common/round-budget.ts';
import { type ResolvedAddress, resolveAddress } from '../probes/resolve-address.ts';
import type { ProcessResult, RunProcess } from '../process/types.ts';
import { parseManagementStatus, parseSessionStats, type TunnelCounters } from '../tunnel/parse-counters.ts';
import { readTunDevices } from '../tunnel/read-tun-devices.ts';
import {
  fromClientLog,
  fromManagement,
  fromManagementRefused,
  fromOpenvpn3NoSession,
  fromOpenvpn3Session,
  fromTunDevices,
  type TunnelObservation,
  unknownTunnel,
} from '../tunnel/tunnel-state.ts';
import { formatHostPort, type HostPort, parseHostPort } from './host-port.ts';
import { type ManagementAnswer, queryManagement } from './management-client.ts';
import {
  type ManagementState,
  type Openvpn2Connection,
  type Openvpn2Route,
  parseClientLog,
  parseManagementStateHistory,
} from './parse-openvpn2.ts';
import {
  isConnectedSession,
  type JournalConnection,
  type Openvpn3Session,
  parseJournalConnection,
  parseSessionsList,
  pickCloudConnexaSession,
} from './parse-openvpn3.ts';
import {
  type ClientLogLimits,
  type ClientLogRead,
  LOG_READ_MAX_BYTES,
  readClientLog,
} from './read-client-log.ts';

export interface GatewayDiscoveryOptions {
  /** --gateway-ip: used as is when it is an IP literal. */
  gatewayIp: string | null;
  /** --openvpn-management: `host:port`, `[v6]:port` or a unix socket path. */
  openvpnManagement: string | null;
  /** --openvpn-log: an OpenVPN 2 client log file. */
  openvpnLog: string | null;
  /** The whole discovery, every step included, ends within this many milliseconds. */
  timeoutMs: number;
  openvpn3Binary?: string;
  openvpn3AdminBinary?: string;
  /** Also tell the tunnel's state (GatewayDiscovery.tunnel). */
  observeTunnel?: boolean;
  /** Where the tun devices are listed (tests); default /sys/class/net. */
  sysClassNet?: string;
}

export interface GatewayDiscovery {
  ip: string | null;
  source: GatewaySource | null;
  warnings: string[];
  errors: ErrorInfo[];
  /** Set with `observeTunnel`. */
  tunnel?: TunnelObservation;
}

export interface GatewayDiscoveryDeps {
  run: RunProcess;
  queryManagement?: typeof queryManagement;
  readClientLog?: typeof readClientLog;
  resolve?: (host: string, timeoutMs: number) => Promise<ResolvedAddress>;
  /** Monotonic milliseconds. */
  now?: () => number;
}

/** Management commands: the state history (last connection while reconnecting) and recent log lines (proxy). */
export const MANAGEMENT_COMMANDS = ['state all', 'log 500'] as const;
/** A journal of a long-lived session can be long; the runner keeps the head, and the answer is at the end. */
const JOURNAL_MAX_BYTES = 16 * 1024 * 1024;
/** Each step's own timeout ends this much before the deadline, so its own (more precise) error is reported. */
const STEP_MARGIN_MS = 100;
/** A D-Bus object path: the only session path that may reach argv. */
const DBUS_PATH = /^\/[A-Za-z0-9_/]+$/;
/** A process step needs at least this much time, beside the runner's kill grace, to be worth starting. */
const MIN_PROCESS_MS = 200;

/** What one source says, before the sources are weighed against each other. */
interface Candidate {
  source: GatewaySource;
  /** The server's address, or its host name still to be resolved (`context` explains where it came from). */
  found: { ip: string } | { host: HostPort; context: string } | null;
  /** An OpenVPN 2 log whose process has exited: ranks after OpenVPN 3. */
  stale: boolean;
  warnings: string[];
  errors: ErrorInfo[];
  /** Why this source gave no address, for the "no gateway found" warning. */
  tried: string;
  /** What this source says of the tunnel (with `observeTunnel`); null when it cannot tell. */
  tunnel?: TunnelObservation | null;
}

interface Clock {
  now: () => number;
  deadline: number;
}

function remainingMs(clock: Clock): number {
  return Math.max(0, clock.deadline - clock.now());
}

function monotonicMs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1000 + nanoseconds / 1e6;
}

export async function discoverGateway(
  options: GatewayDiscoveryOptions,
  deps: GatewayDiscoveryDeps,
): Promise<GatewayDiscovery> {
  const now = deps.now ?? monotonicMs;
  const clock: Clock = { now, deadline: now() + options.timeoutMs };
  const errors: ErrorInfo[] = [];
  const observe = options.observeTunnel === true;

  const given = options.gatewayIp?.trim() ?? '';
  let givenIp: string | null = null;
  if (given !== '') {
    if (isIP(given) !== 0) {
      givenIp = normalizeIp(given);
      if (!observe) return { ip: givenIp, source: 'option', warnings: [], errors: [] };
    } else {
      errors.push({
        code: 'E_INVALID_INPUT',
        message: `--gateway-ip ${JSON.stringify(given)} is not allowed: an IPv4 or IPv6 address; looking for the gateway instead`,
      });
    }
  }

  const management = options.openvpnManagement;
  const logPath = options.openvpnLog;
  const commands = observe ? [...MANAGEMENT_COMMANDS, 'status'] : MANAGEMENT_COMMANDS;
  const [managementAnswers, logRead, openvpn3] = await Promise.all([
    management === null
      ? null
      : settleBy(askManagement(management, commands, clock, deps.queryManagement ?? queryManagement), clock),
    logPath === null ? null : settleBy(readLog(logPath, clock, deps.readClientLog ?? readClientLog), clock),
    settleBy(fromOpenvpn3(options, deps.run, clock, givenIp === null), clock).then(
      (outcome): Candidate =>
        outcome.ok ? outcome.value : failed('openvpn3', outcome.error, 'openvpn3 failed (see errors)'),
    ),
  ]);

  const fileConnection = logRead?.ok === true ? logRead.value.connection : null;
  const candidates: Candidate[] = [];
  if (management !== null && managementAnswers !== null) {
    candidates.push(managementCandidate(management, managementAnswers, logPath, fileConnection));
  }
  const log = logPath === null || logRead === null ? null : logCandidate(logPath, logRead);
  if (log !== null && !log.stale) candidates.push(log);
  candidates.push(openvpn3);
  if (log?.stale) candidates.push(log);
  if (management === null && logPath === null) {
    candidates.push(nothing('openvpn2-log', 'no --openvpn-management or --openvpn-log given'));
  }
  const tunnel = observe ? tunnelOf(candidates, options.sysClassNet) : undefined;
  const withTunnel = (found: GatewayDiscovery): GatewayDiscovery =>
    tunnel === undefined ? found : { ...found, tunnel };
  if (givenIp !== null) return withTunnel({ ip: givenIp, source: 'option', warnings: [], errors });

  const warnings: string[] = [];
  const tried: string[] = [];
  // The first candidate with an address wins; those before it leave their errors and, if it
  // comes to that, their reasons; its own warnings say how its address was found.
  for (const candidate of candidates) {
    errors.push(...candidate.errors);
    const resolved: string[] = [];
    const ip = await addressOf(candidate, clock, deps.resolve ?? resolveAddress, resolved, errors);
    if (ip !== null) {
      warnings.push(...candidate.warnings, ...resolved);
      return withTunnel({ ip: normalizeIp(ip), source: candidate.source, warnings, errors });
    }
    tried.push(candidate.tried);
  }
  warnings.push(`no gateway found: ${tried.join('; ')}; pass --gateway-ip`);
  return withTunnel({ ip: null, source: null, warnings, errors });
}

/**
 * The tunnel as the first source that can tell says it, in the candidates'
 * order; then the tun devices; then the weak signals (a refusing management
 * interface, openvpn3 without a session); else unknown.
 */
function tunnelOf(candidates: readonly Candidate[], sysClassNet: string | undefined): TunnelObservation {
  const told = candidates.map((c) => c.tunnel ?? null).filter((t): t is TunnelObservation => t !== null);
  const strong = told.find((t) => t.fallback !== true);
  if (strong !== undefined) return strong;
  const devices = fromTunDevices(readTunDevices(sysClassNet));
  if (devices !== null) return devices;
  const tried = candidates.map((c) => c.tried).filter((t) => t !== '');
  return told[0] ?? unknownTunnel(tried.join('; '));
}

/** The candidate's IP, resolving a server host name with what is left of the deadline; null with a warning if none. */
async function addressOf(
  candidate: Candidate,
  clock: Clock,
  resolve: (host: string, timeoutMs: number) => Promise<ResolvedAddress>,
  warnings: string[],
  errors: ErrorInfo[],
): Promise<string | null> {
  const found = candidate.found;
  if (found === null) return null;
  if ('ip' in found) return found.ip;
  const name = formatHostPort(found.host);
  const timeoutMs = Math.min(RESOLVE_TIMEOUT_MS, remainingMs(clock));
  if (timeoutMs <= 0) {
    candidate.tried = `${found.context}; no time was left to resolve ${found.host.host}`;
    return null;
  }
  try {
    const resolved = await resolve(found.host.host, timeoutMs);
    warnings.push(
      `${found.context}: ${found.host.host} resolves on this host to ${resolved.address}, which is traced ` +
        '(the server may have several addresses and the proxy may have picked another: pass --gateway-ip to choose)',
    );
    return resolved.address;
  } catch (error) {
    errors.push(toErrorInfo(error));
    candidate.tried = `${found.context}; ${name} does not resolve on this host (see errors): pass --gateway-ip with its address`;
    return null;
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

/** Settles by the deadline whatever `work` does; a rejection or the deadline becomes an error. */
function settleBy<T>(work: Promise<T>, clock: Clock): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          ok: false,
          error: {
            code: 'E_GATEWAY',
            message: 'gateway discovery deadline reached before this source answered',
          },
        }),
      remainingMs(clock),
    );
  });
  const settled = work.then(
    (value): Settled<T> => ({ ok: true, value }),
    (error: unknown): Settled<T> => ({ ok: false, error: toErrorInfo(error) }),
  );
  return Promise.race([settled, late]).then((outcome) => {
    if (timer !== undefined) clearTimeout(timer);
    return outcome;
  });
}

function nothing(source: GatewaySource, tried: string): Candidate {
  return { source, found: null, stale: false, warnings: [], errors: [], tried };
}

function failed(source: GatewaySource, error: ErrorInfo, tried: string): Candidate {
  return { source, found: null, stale: false, warnings: [], errors: [error], tried };
}

// ---------------------------------------------------------------- routes

/**
 * The candidate for a connection whose socket talks to `remoteIp`, given how
 * the log says it reaches the server. `label` names the source in messages.
 */
function fromRoute(
  source: GatewaySource,
  label: string,
  remoteIp: string,
  remotePort: number | null,
  route: Openvpn2Route,
  warnings: string[],
  hint: string,
): Candidate {
  const candidate: Candidate = { source, found: null, stale: false, warnings, errors: [], tried: '' };
  const proxy = formatHostPort({ host: remoteIp, port: remotePort });
  switch (route.kind) {
    case 'direct':
      candidate.found = { ip: remoteIp };
      return candidate;
    case 'socks-udp':
      warnings.push(
        `${label}: the tunnel's UDP packets go through SOCKS relay ${route.relay}; ${remoteIp} (the server) is traced directly from this host`,
      );
      candidate.found = { ip: remoteIp };
      return candidate;
    case 'socks-tcp':
      if (route.server === null) {
        candidate.tried =
          `${label}: the tunnel's TCP connection goes through SOCKS proxy ${route.proxy === null || route.proxy === proxy ? proxy : `${route.proxy} (${proxy})`}, ` +
          'and OpenVPN logs the server it asks a SOCKS proxy for only in its option dump at verb 4 and above ' +
          '(absent here, or with several connection profiles that could apply)';
        return candidate;
      }
      return behindProxy(
        candidate,
        `${label}: the tunnel runs through SOCKS proxy ${proxy} to`,
        route.server,
        hint,
      );
    case 'http-proxy':
      if (route.server === null) {
        candidate.tried = `${label}: the tunnel goes through HTTP proxy ${proxy}, and its request CONNECT ${JSON.stringify(excerpt(route.connectTarget, 100))} names no usable server`;
        return candidate;
      }
      return behindProxy(
        candidate,
        `${label}: the tunnel runs through HTTP proxy ${proxy} to`,
        route.server,
        hint,
      );
  }
}

/** The server behind a proxy: its IP literal (with a note), or its name to resolve. */
function behindProxy(candidate: Candidate, through: string, server: HostPort, hint: string): Candidate {
  const toServer = `${through} ${formatHostPort(server)}`;
  if (isIP(server.host) !== 0) {
    candidate.warnings.push(`${toServer}; ${server.host} is traced directly from this host${hint}`);
    candidate.found = { ip: server.host };
  } else {
    candidate.found = { host: server, context: `${toServer}, a name the proxy resolves on its side${hint}` };
  }
  return candidate;
}

// ---------------------------------------------------------------- OpenVPN 2 management

async function askManagement(
  endpoint: string,
  commands: readonly string[],
  clock: Clock,
  query: typeof queryManagement,
): Promise<ManagementAnswer[]> {
  return query(endpoint, commands, Math.max(1, remainingMs(clock) - STEP_MARGIN_MS));
}

function managementCandidate(
  endpoint: string,
  outcome: Settled<ManagementAnswer[]>,
  logPath: string | null,
  fileConnection: Openvpn2Connection | null,
): Candidate {
  const source = 'openvpn2-management';
  if (!outcome.ok) {
    const candidate = failed(source, outcome.error, `--openvpn-management ${endpoint} failed (see errors)`);
    // manage.c listens only while the client runs: a refused connection says it does not run.
    const refused = /: (ECONNREFUSED|ENOENT)$/.exec(outcome.error.message);
    if (refused !== null)
      candidate.tunnel = fromManagementRefused(endpoint, `refuses connections (${refused[1]})`);
    return candidate;
  }
  const [stateAnswer, logAnswer, statusAnswer] = outcome.value;
  const history = parseManagementStateHistory(stateAnswer?.text ?? '');
  const status = statusAnswer?.text ? parseManagementStatus(statusAnswer.text) : null;
  return {
    ...managementGateway(endpoint, stateAnswer, history, logAnswer, logPath, fileConnection),
    tunnel: history === null ? null : fromManagement(history, status, endpoint),
  };
}

function managementGateway(
  endpoint: string,
  stateAnswer: ManagementAnswer | undefined,
  history: ReturnType<typeof parseManagementStateHistory>,
  logAnswer: ManagementAnswer | undefined,
  logPath: string | null,
  fileConnection: Openvpn2Connection | null,
): Candidate {
  const source = 'openvpn2-management';
  const where = `OpenVPN management interface ${endpoint}`;
  const stateText = stateAnswer?.text ?? '';
  if (history === null) {
    const error = new MonitorError(
      'E_GATEWAY',
      `${where} answered \`${stateAnswer?.command ?? 'state'}\` without a state line: ${excerpt(stateText, 300)}`,
    ).toInfo();
    return failed(source, error, `--openvpn-management ${endpoint} gave no state`);
  }
  const { current, lastConnected } = history;
  if (lastConnected === null || lastConnected.remoteIp === null) {
    return nothing(
      source,
      `--openvpn-management ${endpoint} shows state ${current.state} and no connected server in its state history`,
    );
  }
  const warnings: string[] = [];
  if (current !== lastConnected) {
    warnings.push(
      `${where} reports state ${current.state}${since(current)}, not CONNECTED; ` +
        `using the server of its last connection${since(lastConnected)}, ${lastConnected.remoteIp}`,
    );
  }

  // The socket's peer is the proxy when there is one: the log lines of the connection tell.
  const cached = logAnswer?.text === null || logAnswer === undefined ? null : parseClientLog(logAnswer.text);
  let route: Openvpn2Route = { kind: 'direct' };
  let hint = '';
  if (sameConnection(lastConnected, fileConnection) && fileConnection !== null) {
    route = fileConnection.route;
  } else if (sameConnection(lastConnected, cached) && cached !== null) {
    route = cached.route;
    if (route.kind !== 'direct' && logPath === null) {
      hint =
        ' (seen in the management log cache, which keeps only recent lines: pass --openvpn-log too so this stays known)';
    }
  }
  if (fileConnection !== null && logPath !== null && !sameConnection(lastConnected, fileConnection)) {
    warnings.push(
      `--openvpn-log ${logPath} names ${formatHostPort({ host: fileConnection.remoteIp, port: fileConnection.remotePort })} ` +
        `as its newest connection, ${where} names ${formatHostPort({ host: lastConnected.remoteIp, port: lastConnected.remotePort })}: ` +
        'do both options name the same OpenVPN client?',
    );
  }
  return withTried(
    fromRoute(source, where, lastConnected.remoteIp, lastConnected.remotePort, route, warnings, hint),
    `--openvpn-management ${endpoint}`,
  );
}

function since(state: ManagementState): string {
  return Number.isFinite(state.timestamp) && state.timestamp > 0
    ? ` since ${new Date(state.timestamp * 1000).toISOString()}`
    : '';
}

function sameConnection(state: ManagementState, connection: Openvpn2Connection | null): boolean {
  if (connection === null || state.remoteIp === null) return false;
  if (normalizeIp(state.remoteIp) !== normalizeIp(connection.remoteIp)) return false;
  return (
    state.remotePort === null || connection.remotePort === null || state.remotePort === connection.remotePort
  );
}

function withTried(candidate: Candidate, fallback: string): Candidate {
  if (candidate.tried === '') candidate.tried = fallback;
  return candidate;
}

// ---------------------------------------------------------------- OpenVPN 2 client log

async function readLog(path: string, clock: Clock, read: typeof readClientLog): Promise<ClientLogRead> {
  const limits: ClientLogLimits = {
    maxBytes: LOG_READ_MAX_BYTES,
    deadline: clock.deadline - STEP_MARGIN_MS,
    now: clock.now,
  };
  return read(path, limits);
}

function logCandidate(path: string, outcome: Settled<ClientLogRead>): Candidate {
  const source = 'openvpn2-log';
  const label = `--openvpn-log ${path}`;
  if (!outcome.ok) return failed(source, outcome.error, `${label} unreadable (see errors)`);
  const read = outcome.value;
  return { ...logGateway(label, read), tunnel: fromClientLog(read.connection) };
}

function logGateway(label: string, read: ClientLogRead): Candidate {
  const source = 'openvpn2-log';
  const connection = read.connection;
  if (connection === null) {
    const files = read.files.map((file) => file.path).join(' and ');
    const scope =
      read.incomplete === null ? `(read: ${files})` : `in what was read (${read.incomplete}; read: ${files})`;
    const notes = read.notes.length === 0 ? '' : `; ${read.notes.join('; ')}`;
    return nothing(
      source,
      `${label} has no "link remote:" or "Peer Connection Initiated" line ${scope}${notes}: pass --openvpn-management or --gateway-ip`,
    );
  }
  const warnings: string[] = [];
  const server = connection.remoteIp;
  const ended = connection.endedBy === null ? '' : ` (${JSON.stringify(excerpt(connection.endedBy, 160))})`;
  if (connection.status === 'connecting') {
    warnings.push(
      `${label}: the newest connection, to ${server}, has not completed ("Initialization Sequence Completed" not logged after it)`,
    );
  } else if (connection.status === 'reconnecting') {
    warnings.push(
      `${label}: the connection to ${server} ended${ended} and no newer one is logged; using it as the last known`,
    );
  } else if (connection.status === 'exited') {
    warnings.push(
      `${label}: the OpenVPN process exited after its last connection${ended}; using that connection as the last known`,
    );
  }
  const candidate = withTried(
    fromRoute(source, label, connection.remoteIp, connection.remotePort, connection.route, warnings, ''),
    label,
  );
  candidate.stale = connection.status === 'exited';
  return candidate;
}

// ---------------------------------------------------------------- OpenVPN 3

/** The timeout for a process step, or null when too little time is left to start one. */
function processTimeout(clock: Clock): number | null {
  const timeoutMs = remainingMs(clock) - KILL_GRACE_MS - STEP_MARGIN_MS;
  return timeoutMs >= MIN_PROCESS_MS ? timeoutMs : null;
}

async function fromOpenvpn3(
  options: GatewayDiscoveryOptions,
  run: RunProcess,
  clock: Clock,
  needAddress: boolean,
): Promise<Candidate> {
  const source = 'openvpn3';
  const binary = options.openvpn3Binary ?? 'openvpn3';
  const listTimeout = processTimeout(clock);
  if (listTimeout === null)
    return nothing(source, `${binary} sessions-list not run: discovery deadline reached`);
  const list = await run(binary, ['sessions-list'], { timeoutMs: listTimeout });
  if (list.spawnError === 'ENOENT') return nothing(source, `${binary} not installed`);
  const listFailure = processFailure(list, 'openvpn3 sessions-list', listTimeout);
  if (listFailure !== null) {
    return failed(source, listFailure.toInfo(), `${binary} sessions-list failed (see errors)`);
  }

  const sessions = parseSessionsList(list.stdout);
  const pick = pickCloudConnexaSession(sessions);
  const session = pick.session;
  const observe = options.observeTunnel === true;
  // Without a session the reason only matters if no other source finds the gateway.
  if (session === null) {
    const candidate = nothing(source, `openvpn3: ${pick.warning}`);
    if (observe && sessions.length === 0) candidate.tunnel = fromOpenvpn3NoSession();
    return candidate;
  }
  const warnings = pick.warning === null ? [] : [pick.warning];
  const candidate: Candidate = { source, found: null, stale: false, warnings, errors: [], tried: '' };
  const [, stats] = await Promise.all([
    needAddress ? openvpn3Address(candidate, session, options, run, clock) : null,
    observe ? readSessionStats(session, binary, run, clock) : null,
  ]);
  if (observe)
    candidate.tunnel = fromOpenvpn3Session(session, stats?.counters ?? null, stats?.failure ?? null);
  return candidate;
}

/** `openvpn3 session-stats` of the session; null counters and why when it gave none. */
async function readSessionStats(
  session: Openvpn3Session,
  binary: string,
  run: RunProcess,
  clock: Clock,
): Promise<{ counters: TunnelCounters | null; failure: string | null }> {
  const timeoutMs = processTimeout(clock);
  if (!DBUS_PATH.test(session.path) || timeoutMs === null) {
    return { counters: null, failure: 'session-stats not run' };
  }
  const result = await run(binary, ['session-stats', '--path', session.path], { timeoutMs });
  const failure = processFailure(result, 'openvpn3 session-stats', timeoutMs);
  const counters = failure === null ? parseSessionStats(result.stdout) : null;
  return {
    counters,
    failure: failure?.message ?? (counters === null ? 'session-stats printed no statistics' : null),
  };
}

/** Finds the session's server address into `candidate` (its `found`, warnings, errors, `tried`). */
async function openvpn3Address(
  candidate: Candidate,
  session: Openvpn3Session,
  options: GatewayDiscoveryOptions,
  run: RunProcess,
  clock: Clock,
): Promise<Candidate> {
  const warnings = candidate.warnings;
  const label = `openvpn3 session ${JSON.stringify(excerpt(session.configName ?? session.path, 80))}`;
  const to = session.connectedTo;

  if (to !== null && !to.viaHttpProxy) {
    candidate.found = { ip: to.ip };
    return candidate;
  }
  if (session.sessionName !== null && isIP(session.sessionName) !== 0) {
    candidate.found = { ip: session.sessionName };
    return candidate;
  }

  // The journal names the server (v23; a session not connected now; or through an HTTP proxy).
  const journal = await readJournal(session, options, run, clock, candidate);
  const known = !isConnectedSession(session) ? '; its journal gives the last known server' : '';
  if (journal !== null && !journal.viaHttpProxy) {
    if (known !== '') warnings.push(`${label}${known}, ${journal.ip}`);
    candidate.found = { ip: journal.ip };
    return candidate;
  }
  const proxyIp = journal?.ip ?? (to?.viaHttpProxy ? to.ip : null);
  if (proxyIp !== null) {
    const server = journal?.server ?? hostPortOf(session.sessionName);
    const through = `${label} connects through HTTP proxy ${proxyIp}`;
    if (server === null) {
      candidate.tried = `${through}, and only the session journal names the server: ${candidate.tried || 'it has no such line'}`;
      return candidate;
    }
    return behindProxy(candidate, `${through} to`, server, '');
  }
  // No address anywhere, but the v23 session name is the server's host name.
  const named = hostPortOf(session.sessionName);
  if (named !== null) {
    candidate.found = {
      host: named,
      context: `${label} names its server ${excerpt(session.sessionName ?? '', 100)} but no address (${candidate.tried})`,
    };
    return candidate;
  }
  return candidate;
}

/** A v23 session name is the server's host name as the profile gives it; anything else is not used. */
function hostPortOf(name: string | null): HostPort | null {
  return name === null ? null : parseHostPort(name);
}

/** The session journal's newest connection; on failure null, with `candidate.tried` (and errors) saying why. */
async function readJournal(
  session: Openvpn3Session,
  options: GatewayDiscoveryOptions,
  run: RunProcess,
  clock: Clock,
  candidate: Candidate,
): Promise<JournalConnection | null> {
  // Session paths are D-Bus object paths; anything else must not reach argv.
  if (!DBUS_PATH.test(session.path)) {
    candidate.errors.push({
      code: 'E_GATEWAY',
      message: `openvpn3 session path ${JSON.stringify(excerpt(session.path, 100))} is not a D-Bus object path; journal not read`,
    });
    candidate.tried = 'openvpn3: session without a usable path';
    return null;
  }
  const admin = options.openvpn3AdminBinary ?? 'openvpn3-admin';
  const server = session.sessionName === null ? '' : ` (server ${excerpt(session.sessionName, 100)})`;
  const named = `openvpn3 session ${excerpt(session.path, 100)}`;
  const timeoutMs = processTimeout(clock);
  if (timeoutMs === null) {
    candidate.tried = `${named}${server}: ${admin} journal not run, discovery deadline reached`;
    return null;
  }
  const journal = await run(admin, ['journal', '--path', session.path], {
    timeoutMs,
    maxOutputBytes: JOURNAL_MAX_BYTES,
  });
  if (journal.spawnError === 'ENOENT') {
    candidate.tried = `${named}${server} shows no server address and ${admin} is not installed`;
    return null;
  }
  const failure = processFailure(journal, 'openvpn3-admin journal', timeoutMs);
  if (failure !== null) {
    candidate.errors.push(failure.toInfo());
    candidate.tried = `${named}${server}: ${admin} journal failed (see errors)`;
    return null;
  }
  // The runner keeps the head of a longer output; the newest lines may be missing.
  if (Buffer.byteLength(journal.stdout) >= JOURNAL_MAX_BYTES - 4) {
    candidate.warnings.push(
      `${named}: its journal is longer than ${JOURNAL_MAX_BYTES / (1024 * 1024)} MiB and only its beginning was read; the address may be out of date`,
    );
  }
  const connection = parseJournalConnection(journal.stdout);
  if (connection === null) {
    candidate.tried =
      `${named}${server} shows no server address and its journal has no "(IP) via" line ` +
      '(is the openvpn3 log service writing to systemd-journald?)';
  }
  return connection;
}

/** Null when the command ran and exited 0; else an error carrying the evidence. */
function processFailure(result: ProcessResult, what: string, timeoutMs: number): ProcessError | null {
  const evidence = {
    command: result.command,
    exitCode: result.exitCode,
    signal: result.signal,
    stderr: result.stderr,
  };
  if (result.spawnError !== null) {
    return new ProcessError('E_GATEWAY', `${what} could not be started: ${result.spawnError}`, evidence);
  }
  if (result.timedOut) {
    return new ProcessError(
      'E_GATEWAY',
      `${what} did not finish within ${Math.round(timeoutMs)} ms`,
      evidence,
    );
  }
  if (result.exitCode !== 0) {
    const why =
      result.exitCode === null
        ? `was killed by ${result.signal ?? 'a signal'}`
        : `exited with ${result.exitCode}`;
    const detail = excerpt(result.stderr, 200);
    return new ProcessError('E_GATEWAY', `${what} ${why}${detail === '' ? '' : `: ${detail}`}`, evidence);
  }
  return null;
}

/** mtr needs the IPv4 form of an IPv4-mapped address (dual-stack sockets print those). */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped !== null && isIP(mapped[1] ?? '') === 4 ? (mapped[1] ?? ip) : ip;
}
