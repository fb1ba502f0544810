/**
 * The seed line as the collector writes it into a host's stream in the
 * central log group: the old line (common/seed-line.ts), with one key added
 * last while the host is in a maintenance window, SEED_MAINTENANCE_KEY (the
 * window's end), so the stack's legacy metric filter (common/metric-names.ts)
 * leaves the line out. A module of its own, outside the agent's bundle.
 *
 * No Node imports: shared with the stack's package-time code.
 */
import { stringifyPrintable } from './printable.ts';
import type { SeedRecord } from './result-schema.ts';
import { serializeSeedRecord } from './seed-line.ts';

/**
 * The key the collector adds to a host's seed line in the log group while
 * the host is in a maintenance window: `"MAINTENANCE_UNTIL":"<ISO-8601>"`.
 * Uppercase like the old keys; absent from every line the old script, an old
 * CloudWatch agent or this agent writes.
 */
export const SEED_MAINTENANCE_KEY = 'MAINTENANCE_UNTIL';

/**
 * The seed line as the collector writes it into a host's stream: the old
 * line, with SEED_MAINTENANCE_KEY last when `maintenanceUntil` (the window's
 * end, ISO-8601) is given.
 */
export function serializeStreamSeedLine(record: SeedRecord, maintenanceUntil: string | null): string {
  const line = serializeSeedRecord(record);
  if (maintenanceUntil === null) return line;
  // The old keys in their order (parsed back from the one serializer), then the window's end.
  return stringifyPrintable({ ...(JSON.parse(line) as object), [SEED_MAINTENANCE_KEY]: maintenanceUntil });
}
