/**
 * Exactly one owner per collect job, whatever SQS delivers.
 *
 * SQS may store one SendMessage twice (the SDK retries after a lost response)
 * and delivers every message at least once; both copies can arrive with
 * ApproximateReceiveCount 1, at the same time, in two collector invocations.
 * Reading a host's stream before writing cannot stop two copies racing, so a
 * job is owned through one claim per job key in a store with conditional
 * writes (compare-and-set): in Lambda a DynamoDB table
 * (functions/aws/dynamodb-claims.ts), locally and in tests a Map.
 *
 *   created            the first copy to create the claim (generation 1) owns the job and
 *                      writes its hosts without looking them up first (the everyday path:
 *                      2 writes per job, create and commit)
 *   committed          the owner of generation g finished: every host written or in the
 *                      follow-up job, which the claim records (its hosts, the hosts to
 *                      verify, the failure count)
 *   taken over         a later copy takes over a claim that was never committed and is
 *                      older than CLAIM_STALE_MS (its owner died: the collector's timeout
 *                      is 60 s) as generation g+1. A taker-over may find hosts already
 *                      written, so it looks each host up before writing it.
 *
 * Any other copy either finds the claim committed (nothing to do but make sure
 * the follow-up it names exists: the owner commits before it enqueues, so a
 * crash in between is repaired by re-sending it, only if no copy of the
 * follow-up was ever claimed) or finds a live claim (its owner may still be
 * running: the copy is handed back to SQS and looks again after the
 * visibility timeout).
 *
 * Every write carries a random owner token, so a write whose answer was lost
 * and that the SDK retried (the retry then fails its condition) is recognised
 * as this copy's own by the token the store answers with.
 *
 * Why not `@aws-lambda-powertools/idempotency`: it re-runs a handler whose
 * in-progress record expired as if nothing had happened, with no way to tell
 * the run that an earlier owner may have written some hosts (here: look each
 * up first); its completed record is saved after the handler returns, so the
 * follow-up would be sent before the record that names it exists; and it
 * cannot ask whether the follow-up's own key was ever claimed.
 */
import { randomUUID } from 'node:crypto';
import { MonitorError } from '../../common/errors.ts';

/**
 * What a claim is about: a key every copy of the job shares and the ordered
 * instance ids its follow-up plan may name.
 */
export interface ClaimSubject {
  key: string;
  instanceIds: readonly string[];
}

/** What a commit records about the follow-up job it enqueues. */
export interface FollowUpPlan {
  instanceIds: string[];
  verify: string[];
  failures: number;
}

/** A claim as the store keeps it. */
export interface ClaimRecord {
  /** 1 for the first owner, +1 per take-over. */
  generation: number;
  /** The token of the copy that holds this generation. */
  owner: string;
  /** When this generation was claimed (epoch ms, the claiming copy's clock). */
  claimedAt: number;
  /** Whether the owner of this generation finished. */
  committed: boolean;
  /** Set when committed: what the owner left for its follow-up job, null for nothing. */
  followUp: FollowUpPlan | null;
}

/** A new claim or generation: who takes it and when. */
export interface ClaimStamp {
  owner: string;
  claimedAt: number;
}

/**
 * Where claims live: one record per key, changed only by conditional writes.
 * Every write answers with the record stored after it: this caller's when its
 * write applied, else the one that stopped it (null when there is none).
 */
export interface ClaimStore {
  /** Creates generation 1 unless the key has a claim. */
  create(key: string, stamp: ClaimStamp): Promise<ClaimRecord>;
  /** Replaces an uncommitted claim of generation `from` by generation `from + 1`. */
  takeOver(key: string, from: number, stamp: ClaimStamp): Promise<ClaimRecord | null>;
  /** Commits the claim `owner` holds as `generation`, recording the follow-up. */
  commit(
    key: string,
    generation: number,
    owner: string,
    followUp: FollowUpPlan | null,
  ): Promise<ClaimRecord | null>;
  /** The claim of the key, or null. */
  get(key: string): Promise<ClaimRecord | null>;
}

/**
 * A claim with no commit older than this belongs to an invocation that died:
 * the collector's timeout (60 s, serverless.yml) plus a minute for clock
 * differences between Lambda hosts.
 */
export const CLAIM_STALE_MS = 120_000;

/**
 * How long the store keeps a claim (DynamoDB TTL). Longer than any copy of a
 * job can still arrive: the queue keeps a message 4 days and the dead-letter
 * queue 14, so even a job redriven from the dead-letter queue finds its claim.
 */
export const CLAIM_TTL_SECONDS = 15 * 24 * 3600;

/** Collect job keys in the claim store. */
export const JOB_CLAIM_PREFIX = 'collect/';

export type Acquired =
  /** This copy owns the job; `careful`: an earlier owner may have written some hosts. */
  | { kind: 'owner'; generation: number; owner: string; careful: boolean }
  /** The job was finished by another copy; `followUp` is what it left to do, if anything. */
  | { kind: 'committed'; followUp: FollowUpPlan | null }
  /** Another copy holds a live claim: hand this one back to SQS. */
  | { kind: 'busy'; heldSinceMs: number };

/** A claim record that names hosts outside its job: the store was written by something else. */
export class ClaimRecordError extends MonitorError {
  constructor(message: string) {
    super('E_INTERNAL', message);
  }
}

/** The follow-up of a commit, checked against the job it belongs to. */
function followUpOf(job: ClaimSubject, record: ClaimRecord): FollowUpPlan | null {
  const plan = record.followUp;
  if (plan === null) return null;
  const known = new Set(job.instanceIds);
  const stray = [...plan.instanceIds, ...plan.verify].filter((id) => !known.has(id));
  if (stray.length > 0 || !Number.isInteger(plan.failures) || plan.failures < 0)
    throw new ClaimRecordError(
      `claim ${job.key}: the committed follow-up names hosts outside the job (${stray.slice(0, 3).join(', ')}) or a bad failure count ${plan.failures}`,
    );
  // In job order, as the owner planned it.
  const keep = (ids: string[]) => job.instanceIds.filter((id) => ids.includes(id));
  return { instanceIds: keep(plan.instanceIds), verify: keep(plan.verify), failures: plan.failures };
}

/** Claims the job for this copy, or says who has it. */
export async function acquireJob(
  store: ClaimStore,
  job: ClaimSubject,
  now: number,
  owner: string = randomUUID(),
): Promise<Acquired> {
  const key = `${JOB_CLAIM_PREFIX}${job.key}`;
  const stored = await store.create(key, { owner, claimedAt: now });
  if (stored.owner === owner) return { kind: 'owner', generation: stored.generation, owner, careful: false };
  if (stored.committed) return { kind: 'committed', followUp: followUpOf(job, stored) };
  if (now - stored.claimedAt < CLAIM_STALE_MS) return { kind: 'busy', heldSinceMs: stored.claimedAt };
  const taken = await store.takeOver(key, stored.generation, { owner, claimedAt: now });
  if (taken?.owner === owner) return { kind: 'owner', generation: taken.generation, owner, careful: true };
  if (taken?.committed === true) return { kind: 'committed', followUp: followUpOf(job, taken) };
  // Another copy took it over a moment ago.
  return { kind: 'busy', heldSinceMs: taken?.claimedAt ?? now };
}

/** The owner lost its claim before it committed: a later copy took it over. */
export class ClaimLostError extends MonitorError {
  constructor(message: string) {
    super('E_INTERNAL', message);
  }
}

/**
 * Records that the owner finished and what its follow-up holds; call before
 * enqueueing the follow-up. Rejects with ClaimLostError when another copy took
 * the claim over meanwhile (this owner outlived CLAIM_STALE_MS): that copy
 * then writes and counts the hosts, looking each up first.
 */
export async function commitJob(
  store: ClaimStore,
  job: ClaimSubject,
  acquired: { generation: number; owner: string },
  followUp: FollowUpPlan | null,
): Promise<void> {
  const stored = await store.commit(
    `${JOB_CLAIM_PREFIX}${job.key}`,
    acquired.generation,
    acquired.owner,
    followUp,
  );
  // An SDK retry of this very commit finds it committed under this owner: done.
  if (stored?.owner === acquired.owner && stored.committed) return;
  throw new ClaimLostError(
    `claim ${job.key}: generation ${acquired.generation} was taken over (now generation ${stored?.generation ?? 'none'}) before it committed`,
  );
}

/** Whether any copy of the job with this key has been claimed: for the follow-up a commit names. */
export async function wasClaimed(store: ClaimStore, key: string): Promise<boolean> {
  return (await store.get(`${JOB_CLAIM_PREFIX}${key}`)) !== null;
}

/**
 * Claims in memory, for a local run and tests (one process: each write is
 * atomic). The same conditions as the DynamoDB store.
 */
export function createMemoryClaimStore(): ClaimStore & { readonly records: Map<string, ClaimRecord> } {
  const records = new Map<string, ClaimRecord>();
  const copy = (r: ClaimRecord | undefined) => (r === undefined ? null : structuredClone(r));
  return {
    records,
    async create(key, stamp) {
      const existing = records.get(key);
      if (existing !== undefined) return structuredClone(existing);
      const record: ClaimRecord = { generation: 1, ...stamp, committed: false, followUp: null };
      records.set(key, record);
      return structuredClone(record);
    },
    async takeOver(key, from, stamp) {
      const existing = records.get(key);
      if (existing === undefined || existing.generation !== from || existing.committed) return copy(existing);
      const record: ClaimRecord = { generation: from + 1, ...stamp, committed: false, followUp: null };
      records.set(key, record);
      return structuredClone(record);
    },
    async commit(key, generation, owner, followUp) {
      const existing = records.get(key);
      if (
        existing === undefined ||
        existing.generation !== generation ||
        existing.owner !== owner ||
        existing.committed
      )
        return copy(existing);
      existing.committed = true;
      existing.followUp = followUp === null ? null : structuredClone(followUp);
      return structuredClone(existing);
    },
    async get(key) {
      return copy(records.get(key));
    },
  };
}
