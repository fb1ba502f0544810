/**
 * Exactly one owner per collect job, whatever SQS delivers.
 *
 * SQS may store one SendMessage twice (the SDK retries after a lost response)
 * and delivers every message at least once; both copies can arrive with
 * ApproximateReceiveCount 1, at the same time, in two collector invocations.
 * Reading a host's stream before writing cannot stop two copies racing, so a
 * job is owned through a conditional create ("create if absent", a
 * compare-and-set) of a marker named after the job's key:
 *
 *   claim-1            the first copy to create it owns the job and writes its hosts
 *                      without looking them up first (the everyday path: 2 calls per job)
 *   commit-<g>-<...>   the owner of generation g finished: every host written or in the
 *                      follow-up, which the name encodes (a host mask over the job's
 *                      instance ids, the hosts to verify, the failure count)
 *   claim-<g+1>        a later copy takes over a claim that was never committed and is
 *                      older than CLAIM_STALE_MS (its owner died: the collector's timeout
 *                      is 60 s). A taker-over may find hosts already written, so it
 *                      looks each host up before writing it.
 *
 * Any other copy either finds a commit (nothing to do but make sure the
 * follow-up the commit names exists: the owner commits before it enqueues,
 * so a crash in between is repaired by re-sending it; a duplicate follow-up
 * is just another copy of the next job) or a fresh claim (its owner may still
 * be running: the copy is handed back to SQS and looks again after the
 * visibility timeout).
 *
 * Markers are empty CloudWatch Logs streams in the collector's own log group
 * (functions/logs/log-stream-claims.ts): CreateLogStream fails with
 * ResourceAlreadyExistsException when the name exists, costs nothing, and
 * needs no extra resource in the stack.
 */

/**
 * What a claim is about: a key every copy of the job shares and the ordered
 * instance ids the commit's host masks refer to.
 */
export interface ClaimSubject {
  key: string;
  instanceIds: readonly string[];
}

/** Where markers live: a set of names, each created at most once. */
export interface ClaimStore {
  /** Creates the marker; true when this call created it, false when it existed already. */
  create(name: string): Promise<boolean>;
  /** Markers whose names start with `prefix`, with their creation times (epoch ms). */
  list(prefix: string): Promise<{ name: string; createdAt: number }[]>;
}

/**
 * A claim with no commit older than this belongs to an invocation that died:
 * the collector's timeout (60 s, serverless.yml) plus a minute for clock
 * differences between Lambda and CloudWatch.
 */
export const CLAIM_STALE_MS = 120_000;

export const CLAIM_PREFIX = 'collect-claims/';

export type Acquired =
  /** This copy owns the job; `careful`: an earlier owner may have written some hosts. */
  | { kind: 'owner'; generation: number; careful: boolean }
  /** The job was finished by another copy; `followUp` is what it left to do, if anything. */
  | { kind: 'committed'; followUp: FollowUpPlan | null }
  /** Another copy holds a live claim: hand this one back to SQS. */
  | { kind: 'busy'; heldSinceMs: number };

/** What a commit records about the follow-up job it enqueues. */
export interface FollowUpPlan {
  instanceIds: string[];
  verify: string[];
  failures: number;
}

function prefixOf(key: string): string {
  return `${CLAIM_PREFIX}${key}/`;
}

/** Bit i set when job.instanceIds[i] is in `subset`; hex, '0' for none. */
export function encodeMask(all: readonly string[], subset: readonly string[]): string {
  const wanted = new Set(subset);
  let mask = 0n;
  all.forEach((id, i) => {
    if (wanted.has(id)) mask |= 1n << BigInt(i);
  });
  return mask.toString(16);
}

export function decodeMask(all: readonly string[], hex: string): string[] {
  if (!/^[0-9a-f]{1,20}$/.test(hex)) throw new Error(`claim mask ${JSON.stringify(hex)} is not hexadecimal`);
  const mask = BigInt(`0x${hex}`);
  return all.filter((_, i) => ((mask >> BigInt(i)) & 1n) === 1n);
}

const CLAIM_NAME = /\/claim-(\d+)$/;
const COMMIT_NAME = /\/commit-(\d+)-(none|([0-9a-f]+)-([0-9a-f]+)-(\d+))$/;

function readState(job: ClaimSubject, markers: { name: string; createdAt: number }[]) {
  const claims: { generation: number; createdAt: number }[] = [];
  let commit: { generation: number; followUp: FollowUpPlan | null } | null = null;
  for (const marker of markers) {
    const claim = CLAIM_NAME.exec(marker.name);
    if (claim) {
      claims.push({ generation: Number(claim[1]), createdAt: marker.createdAt });
      continue;
    }
    const done = COMMIT_NAME.exec(marker.name);
    if (done && commit === null) {
      commit = {
        generation: Number(done[1]),
        followUp:
          done[2] === 'none'
            ? null
            : {
                instanceIds: decodeMask(job.instanceIds, done[3] ?? '0'),
                verify: decodeMask(job.instanceIds, done[4] ?? '0'),
                failures: Number(done[5]),
              },
      };
    }
  }
  claims.sort((a, b) => a.generation - b.generation);
  return { claims, commit };
}

/** Claims the job for this copy, or says who has it. */
export async function acquireJob(store: ClaimStore, job: ClaimSubject, now: number): Promise<Acquired> {
  const prefix = prefixOf(job.key);
  if (await store.create(`${prefix}claim-1`)) return { kind: 'owner', generation: 1, careful: false };
  const state = readState(job, await store.list(prefix));
  if (state.commit !== null) return { kind: 'committed', followUp: state.commit.followUp };
  const latest = state.claims.at(-1);
  // The claim exists (create said so) but may not be listed yet: treat it as live.
  if (latest === undefined) return { kind: 'busy', heldSinceMs: now };
  if (now - latest.createdAt < CLAIM_STALE_MS) return { kind: 'busy', heldSinceMs: latest.createdAt };
  const generation = latest.generation + 1;
  if (await store.create(`${prefix}claim-${generation}`)) return { kind: 'owner', generation, careful: true };
  return { kind: 'busy', heldSinceMs: now };
}

/** Records that the owner finished and what its follow-up holds; call before enqueueing the follow-up. */
export async function commitJob(
  store: ClaimStore,
  job: ClaimSubject,
  generation: number,
  followUp: FollowUpPlan | null,
): Promise<void> {
  const prefix = prefixOf(job.key);
  const what =
    followUp === null
      ? 'none'
      : `${encodeMask(job.instanceIds, followUp.instanceIds)}-${encodeMask(job.instanceIds, followUp.verify)}-${followUp.failures}`;
  // false means this exact commit exists already (an SDK retry of this call): nothing to do.
  await store.create(`${prefix}commit-${generation}-${what}`);
}

/** Whether any copy of the job with this key has been claimed: for the follow-up a commit names. */
export async function wasClaimed(store: ClaimStore, key: string): Promise<boolean> {
  return (await store.list(`${prefixOf(key)}claim-`)).length > 0;
}

/** Claims in memory, for a local run and tests (one process: a Set is a compare-and-set). */
export function createMemoryClaimStore(now: () => number = Date.now): ClaimStore & {
  readonly markers: Map<string, number>;
} {
  const markers = new Map<string, number>();
  return {
    markers,
    async create(name) {
      if (markers.has(name)) return false;
      markers.set(name, now());
      return true;
    },
    async list(prefix) {
      return [...markers.entries()]
        .filter(([name]) => name.startsWith(prefix))
        .map(([name, createdAt]) => ({ name, createdAt }))
        .sort((a, b) => a.name.localeCompare(b.name));
    },
  };
}
