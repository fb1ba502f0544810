/**
 * The SQS job that drives collection of one SendCommand. It carries only the
 * instances whose records have not been written yet, so a follow-up job never
 * asks for a host twice.
 */
import { InvalidInputError } from '../../common/errors.ts';

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
   * Set when this job descends from a redelivered message: a copy of the
   * chain may also be running, so every host is checked against its log
   * stream before it is written.
   */
  suspect?: boolean;
}

/** SQS DelaySeconds upper bound. */
export const MAX_DELAY_SECONDS = 900;

const INSTANCE_ID = /^(i|mi)-[0-9a-f]{8,17}$/;

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
    job.commandId !== '' &&
    typeof job.roundId === 'string' &&
    Array.isArray(job.instanceIds) &&
    job.instanceIds.every((id) => typeof id === 'string' && INSTANCE_ID.test(id)) &&
    typeof job.dispatchedAt === 'number' &&
    typeof job.deadline === 'number' &&
    typeof job.attempt === 'number' &&
    typeof job.settings === 'object' &&
    job.settings !== null;
  if (!ok)
    throw new InvalidInputError(
      'collect job',
      body,
      'a collect job of version 1 (see functions/collect/job.ts)',
    );
  return value as CollectJob;
}

/**
 * How long to wait before looking again: the agent's expected run time for
 * the first look, then a slowly growing interval (polling SSM throttles), never
 * past the deadline and within SQS's 900 s.
 */
export function nextDelaySeconds(job: Pick<CollectJob, 'attempt' | 'deadline'>, now: number): number {
  const backoff = Math.min(15 * 2 ** Math.max(0, job.attempt - 1), 120);
  const untilDeadline = Math.ceil((job.deadline - now) / 1000);
  return clampDelay(Math.min(backoff, Math.max(0, untilDeadline)));
}

export function clampDelay(seconds: number): number {
  return Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.round(seconds)));
}

/** A line that identifies one host's record of one command; written in the result record. */
export function recordId(commandId: string, instanceId: string): string {
  return `${commandId}/${instanceId}`;
}
