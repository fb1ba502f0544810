/**
 * The old tool's JSON line as text, written by the agent into
 * LATENCY-LOSS-CONNEXA-REPORT.json and by the collector into the host's log
 * stream. CloudWatch metric filters written for the old script match on it
 * (`{ ($.LATENCY_FLAG = "1") || ($.LOSS_FLAG = "1") }`), so both writers use
 * this one function: keys in SEED_KEYS order, nothing else, one line, no
 * control character raw (common/printable.ts; the JSON value is unchanged).
 *
 * No Node imports: shared with the Lambda functions.
 *
 * In the central log group the collector adds one key to the line of a host
 * in a maintenance window (common/stream-seed-line.ts); the agent's own file
 * never has it (the agent does not know).
 */
import { stringifyPrintable } from './printable.ts';
import { SEED_KEYS } from './result-contract.ts';
import type { SeedRecord } from './result-schema.ts';

/** One line of JSON, keys in SEED_KEYS order (keys outside it dropped), no trailing newline. */
export function serializeSeedRecord(record: SeedRecord): string {
  const ordered: Record<string, unknown> = {};
  for (const key of SEED_KEYS) ordered[key] = record[key];
  return stringifyPrintable(ordered);
}
