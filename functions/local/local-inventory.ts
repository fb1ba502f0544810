/**
 * This machine as the enrolled fleet: one instance (more on request, all run
 * on this machine), tagged like an enrolled EC2 instance, plus optional
 * simulated blind instances so the blind-spot path can be seen locally.
 */
import { createHash } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { InvalidInputError } from '../../common/errors.ts';
import type { BlindInstance, Discovery, EnrolledInstance } from '../enrollment/discover-instances.ts';
import type { Inventory } from '../ports.ts';

export interface LocalInventoryOptions {
  tagKey: string;
  tagValue: string;
  /** Online instances, all this machine (default 1). */
  instances?: number;
  /** Enrolled instances SSM "cannot reach" (default 0). */
  blind?: number;
  /** Extra tags on every online instance, e.g. `CloudConnexaMonitor:LatencyThresholdMs`. */
  tags?: Record<string, string>;
  hostname?: string;
}

export interface LocalInventory extends Inventory {
  online: EnrolledInstance[];
  blind: BlindInstance[];
}

export const MAX_LOCAL_INSTANCES = 50;
export const MAX_LOCAL_BLIND = 10;

/**
 * A stable id per machine and index, shaped like an EC2 id (`i-` + 17 hex
 * digits) so it passes the collector's job validation like a real one.
 */
export function localInstanceId(
  hostname: string,
  index: number,
  kind: 'online' | 'blind' = 'online',
): string {
  const digest = createHash('sha256').update(`${kind}/${hostname}/${index}`).digest('hex');
  return `i-${digest.slice(0, 17)}`;
}

function count(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(field, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

export function createLocalInventory(options: LocalInventoryOptions): LocalInventory {
  const host = options.hostname ?? osHostname();
  const instances = count('--instances', options.instances ?? 1, 1, MAX_LOCAL_INSTANCES);
  const blindCount = count('--blind', options.blind ?? 0, 0, MAX_LOCAL_BLIND);
  const tags = { ...options.tags, [options.tagKey]: options.tagValue };
  const online = Array.from({ length: instances }, (_, i) => ({
    instanceId: localInstanceId(host, i),
    tags: { ...tags },
  }));
  const blind = Array.from({ length: blindCount }, (_, i) => ({
    instanceId: localInstanceId(host, i, 'blind'),
    tags: { [options.tagKey]: options.tagValue },
    pingStatus: 'ConnectionLost',
    lastPingAt: null,
  }));
  return {
    online,
    blind,
    async discover(): Promise<Discovery> {
      return { online: online.map((i) => ({ ...i })), blind: blind.map((i) => ({ ...i })) };
    },
  };
}
