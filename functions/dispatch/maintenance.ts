/**
 * Maintenance windows: the one place that decides whether a host is in
 * maintenance this round. Dispatch decides (from the host's
 * `<tagKey>:MaintenanceUntil` tag and the stage's `maintenanceUntil` param)
 * and carries the decision to the collector in the collect job
 * (functions/collect/job.ts `maintenance`), so the collector never reads tags.
 *
 * A host in maintenance is measured and recorded as usual; its records carry
 * `maintenance: { state: 'in', until, source }`, and its flags stay out of
 * the metrics the alarms watch (functions/metrics/emit-metrics.ts).
 *
 * Times are ISO-8601 with seconds and an explicit time zone
 * (`2026-12-01T18:00:00Z`, `2026-12-01T19:00:00+01:00`): a time without a
 * zone is ambiguous between the operator's zone and UTC, so it is refused.
 * The format check is valibot's `isoTimestamp`; the calendar check (no
 * 30 February) is ours, as `Date` rolls such a day over into March.
 */

import * as v from 'valibot';
import { isCalendarDate } from '../../common/calendar-date.ts';
import { InvalidInputError } from '../../common/errors.ts';

/** Tag suffix: `CloudConnexaMonitor:MaintenanceUntil`. */
export const MAINTENANCE_TAG = 'MaintenanceUntil';

/**
 * The furthest ahead a window may end. A window is meant to cover a piece of
 * work, not to switch a host's alarms off; a typo in the year (2062 for 2026)
 * would otherwise silence a host for decades.
 */
export const MAINTENANCE_MAX_AHEAD_DAYS = 30;
export const MAINTENANCE_MAX_AHEAD_MS = MAINTENANCE_MAX_AHEAD_DAYS * 86_400_000;

/** The stage param as errors name it. */
export const STAGE_MAINTENANCE_FIELD = 'maintenanceUntil (stage param)';

export type MaintenanceSource = 'tag' | 'stage';

/**
 * What a host's records say about maintenance (the `maintenance` key of its
 * result, failure and dispatch records, and the collect job's map):
 * `in`: until `until` its flags do not reach the alarms; `ended`: its tag
 * names a time that has passed (a warning: the host is alarmed as usual,
 * remove the tag).
 */
export interface MaintenanceNote {
  state: 'in' | 'ended';
  /** ISO-8601, UTC, as `Date#toISOString` writes it. */
  until: string;
  source: MaintenanceSource;
}

const TIMESTAMP = v.pipe(v.string(), v.isoTimestamp());

const ALLOWED = `an ISO-8601 time with seconds and a time zone, e.g. 2026-12-01T18:00:00Z or 2026-12-01T19:00:00+01:00, at most ${MAINTENANCE_MAX_AHEAD_DAYS} days ahead`;

/**
 * Reads a window's end. Throws InvalidInputError naming `field` when it is
 * not an ISO-8601 time with a zone, not a calendar date, or more than
 * MAINTENANCE_MAX_AHEAD_DAYS after `now` (null: the format alone, for a
 * value read before the round's clock is known). A time in the past is
 * returned: whether that is a warning is the caller's decision.
 */
export function parseMaintenanceUntil(value: string, field: string, now: number | null): number {
  // As written, as every tag and stage param: " 2026-12-01T18:00:00Z" is refused, not trimmed.
  const until = v.is(TIMESTAMP, value) ? Date.parse(value.replace(' ', 'T')) : Number.NaN;
  if (!Number.isFinite(until) || !isCalendarDate(value)) throw new InvalidInputError(field, value, ALLOWED);
  if (now !== null && until - now > MAINTENANCE_MAX_AHEAD_MS) {
    throw new InvalidInputError(
      field,
      value,
      `${ALLOWED} (it is ${Math.ceil((until - now) / 86_400_000)} days ahead)`,
    );
  }
  return until;
}

/**
 * The stage's window, read once per round. Empty: none. A value past the
 * limit (possible only when the Lambda's clock and the packager's disagree,
 * as packaging checks it) is not applied: the alarms stay on, and the
 * returned error says why, for dispatch's log.
 */
export function stageWindow(
  value: string | null | undefined,
  now: number,
): { until: number | null; error: InvalidInputError | null } {
  if (value === null || value === undefined || value === '') return { until: null, error: null };
  try {
    return { until: parseMaintenanceUntil(value, STAGE_MAINTENANCE_FIELD, now), error: null };
  } catch (error) {
    if (error instanceof InvalidInputError) return { until: null, error };
    throw error;
  }
}

/**
 * One host's maintenance this round, from its tags and the stage's window
 * (`stageUntil`, epoch ms, from stageWindow). Null: not in maintenance and
 * nothing to note. Throws InvalidInputError naming the tag when the tag's
 * value is invalid (the host is then misconfigured, like any invalid tag).
 *
 * When both windows are open the later end counts. A tag whose time has
 * passed is noted `ended` (the host is alarmed as usual) unless the stage's
 * window still covers the host.
 */
export function decideMaintenance(
  tags: Readonly<Record<string, string>>,
  tagKey: string,
  stageUntil: number | null,
  now: number,
): MaintenanceNote | null {
  const field = `${tagKey}:${MAINTENANCE_TAG}`;
  const value = tags[field];
  const tagUntil = value === undefined ? null : parseMaintenanceUntil(value, field, now);
  const open: { until: number; source: MaintenanceSource }[] = [];
  if (tagUntil !== null && tagUntil > now) open.push({ until: tagUntil, source: 'tag' });
  if (stageUntil !== null && stageUntil > now) open.push({ until: stageUntil, source: 'stage' });
  const latest = open.sort((a, b) => b.until - a.until)[0];
  if (latest !== undefined)
    return { state: 'in', until: new Date(latest.until).toISOString(), source: latest.source };
  if (tagUntil !== null) return { state: 'ended', until: new Date(tagUntil).toISOString(), source: 'tag' };
  return null;
}

/** True while the note puts the host in maintenance. */
export function inMaintenance(note: MaintenanceNote | null | undefined): boolean {
  return note?.state === 'in';
}

const NOTE = v.strictObject({
  state: v.picklist(['in', 'ended']),
  until: v.pipe(v.string(), v.isoTimestamp()),
  source: v.picklist(['tag', 'stage']),
});

/** A note read back from a collect job (SQS: checked like any input). */
export function isMaintenanceNote(value: unknown): value is MaintenanceNote {
  return v.is(NOTE, value);
}
