/**
 * Records dispatch could not write (blind, misconfigured, dispatch-failed:
 * CloudWatch throttled or failed past dispatch's own retries) are handed to
 * the collector on the same queue, so a host never ends a round without its
 * record. The collector writes them like command results: one owner per job
 * (job-claims.ts), hosts whose write may have landed looked up first, failed
 * attempts backing off 30 s to 900 s, and after MAX_FAILED_ATTEMPTS the job
 * goes to the dead-letter queue with the reason.
 */
import { mapLimit } from '../../common/concurrency.ts';
import { InvalidInputError } from '../../common/errors.ts';
import type { LogEvent, LogSink, RecordLookup } from '../logs/log-writer.ts';
import type { JobQueue } from '../ports.ts';
import { CollectGaveUpError, type CollectorLog, consoleLog, HostWriter } from './host-writes.ts';
import {
  type CollectJob,
  failureDelaySeconds,
  INSTANCE_ID,
  MAX_FAILED_ATTEMPTS,
  MAX_JOB_INSTANCES,
  parseCollectJob,
} from './job.ts';
import { acquireJob, type ClaimStore, commitJob, type FollowUpPlan, wasClaimed } from './job-claims.ts';

/** One host's prepared events; `recordId` is in its record line, for look-ups. */
export interface HostRecord {
  instanceId: string;
  recordId: string;
  events: LogEvent[];
}

export interface RecordsJob {
  v: 1;
  kind: 'records';
  /** Unique per hand-over: `<roundId>.<n>`; with `attempt` the key every copy shares. */
  id: string;
  roundId: string;
  attempt: number;
  /** At most MAX_JOB_INSTANCES, one per host. */
  records: HostRecord[];
  failures?: number;
  lastError?: string;
  verify?: string[];
}

/** Any message on the collect queue. */
export type QueuedJob = CollectJob | RecordsJob;

export function isRecordsJob(job: QueuedJob): job is RecordsJob {
  return 'kind' in job && job.kind === 'records';
}

/** SQS takes 256 KiB per message; a hand-over job stays well under it. */
export const MAX_RECORDS_JOB_BYTES = 200_000;

const JOB_ID = /^[A-Za-z0-9._-]{1,120}$/;

export function recordsJobKey(job: Pick<RecordsJob, 'id' | 'attempt'>): string {
  return `records/${job.id}/${job.attempt}`;
}

function isRecord(value: unknown): value is HostRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Partial<HostRecord>;
  return (
    typeof r.instanceId === 'string' &&
    INSTANCE_ID.test(r.instanceId) &&
    typeof r.recordId === 'string' &&
    r.recordId !== '' &&
    Array.isArray(r.events) &&
    r.events.length > 0 &&
    r.events.every(
      (e: unknown) =>
        typeof e === 'object' &&
        e !== null &&
        Number.isFinite((e as LogEvent).timestamp) &&
        typeof (e as LogEvent).message === 'string',
    )
  );
}

/** Reads a message body of the collect queue: a command job or a records job. */
export function parseQueuedJob(body: string): QueuedJob {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new InvalidInputError('collect job', body, 'a JSON collect job');
  }
  if (typeof value !== 'object' || value === null || (value as { kind?: unknown }).kind !== 'records') {
    return parseCollectJob(body);
  }
  const job = value as Partial<RecordsJob>;
  const ids = Array.isArray(job.records) ? job.records.map((r: HostRecord) => r?.instanceId) : [];
  const ok =
    job.v === 1 &&
    typeof job.id === 'string' &&
    JOB_ID.test(job.id) &&
    typeof job.roundId === 'string' &&
    typeof job.attempt === 'number' &&
    Number.isInteger(job.attempt) &&
    job.attempt >= 1 &&
    Array.isArray(job.records) &&
    job.records.length >= 1 &&
    job.records.length <= MAX_JOB_INSTANCES &&
    job.records.every(isRecord) &&
    new Set(ids).size === ids.length &&
    (job.failures === undefined || (Number.isInteger(job.failures) && job.failures >= 0)) &&
    (job.lastError === undefined || typeof job.lastError === 'string') &&
    (job.verify === undefined || (Array.isArray(job.verify) && job.verify.every((id) => ids.includes(id))));
  if (!ok)
    throw new InvalidInputError(
      'records job',
      body,
      `a records job of version 1 with 1 to ${MAX_JOB_INSTANCES} host records (see functions/collect/records-job.ts)`,
    );
  return value as RecordsJob;
}

/**
 * Cuts records into hand-over jobs of at most MAX_JOB_INSTANCES hosts and
 * MAX_RECORDS_JOB_BYTES each. `ids` numbers them within the round.
 */
export function buildRecordsJobs(roundId: string, records: HostRecord[], firstNumber = 1): RecordsJob[] {
  const jobs: RecordsJob[] = [];
  let current: HostRecord[] = [];
  let bytes = 0;
  const close = () => {
    if (current.length === 0) return;
    jobs.push({
      v: 1,
      kind: 'records',
      id: `${roundId}.${firstNumber + jobs.length}`,
      roundId,
      attempt: 1,
      records: current,
    });
    current = [];
    bytes = 0;
  };
  for (const record of records) {
    const size = Buffer.byteLength(JSON.stringify(record), 'utf8');
    if (
      current.length >= MAX_JOB_INSTANCES ||
      (current.length > 0 && bytes + size > MAX_RECORDS_JOB_BYTES - 1000)
    )
      close();
    current.push(record);
    bytes += size;
  }
  close();
  return jobs;
}

export interface RecordsJobPorts {
  queue: JobQueue;
  logs: LogSink;
  lookup: RecordLookup;
  claims: ClaimStore;
  now: () => number;
  log?: CollectorLog;
}

export interface RecordsJobResult {
  outcome: 'collected' | 'duplicate' | 'busy';
  written: string[];
  duplicates: string[];
  followUp: { instanceIds: string[]; delaySeconds: number } | null;
  resentFollowUp: boolean;
}

function followUpJob(job: RecordsJob, plan: FollowUpPlan, lastError: string | undefined): RecordsJob {
  const { failures: _f, lastError: _l, verify: _v, ...base } = job;
  const keep = new Set(plan.instanceIds);
  return {
    ...base,
    attempt: job.attempt + 1,
    records: job.records.filter((r) => keep.has(r.instanceId)),
    failures: plan.failures,
    ...(lastError === undefined ? {} : { lastError }),
    ...(plan.verify.length > 0 ? { verify: plan.verify } : {}),
  };
}

export async function writeRecordsJob(
  ports: RecordsJobPorts,
  job: RecordsJob,
  options: { concurrency?: number } = {},
): Promise<RecordsJobResult> {
  const log = ports.log ?? consoleLog;
  const failures = job.failures ?? 0;
  const subject = { key: recordsJobKey(job), instanceIds: job.records.map((r) => r.instanceId) };
  const result: RecordsJobResult = {
    outcome: 'collected',
    written: [],
    duplicates: [],
    followUp: null,
    resentFollowUp: false,
  };
  if (failures >= MAX_FAILED_ATTEMPTS)
    throw new CollectGaveUpError({ ...job, ...subject }, `${failures} failed attempts in a row`);

  const acquired = await acquireJob(ports.claims, subject, ports.now());
  if (acquired.kind === 'busy') return { ...result, outcome: 'busy' };
  if (acquired.kind === 'committed') {
    if (acquired.followUp !== null) {
      const next = followUpJob(job, acquired.followUp, job.lastError);
      if (!(await wasClaimed(ports.claims, recordsJobKey(next)))) {
        await ports.queue.enqueue(next, failureDelaySeconds(acquired.followUp.failures));
        result.resentFollowUp = true;
      }
    }
    return { ...result, outcome: 'duplicate' };
  }

  const writer = new HostWriter(ports);
  const verify = new Set(job.verify ?? []);
  const steps = await mapLimit(job.records, options.concurrency ?? 16, async (record) => {
    if (writer.blocked !== null) return 'failed' as const;
    if (acquired.careful || verify.has(record.instanceId)) {
      const since = Math.min(...record.events.map((e) => e.timestamp));
      const found = await writer.lookUp(record.instanceId, since, record.recordId);
      if (typeof found === 'string') return 'duplicate' as const;
      if (found === null) return 'failed' as const;
    }
    return (await writer.write(record.instanceId, record.events))
      ? ('written' as const)
      : ('failed' as const);
  });
  const remaining: string[] = [];
  job.records.forEach((record, i) => {
    const step = steps[i];
    if (step === 'written') result.written.push(record.instanceId);
    else if (step === 'duplicate') result.duplicates.push(record.instanceId);
    else remaining.push(record.instanceId);
  });

  const plan: FollowUpPlan | null =
    remaining.length === 0
      ? null
      : {
          instanceIds: remaining,
          verify: writer.toVerify(remaining, (id) => acquired.careful || verify.has(id)),
          failures: failures + 1,
        };
  writer.errors.flush(log, { job: subject.key, roundId: job.roundId });
  await commitJob(ports.claims, subject, acquired, plan);
  if (plan !== null) {
    const delaySeconds = failureDelaySeconds(plan.failures);
    await ports.queue.enqueue(followUpJob(job, plan, writer.lastError()), delaySeconds);
    result.followUp = { instanceIds: remaining, delaySeconds };
  }
  return result;
}
