/**
 * Finds the public address of the CloudConnexa (or OpenVPN) server the host's
 * tunnel is connected to, so the agent can run mtr towards it outside the
 * tunnel. Sources, first hit wins:
 *   1. --gateway-ip;
 *   2. OpenVPN 3 (`openvpn3 sessions-list`, then the session journal through
 *      `openvpn3-admin journal --path`, the only openvpn3 command that reads
 *      past events: `openvpn3 log` follows new events only and never exits);
 *   3. the OpenVPN 2 management interface (`state`);
 *   4. the OpenVPN 2 client log (last 256 KiB).
 * A failing source is recorded in `errors` with its evidence and the next one
 * is tried; a missing gateway is a warning, never an exception.
 */
import { promises as fs } from 'node:fs';
import { isIP } from 'node:net';
import { errnoOrMessage } from '../../common/errno.ts';
import { type ErrorInfo, excerpt, MonitorError, ProcessError, toErrorInfo } from '../../common/errors.ts';
import type { GatewaySource } from '../../common/result-schema.ts';
import type { ProcessResult, RunProcess } from '../process/types.ts';
import { queryManagementState } from './management-client.ts';
import { parseClientLogGatewayIp, parseManagementState } from './parse-openvpn2.ts';
import { parseJournalGatewayIp, parseSessionsList, pickCloudConnexaSession } from './parse-openvpn3.ts';

export interface GatewayDiscoveryOptions {
  /** --gateway-ip: used as is when it is an IP literal. */
  gatewayIp: string | null;
  /** --openvpn-management: `host:port`, `[v6]:port` or a unix socket path. */
  openvpnManagement: string | null;
  /** --openvpn-log: an OpenVPN 2 client log file. */
  openvpnLog: string | null;
  /** Per step (each command, the management exchange). */
  timeoutMs: number;
  openvpn3Binary?: string;
  openvpn3AdminBinary?: string;
}

export interface GatewayDiscovery {
  ip: string | null;
  source: GatewaySource | null;
  warnings: string[];
  errors: ErrorInfo[];
}

export interface GatewayDiscoveryDeps {
  run: RunProcess;
  queryManagement?: typeof queryManagementState;
  readFileTail?: (path: string, maxBytes: number) => Promise<string>;
}

export const LOG_TAIL_BYTES = 256 * 1024;
/** A journal of a long-lived session can be long; the runner keeps the head, and the answer is at the end. */
const JOURNAL_MAX_BYTES = 16 * 1024 * 1024;

interface SourceOutcome {
  ip: string | null;
  /** What was tried, for the "no gateway found" warning. */
  tried: string;
}

export async function discoverGateway(
  options: GatewayDiscoveryOptions,
  deps: GatewayDiscoveryDeps,
): Promise<GatewayDiscovery> {
  const warnings: string[] = [];
  const errors: ErrorInfo[] = [];
  const tried: string[] = [];
  const found = (ip: string, source: GatewaySource): GatewayDiscovery => ({
    ip: normalizeIp(ip),
    source,
    warnings,
    errors,
  });

  const given = options.gatewayIp?.trim() ?? '';
  if (given !== '') {
    if (isIP(given) !== 0) return found(given, 'option');
    errors.push({
      code: 'E_INVALID_INPUT',
      message: `--gateway-ip ${JSON.stringify(given)} is not allowed: an IPv4 or IPv6 address; looking for the gateway instead`,
    });
  }

  const openvpn3 = await fromOpenvpn3(options, deps.run, warnings, errors);
  if (openvpn3.ip !== null) return found(openvpn3.ip, 'openvpn3');
  tried.push(openvpn3.tried);

  if (options.openvpnManagement === null && options.openvpnLog === null) {
    tried.push('no --openvpn-management or --openvpn-log given');
  }

  if (options.openvpnManagement !== null) {
    const query = deps.queryManagement ?? queryManagementState;
    const management = await fromManagement(
      options.openvpnManagement,
      options.timeoutMs,
      query,
      warnings,
      errors,
    );
    if (management.ip !== null) return found(management.ip, 'openvpn2-management');
    tried.push(management.tried);
  }

  if (options.openvpnLog !== null) {
    const read = deps.readFileTail ?? readFileTail;
    const log = await fromClientLog(options.openvpnLog, read, errors);
    if (log.ip !== null) return found(log.ip, 'openvpn2-log');
    tried.push(log.tried);
  }

  warnings.push(`no gateway found: ${tried.join('; ')}; pass --gateway-ip`);
  return { ip: null, source: null, warnings, errors };
}

async function fromOpenvpn3(
  options: GatewayDiscoveryOptions,
  run: RunProcess,
  warnings: string[],
  errors: ErrorInfo[],
): Promise<SourceOutcome> {
  const binary = options.openvpn3Binary ?? 'openvpn3';
  const list = await run(binary, ['sessions-list'], { timeoutMs: options.timeoutMs });
  if (list.spawnError === 'ENOENT') return { ip: null, tried: `${binary} not installed` };
  const listFailure = processFailure(list, 'openvpn3 sessions-list', options.timeoutMs);
  if (listFailure !== null) {
    errors.push(listFailure.toInfo());
    return { ip: null, tried: `${binary} sessions-list failed (see errors)` };
  }

  const pick = pickCloudConnexaSession(parseSessionsList(list.stdout));
  const session = pick.session;
  // Without a session the reason only matters if no other source finds the gateway.
  if (session === null) return { ip: null, tried: `openvpn3: ${pick.warning}` };
  if (pick.warning !== null) warnings.push(pick.warning);

  if (session.connectedTo !== null) return { ip: session.connectedTo.ip, tried: 'openvpn3' };
  if (session.sessionName !== null && isIP(session.sessionName) !== 0) {
    return { ip: session.sessionName, tried: 'openvpn3' };
  }

  // Session paths are D-Bus object paths; anything else must not reach argv.
  if (!/^\/[A-Za-z0-9_/]+$/.test(session.path)) {
    errors.push({
      code: 'E_GATEWAY',
      message: `openvpn3 session path ${JSON.stringify(session.path)} is not a D-Bus object path; journal not read`,
    });
    return { ip: null, tried: 'openvpn3: session without a usable path' };
  }

  const admin = options.openvpn3AdminBinary ?? 'openvpn3-admin';
  const journal = await run(admin, ['journal', '--path', session.path], {
    timeoutMs: options.timeoutMs,
    maxOutputBytes: JOURNAL_MAX_BYTES,
  });
  const server = session.sessionName === null ? '' : ` (server ${session.sessionName})`;
  if (journal.spawnError === 'ENOENT') {
    return {
      ip: null,
      tried: `openvpn3 session ${session.path}${server} shows no server address and ${admin} is not installed`,
    };
  }
  const journalFailure = processFailure(journal, 'openvpn3-admin journal', options.timeoutMs);
  if (journalFailure !== null) {
    errors.push(journalFailure.toInfo());
    return {
      ip: null,
      tried: `openvpn3 session ${session.path}${server}: ${admin} journal failed (see errors)`,
    };
  }
  const ip = parseJournalGatewayIp(journal.stdout);
  if (ip !== null) return { ip, tried: 'openvpn3' };
  return {
    ip: null,
    tried:
      `openvpn3 session ${session.path}${server} shows no server address and its journal has no "(IP) via" line ` +
      '(is the openvpn3 log service writing to systemd-journald?)',
  };
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
    return new ProcessError('E_GATEWAY', `${what} did not finish within ${timeoutMs} ms`, evidence);
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

async function fromManagement(
  endpoint: string,
  timeoutMs: number,
  query: typeof queryManagementState,
  warnings: string[],
  errors: ErrorInfo[],
): Promise<SourceOutcome> {
  let answer: string;
  try {
    answer = await query(endpoint, timeoutMs);
  } catch (error) {
    errors.push(toErrorInfo(error));
    return { ip: null, tried: `--openvpn-management ${endpoint} failed (see errors)` };
  }
  const state = parseManagementState(answer);
  if (state === null) {
    errors.push(
      new MonitorError(
        'E_GATEWAY',
        `OpenVPN management interface ${endpoint} answered \`state\` without a state line: ${excerpt(answer, 300)}`,
      ).toInfo(),
    );
    return { ip: null, tried: `--openvpn-management ${endpoint} gave no state` };
  }
  if (state.remoteIp === null) {
    return {
      ip: null,
      tried: `--openvpn-management ${endpoint} shows no remote address (state ${state.state})`,
    };
  }
  if (state.state !== 'CONNECTED') {
    warnings.push(`OpenVPN management interface ${endpoint} reports state ${state.state}, not CONNECTED`);
  }
  return { ip: state.remoteIp, tried: 'openvpn2-management' };
}

async function fromClientLog(
  path: string,
  read: (path: string, maxBytes: number) => Promise<string>,
  errors: ErrorInfo[],
): Promise<SourceOutcome> {
  let text: string;
  try {
    text = await read(path, LOG_TAIL_BYTES);
  } catch (error) {
    const code = errnoOrMessage(error);
    errors.push(
      new MonitorError('E_GATEWAY', `cannot read --openvpn-log ${JSON.stringify(path)}: ${code}`).toInfo(),
    );
    return { ip: null, tried: `--openvpn-log ${path} unreadable (see errors)` };
  }
  const ip = parseClientLogGatewayIp(text);
  if (ip !== null) return { ip, tried: 'openvpn2-log' };
  return {
    ip: null,
    tried: `--openvpn-log ${path} has no "link remote:" or "Peer Connection Initiated" line in its last ${LOG_TAIL_BYTES / 1024} KiB`,
  };
}

/** mtr needs the IPv4 form of an IPv4-mapped address (dual-stack sockets print those). */
export function normalizeIp(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  return mapped !== null && isIP(mapped[1] ?? '') === 4 ? (mapped[1] ?? ip) : ip;
}

/** The last `maxBytes` of a file, without the first partial line when the file is longer. */
export async function readFileTail(path: string, maxBytes: number): Promise<string> {
  const handle = await fs.open(path, 'r');
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - maxBytes);
    const length = size - start;
    const buffer = Buffer.alloc(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, start + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    const text = buffer.subarray(0, filled).toString('utf8');
    if (start === 0) return text;
    const newline = text.indexOf('\n');
    return newline === -1 ? '' : text.slice(newline + 1);
  } finally {
    await handle.close();
  }
}
