/**
 * The tunnel part of a round (agent/round/run-round.ts): the observation from
 * gateway discovery, the previous round's counters from the tunnel state file,
 * the `tunnel` object of the document, and, when the tunnel explains the
 * round's flags, the one cause (the round's first warning).
 */
import type { TunnelResult } from '../../common/result-schema.ts';
import { causeOfFlags, tunnelCause, tunnelExplains } from '../../common/tunnel-rule.ts';
import type { LogDir } from '../files/log-dir.ts';
import { readTunnelMemory, writeTunnelMemory } from './tunnel-memory.ts';
import { buildTunnel } from './tunnel-result.ts';
import type { TunnelObservation } from './tunnel-state.ts';

export function recordTunnel(
  dir: LogDir,
  seen: TunnelObservation,
  roundStart: Date,
  flagged: number,
): { tunnel: TunnelResult; cause: string | null; warnings: string[] } {
  const warnings: string[] = [];
  const previous = readTunnelMemory(dir);
  if (previous.warning !== null) warnings.push(previous.warning);
  const { tunnel, memory } = buildTunnel(seen, previous.memory, roundStart);
  tunnel.explains = tunnelExplains(tunnel.state, flagged);
  const cause = tunnel.explains ? `${tunnelCause(tunnel)}: ${causeOfFlags(flagged)}` : null;
  const written = writeTunnelMemory(dir, memory);
  if (written !== null) warnings.push(written);
  return { tunnel, cause, warnings };
}
