/**
 * At most one dispatch per scheduled round.
 *
 * EventBridge delivers a scheduled event at least once, and a function may be
 * invoked again with the same event (an asynchronous retry; serverless.yml
 * sets none, a manual re-invoke may). A second dispatch of the same round
 * would send every host the check twice: two records per host, doubled fleet
 * metrics. So the round is claimed in the claim table (the one collect jobs
 * use, functions/collect/job-claims.ts) before anything is sent, recorded or
 * counted; an invocation that finds the claim does nothing and says why.
 *
 * The key is the event's scheduled time to the second (`dispatch/20260101T120000Z`):
 * every delivery of one scheduled event carries the same time, so both
 * invocations compute the same key whatever else differs. An event without a
 * time (a manual invoke with `{}`) is its own round, keyed by its round id.
 *
 * At most once, not exactly once: an invocation that claimed the round and
 * then failed is not repeated by a duplicate (which could not tell the hosts
 * the failed one reached from the others); the dispatch-failing alarm reports
 * the failure, and the next round runs as usual. The claim is taken after
 * discovery, which changes nothing, so a discovery that fails leaves the round
 * unclaimed for a retry.
 */
import { randomUUID } from 'node:crypto';
import type { ClaimStore } from '../collect/job-claims.ts';

export const ROUND_CLAIM_PREFIX = 'dispatch/';

/** `2026-01-01T12:00:00Z` (EventBridge's `time`) as `20260101T120000Z`; null when absent or not a time. */
export function compactScheduledTime(time: string | undefined): string | null {
  if (time === undefined || Number.isNaN(Date.parse(time))) return null;
  const compact = time.replace(/[-:]/g, '').replace(/\.\d+/, '');
  return /^\d{8}T\d{6}Z$/.test(compact) ? compact : null;
}

/** The claim key of the round an event starts. */
export function roundClaimKey(event: { time?: string }, roundId: string): string {
  return `${ROUND_CLAIM_PREFIX}${compactScheduledTime(event.time) ?? roundId}`;
}

export type RoundClaim =
  | { kind: 'owner'; owner: string }
  /** Another invocation claimed the round at `claimedAt`; `finished` when it completed. */
  | { kind: 'duplicate'; claimedAt: number; finished: boolean };

export async function claimRound(
  store: ClaimStore,
  key: string,
  now: number,
  owner: string = randomUUID(),
): Promise<RoundClaim> {
  const stored = await store.create(key, { owner, claimedAt: now });
  if (stored.owner === owner) return { kind: 'owner', owner };
  return { kind: 'duplicate', claimedAt: stored.claimedAt, finished: stored.committed };
}

/** Marks the round finished, so a late duplicate can say the round completed. */
export async function finishRound(store: ClaimStore, key: string, owner: string): Promise<void> {
  await store.commit(key, 1, owner, null);
}
