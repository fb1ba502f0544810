/**
 * When the tunnel explains a round's flags, and how that one cause is worded:
 * the same rule for the agent (the warning, the table's header line) and the
 * collector (the `cause` of the result record, the TunnelsDown metric).
 *
 * No imports beyond the contract: shared by the agent and the Lambda functions.
 */
import type { TUNNEL_SOURCES, TUNNEL_STATES } from './result-contract.ts';

type State = (typeof TUNNEL_STATES)[number];

/** A tunnel that carries no traffic: down, or a client still trying to (re)connect. */
export function tunnelIsDown(state: State): boolean {
  return state === 'down' || state === 'reconnecting';
}

/** The tunnel is the likely cause of a round's flags when it is down and something is flagged. */
export function tunnelExplains(state: State, flagged: number): boolean {
  return tunnelIsDown(state) && flagged > 0;
}

/**
 * `tunnel down since 2026-03-04T05:06:07.000Z (openvpn2-log: SIGTERM[hard,]
 * received, process exiting)`: the one cause, named once.
 */
export function tunnelCause(tunnel: {
  state: State;
  source: (typeof TUNNEL_SOURCES)[number] | null;
  detail: string;
  since: string | null;
}): string {
  const since = tunnel.since === null ? '' : ` since ${tunnel.since}`;
  const said = [tunnel.source, tunnel.detail].filter((part) => part !== null && part !== '').join(': ');
  const from = said === '' ? '' : ` (${said})`;
  return `tunnel ${tunnel.state}${since}${from}`;
}

/** What the one cause means for the round's flags (after tunnelCause, in the warning and the table). */
export function causeOfFlags(flagged: number): string {
  return `the likely cause of the ${flagged} flagged resource(s), which stay flagged`;
}
