/**
 * CloudWatch Logs filter patterns that find the records a notification shows
 * (syntax: CloudWatch Logs User Guide, "Filter pattern syntax for metric
 * filters, subscription filters, and filter log events": JSON property
 * selectors `$.a.b`, `=` / `>` comparisons, `&&`, `||`, parentheses; a quoted
 * term matches events containing it). Records are the collector's and
 * dispatch's JSON lines (functions/logs/records.ts); the seed line and the MTR
 * text lines have no `record` property and never match.
 */
import type { RecordKind } from './host-records.ts';

const isRecord = (kind: RecordKind) => `($.record = "${kind}")`;

/** Round ids go into a pattern only when they are made of these characters (no quote, no operator). */
const SAFE_ROUND_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export const PATTERNS = {
  /** A result record with at least one flagged resource (unmeasured included). */
  flagged: `{ ${isRecord('result')} && ($.summary.flagged > 0) }`,
  /** Every result record: a round's measurements, whatever they are (latency anomalies are below the thresholds). */
  result: `{ ${isRecord('result')} }`,
  /** Any record of a host: what its latest round says. */
  anyRecord: `{ ${isRecord('result')} || ${isRecord('failure')} || ${isRecord('blind')} || ${isRecord('misconfigured')} || ${isRecord('dispatch-failed')} }`,
  /** Hosts the blind alarm counts: failed (on the host, or at dispatch) or unreachable. */
  notChecked: `{ ${isRecord('failure')} || ${isRecord('blind')} || ${isRecord('dispatch-failed')} }`,
  /** A result whose tunnel (issue 10's optional `tunnel`) is not up. */
  tunnelNotUp: `{ ${isRecord('result')} && (($.tunnel.state = "down") || ($.tunnel.state = "reconnecting")) }`,
  /**
   * A result with a path change: only a non-null `pathChange` (issue 10) has
   * the key `firstDifferentHop`. A term, because JSON selectors cannot look
   * into every element of `resources`.
   */
  pathChanged: '"firstDifferentHop"',
  /** The dispatch function's failures: console.error lines, unhandled errors, timeouts. */
  dispatchErrors: '?ERROR ?"Task timed out"',
} as const;

/**
 * A JSON pattern (`{ ... }`) narrowed to one round; term patterns are returned
 * as they are (terms and selectors do not combine). Null when the round id
 * could not be put into a pattern safely.
 */
export function inRound(pattern: string, roundId: string): string | null {
  if (!SAFE_ROUND_ID.test(roundId)) return null;
  if (!pattern.startsWith('{')) return pattern;
  return `{ ($.roundId = "${roundId}") && (${pattern.slice(1, -1).trim()}) }`;
}
