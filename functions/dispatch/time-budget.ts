/**
 * Dispatch stops sending commands while it still has time to record what it
 * did not send: a dispatch cut off by its Lambda timeout after some SendCommand
 * calls would leave the hosts of the chunks it never reached without a record.
 * Past the reserve, each remaining chunk fails fast with DispatchOutOfTimeError
 * and its hosts get a dispatch-failed record naming it.
 */
import { MonitorError } from '../../common/errors.ts';
import type { CommandTransport } from '../ports.ts';

/** Time kept back at the end of dispatch for writing (and handing over) the records. */
export const DISPATCH_RESERVE_MS = 30_000;

export class DispatchOutOfTimeError extends MonitorError {
  readonly remainingMs: number;
  constructor(remainingMs: number, reserveMs: number) {
    super(
      'E_PROCESS_TIMEOUT',
      `dispatch has ${Math.max(0, Math.round(remainingMs / 1000))} s left before its Lambda timeout (${Math.round(reserveMs / 1000)} s are kept to write the records): command not sent this round`,
    );
    this.remainingMs = remainingMs;
  }
}

/** The transport, refusing to send once fewer than `reserveMs` remain. */
export function sendWithinBudget(
  transport: CommandTransport,
  remainingMs: (() => number) | undefined,
  reserveMs = DISPATCH_RESERVE_MS,
): CommandTransport {
  if (remainingMs === undefined) return transport;
  return {
    ...transport,
    async send(request) {
      const left = remainingMs();
      if (left < reserveMs) throw new DispatchOutOfTimeError(left, reserveMs);
      return transport.send(request);
    },
  };
}
