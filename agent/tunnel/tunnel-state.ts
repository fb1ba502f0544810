/**
 * The tunnel's state as each source tells it, from what gateway discovery
 * already read (agent/gateway/discover-gateway.ts): pure functions, one per
 * source. Which source wins is discovery's order: the OpenVPN 2 management
 * interface, its log, the OpenVPN 3 session, a log whose process exited, the
 * tun devices (/sys/class/net), then the weak signals (a management interface
 * that refuses connections, openvpn3 listing no session).
 */
import type { TunnelSource, TunnelState } from '../../common/result-schema.ts';
import type { ManagementStateHistory, Openvpn2Connection } from '../gateway/parse-openvpn2.ts';
import type { Openvpn3Session } from '../gateway/parse-openvpn3.ts';
import type { TunnelCounters } from './parse-counters.ts';
import type { TunDevice } from './read-tun-devices.ts';

/** What one source says, before the previous round's counters are subtracted (tunnel-result.ts). */
export interface TunnelObservation {
  state: TunnelState;
  source: TunnelSource | null;
  /** The source's own text (escaped and clipped when it goes into the document). */
  detail: string;
  /** Milliseconds since the epoch when the state began, as the source says; null when it does not say. */
  sinceMs: number | null;
  /** Names the counters (a session, an endpoint): counters under another key are not comparable. */
  counterKey: string | null;
  counters: TunnelCounters | null;
  /**
   * OpenVPN 2 management only, Unix seconds from `state all`: the newest
   * line, the (re)starts (RECONNECTING, and CONNECTING, a process's first
   * state; each clears the `status` counters) and the RECONNECTING lines.
   */
  history: { newest: number; restarts: number[]; reconnects: number[] } | null;
  /** A weak signal: used only when no tun device tells more. */
  fallback?: boolean;
}

function observation(
  state: TunnelState,
  source: TunnelSource | null,
  detail: string,
  more: Partial<TunnelObservation> = {},
): TunnelObservation {
  return { state, source, detail, sinceMs: null, counterKey: null, counters: null, history: null, ...more };
}

const secondsToMs = (seconds: number): number | null =>
  Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : null;

/**
 * `state all` of an OpenVPN 2 client: CONNECTED is up, EXITING down, any
 * other state (CONNECTING, RECONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP,
 * ADD_ROUTES, RESOLVE, TCP_CONNECT, AUTH_PENDING) a client working on it.
 * A state that is not up began at the first line after the last CONNECTED.
 */
export function fromManagement(
  history: ManagementStateHistory,
  status: TunnelCounters | null,
  endpoint: string,
): TunnelObservation {
  const { current, states } = history;
  const state: TunnelState =
    current.state === 'CONNECTED' ? 'up' : current.state === 'EXITING' ? 'down' : 'reconnecting';
  let start = current;
  if (state !== 'up') {
    for (let i = states.length - 1; i >= 0 && states[i]?.state !== 'CONNECTED'; i--) {
      start = states[i] ?? start;
    }
  }
  const line = (s: typeof current) => `${s.state} ${s.description}`.trim();
  const at = (names: string[]) => states.filter((s) => names.includes(s.state)).map((s) => s.timestamp);
  return observation(
    state,
    'openvpn2-management',
    start === current ? line(current) : `${line(current)}, after ${line(start)}`,
    {
      sinceMs: secondsToMs(start.timestamp),
      counterKey: `openvpn2-management ${endpoint}`,
      counters: status,
      history: {
        newest: current.timestamp,
        restarts: at(['RECONNECTING', 'CONNECTING']),
        reconnects: at(['RECONNECTING']),
      },
    },
  );
}

/** A management interface that refuses connections: no OpenVPN process listens there. */
export function fromManagementRefused(endpoint: string, why: string): TunnelObservation {
  return observation('down', 'openvpn2-management', `${endpoint} ${why}: no OpenVPN client is listening`, {
    fallback: true,
  });
}

/** The newest connection of an OpenVPN 2 client log; null when the log names none. */
export function fromClientLog(connection: Openvpn2Connection | null): TunnelObservation | null {
  if (connection === null) return null;
  switch (connection.status) {
    case 'connected':
      return observation('up', 'openvpn2-log', `connected to ${connection.remoteIp}`);
    case 'connecting':
      return observation('reconnecting', 'openvpn2-log', `connecting to ${connection.remoteIp}`);
    case 'reconnecting':
      return observation('reconnecting', 'openvpn2-log', connection.endedBy ?? 'restarting');
    case 'exited':
      return observation('down', 'openvpn2-log', connection.endedBy ?? 'exited');
  }
}

/**
 * An OpenVPN 3 session by its status (openvpn3-linux src/dbus/constants.hpp
 * StatusMinor_str): `Client connected` is up; disconnecting, disconnected,
 * failed, authentication (failed or waiting for a user), pausing, paused and
 * exited are down; connecting, reconnect, resuming and initialized are a
 * client working on it.
 */
export function fromOpenvpn3Session(
  session: Openvpn3Session,
  stats: TunnelCounters | null,
  statsFailure: string | null = null,
): TunnelObservation {
  const status = session.status ?? '';
  const state: TunnelState = /client connected/i.test(status)
    ? 'up'
    : /disconnect|fail|authentication|paus|exited/i.test(status)
      ? 'down'
      : /connecting|reconnect|resuming|initialized/i.test(status)
        ? 'reconnecting'
        : 'unknown';
  const note = statsFailure === null ? '' : ` (no counters: ${statsFailure})`;
  return observation(state, state === 'unknown' ? null : 'openvpn3', `${status || 'no status'}${note}`, {
    counterKey: `openvpn3 ${session.path}`,
    counters: stats,
  });
}

/** openvpn3 answered and lists no session: a CloudConnexa connector on OpenVPN 3 is down. */
export function fromOpenvpn3NoSession(): TunnelObservation {
  return observation('down', 'openvpn3', 'openvpn3 lists no sessions', { fallback: true });
}

/**
 * The tun/tap devices (when no OpenVPN source told): a device that is up
 * (operstate `up`, or `unknown`, which tun devices report while a client holds
 * them open) is up; an administratively down one, or one without carrier
 * (`down`, `lowerlayerdown`), is down. Several devices that disagree say
 * nothing. Null when there is no such device.
 */
export function fromTunDevices(devices: readonly TunDevice[]): TunnelObservation | null {
  if (devices.length === 0) return null;
  const states = devices.map((d): TunnelState => {
    if (!d.adminUp) return 'down';
    if (d.operstate === 'up' || d.operstate === 'unknown') return 'up';
    if (d.operstate === 'dormant') return 'reconnecting';
    return d.operstate === 'down' || d.operstate === 'lowerlayerdown' ? 'down' : 'unknown';
  });
  const first = states[0] ?? 'unknown';
  const state = states.every((s) => s === first) ? first : 'unknown';
  const detail = devices
    .slice(0, 8)
    .map((d) => `${d.name} ${d.adminUp ? '' : 'admin down, '}operstate ${d.operstate}`)
    .join(', ');
  return observation(state, state === 'unknown' ? null : 'tun-device', detail);
}

/** No source could tell: `tried` says what was looked at. */
export function unknownTunnel(tried: string): TunnelObservation {
  return observation('unknown', null, `no OpenVPN client answered and no tun device: ${tried}`);
}
