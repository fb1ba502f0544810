/**
 * The SQS job that drives collection of one SendCommand. It carries only the
 * instances whose records have not been written yet, so a follow-up job never
 * asks for a host twice.
 *
 * A job is identified by `<commandId>/<attempt>` (jobKey): dispatch sends one
 * job per command and each job sends at most one follow-up, so every copy of
 * the same message (SQS stores a SendMessage twice when the SDK retries after
 * a lost response, and delivers at least once) has the same key, whatever
 * ApproximateReceiveCount says. job-claims.ts makes one copy the owner.
 */
import { InvalidInputError } from '../../common/errors.ts';
import { isMaintenanceNote, type MaintenanceNote } from '../dispatch/maintenance.ts';

export interface CollectJob {
  v: 1;
  commandId: string;
  roundId: string;
  /** Instances still to be written. */
  instanceIds: string[];
  /** When SendCommand returned (epoch ms); records of this command are never older. */
  dispatchedAt: number;
  /** Past this (epoch ms) unfinished hosts get a CollectorDeadline record. */
  deadline: number;
  /** 1 for the job dispatch sends, +1 per follow-up. */
  attempt: number;
  /** The SSM parameters sent, for the records. */
  settings: Record<string, string>;
  /**
   * Consecutive attempts that ended with hosts they could have finished but
   * did not (a write or look-up failed, or the deadline passed): drives the
   * backoff, and past MAX_FAILED_ATTEMPTS the job gives up to the dead-letter queue.
   */
  failures?: number;
  /** Why the last attempt could not finish its hosts; carried into the dead-letter queue. */
  lastError?: string;
  /**
   * Hosts whose last write failed in a way that may still have stored it (a
   * timeout, a 5xx): their stream is checked for the record before writing again.
   */
  verify?: string[];
  /** Written by collectors before job keys existed; read and ignored. */
  suspect?: boolean;
  /**
   * Dispatch's maintenance decision for the hosts that have one
   * (functions/dispatch/maintenance.ts), keyed by instance id: their records
   * carry it, and a host `in` maintenance stays out of the flag metrics.
   * Absent: no host of the job has one.
   */
  maintenance?: Record<string, MaintenanceNote>;
}

/** SQS DelaySeconds upper bound. */
export const MAX_DELAY_SECONDS = 900;

/** Polling cadence while hosts run: the first follow-up after 15 s, doubling to 120 s. */
export const POLL_BASE_SECONDS = 15;
export const POLL_MAX_SECONDS = 120;
/** After a failed attempt: 30 s, doubling to SQS's 900 s. */
export const FAILURE_BASE_SECONDS = 30;
/**
 * Failed attempts in a row before the job gives up to the dead-letter queue:
 * 30+60+120+240+480+900 s, about half an hour of a broken log group or
 * missing permission, then the DLQ alarm pages someone.
 */
export const MAX_FAILED_ATTEMPTS = 6;

/** Hosts per job: dispatch sends at most 50 per command; the claim's host mask is sized for this. */
export const MAX_JOB_INSTANCES = 50;

export const INSTANCE_ID = /^(i|mi)-[0-9a-f]{8,17}$/;
/** SSM command ids are UUIDs; they become part of claim names (no ':' or '*' allowed there). */
const COMMAND_ID = /^[A-Za-z0-9-]{1,64}$/;

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

export function parseCollectJob(body: string): CollectJob {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new InvalidInputError('collect job', body, 'a JSON collect job');
  }
  const job = value as Partial<CollectJob> | null;
  const ok =
    job !== null &&
    typeof job === 'object' &&
    job.v === 1 &&
    typeof job.commandId === 'string' &&
    COMMAND_ID.test(job.commandId) &&
    typeof job.roundId === 'string' &&
    Array.isArray(job.instanceIds) &&
    job.instanceIds.length <= MAX_JOB_INSTANCES &&
    job.instanceIds.every((id) => typeof id === 'string' && INSTANCE_ID.test(id)) &&
    new Set(job.instanceIds).size === job.instanceIds.length &&
    typeof job.dispatchedAt === 'number' &&
    typeof job.deadline === 'number' &&
    isCount(job.attempt) &&
    job.attempt >= 1 &&
    typeof job.settings === 'object' &&
    job.settings !== null &&
    (job.failures === undefined || isCount(job.failures)) &&
    (job.lastError === undefined || typeof job.lastError === 'string') &&
    (job.verify === undefined ||
      (Array.isArray(job.verify) && job.verify.every((id) => job.instanceIds?.includes(id) === true))) &&
    (job.maintenance === undefined || isMaintenanceMap(job.maintenance, job.instanceIds));
  if (!ok)
    throw new InvalidInputError(
      'collect job',
      body,
      `a collect job of version 1 with at most ${MAX_JOB_INSTANCES} distinct instance ids (see functions/collect/job.ts)`,
    );
  return value as CollectJob;
}

function isMaintenanceMap(value: unknown, instanceIds: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([id, note]) => instanceIds.includes(id) && isMaintenanceNote(note));
}

/** The maintenance map of a job narrowed to `instanceIds` (a follow-up job's hosts); undefined when none is left. */
export function maintenanceFor(
  maintenance: CollectJob['maintenance'],
  instanceIds: readonly string[],
): CollectJob['maintenance'] {
  if (maintenance === undefined) return undefined;
  const kept = Object.fromEntries(Object.entries(maintenance).filter(([id]) => instanceIds.includes(id)));
  return Object.keys(kept).length > 0 ? kept : undefined;
}

/** The identity every copy of one job shares. */
export function jobKey(job: Pick<CollectJob, 'commandId' | 'attempt'>): string {
  return `${job.commandId}/${job.attempt}`;
}

/**
 * How long to wait before looking again. While hosts run: the agent's
 * expected run time for the first look (set by dispatch), then 15 s doubling
 * to 120 s (polling SSM throttles), never past the deadline. After an attempt
 * that failed (`failures` > 0): 30 s doubling to 900 s, so a broken log group
 * or a missing permission costs a handful of attempts, not a hot loop. Always
 * at least 1 s and within SQS's 900 s.
 */
export function nextDelaySeconds(
  job: Pick<CollectJob, 'attempt' | 'deadline'>,
  now: number,
  failures = 0,
): number {
  if (failures > 0) return failureDelaySeconds(failures);
  const backoff = Math.min(POLL_BASE_SECONDS * 2 ** Math.max(0, job.attempt - 1), POLL_MAX_SECONDS);
  const untilDeadline = Math.ceil((job.deadline - now) / 1000);
  return Math.max(1, clampDelay(Math.min(backoff, untilDeadline)));
}

/** The wait after the n-th failed attempt in a row (n >= 1): 30 s doubling to 900 s. */
export function failureDelaySeconds(failures: number): number {
  return clampDelay(FAILURE_BASE_SECONDS * 2 ** (Math.max(1, failures) - 1));
}

export function clampDelay(seconds: number): number {
  return Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.round(seconds)));
}

/** A line that identifies one host's record of one command; written in the result record. */
export function recordId(commandId: string, instanceId: string): string {
  return `${commandId}/${instanceId}`;
}
