/**
 * Writing dispatch's own records (blind, misconfigured, dispatch-failed) so
 * that none is lost:
 *
 * - each record is written as soon as it is known, not at the end of the
 *   round, so a dispatch that runs out of time after sending commands has
 *   already recorded its blind and misconfigured hosts;
 * - a write refused for a passing reason (throttled past the SDK's retries)
 *   is tried again with a short backoff;
 * - what still fails (or failed in a way that may have stored it: a timeout,
 *   a 5xx) is handed to the collector as a records job on the collect queue
 *   (functions/collect/records-job.ts), which retries for half an hour and
 *   then sends it to the dead-letter queue with the reason;
 * - a record that could be neither written nor handed over is counted and
 *   logged with its host, so the gap is visible.
 *
 * The writer has the shape of the list dispatch used to collect records in
 * (`push`), so dispatch code adds records the way it always did.
 */
import { Semaphore } from '../../common/concurrency.ts';
import { mayHaveTakenEffect } from '../aws/aws-errors.ts';
import { type CollectorLog, consoleLog, ErrorTally } from '../collect/host-writes.ts';
import { failureDelaySeconds } from '../collect/job.ts';
import { buildRecordsJobs, type HostRecord } from '../collect/records-job.ts';
import { type LogEvent, type LogSink, LogWriteError } from '../logs/log-writer.ts';
import { dispatchRecordId } from '../logs/records.ts';
import type { JobQueue } from '../ports.ts';

export interface DispatchRecordWriter {
  /** Starts writing one host's record now. */
  push(record: { stream: string; events: LogEvent[] }): void;
  /** Waits for every record pushed; hands the failed ones to the collector. */
  finish(): Promise<DispatchRecordsOutcome>;
}

export interface DispatchRecordsOutcome {
  written: number;
  /** Queued for the collector to write. */
  handedOver: number;
  /** Neither written nor queued (logged with their hosts). */
  lost: number;
}

export interface DispatchRecordOptions {
  roundId: string;
  /** Writes in flight. */
  concurrency?: number;
  /** Tries per record before it is handed over (the SDK retries each try itself). */
  attempts?: number;
  /** Wait before the second try; doubles for each further one. */
  retryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: CollectorLog;
}

export const DISPATCH_WRITE_ATTEMPTS = 3;
export const DISPATCH_RETRY_DELAY_MS = 500;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createDispatchRecordWriter(
  ports: { logs: LogSink; queue: JobQueue },
  options: DispatchRecordOptions,
): DispatchRecordWriter {
  const attempts = Math.max(1, options.attempts ?? DISPATCH_WRITE_ATTEMPTS);
  const retryDelayMs = options.retryDelayMs ?? DISPATCH_RETRY_DELAY_MS;
  const sleep = options.sleep ?? realSleep;
  const log = options.log ?? consoleLog;
  const pool = new Semaphore(Math.max(1, options.concurrency ?? 8));
  const errors = new ErrorTally('dispatch');
  const pending: Promise<void>[] = [];
  const failed: HostRecord[] = [];
  const verify = new Set<string>();
  let written = 0;
  let blocked = false;

  const writeOne = async (record: HostRecord): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      if (blocked) break;
      try {
        await ports.logs.write(record.instanceId, record.events);
        written++;
        return;
      } catch (error) {
        errors.note('PutLogEvents', record.instanceId, error);
        if (error instanceof LogWriteError && error.affectsEveryWrite) {
          blocked = true;
          break;
        }
        const refusedOnly = error instanceof LogWriteError && error.rejected !== null;
        const cause = error instanceof LogWriteError && error.cause !== undefined ? error.cause : error;
        if (!refusedOnly && mayHaveTakenEffect(cause)) {
          // It may be stored: the collector looks it up before writing it again.
          verify.add(record.instanceId);
          break;
        }
        if (attempt >= attempts) break;
        await sleep(retryDelayMs * 2 ** (attempt - 1));
      }
    }
    failed.push(record);
  };

  let finishing = false;
  return {
    push({ stream, events }) {
      // A record pushed once finish() began could be neither waited for nor handed over.
      if (finishing) throw new Error(`dispatch record for ${stream} pushed after finish(): it would be lost`);
      const record = { instanceId: stream, recordId: dispatchRecordId(options.roundId, stream), events };
      pending.push(pool.use(() => writeOne(record)));
    },
    async finish() {
      finishing = true;
      // Never rejects: it also runs while dispatch unwinds from a fault (dispatch-round.ts),
      // and must not replace that error. writeOne and the hand-over below catch what AWS throws.
      await Promise.allSettled(pending);
      let handedOver = 0;
      let lost = 0;
      const lostHosts: string[] = [];
      for (const job of buildRecordsJobs(options.roundId, failed)) {
        const toVerify = job.records.map((r) => r.instanceId).filter((id) => verify.has(id));
        if (toVerify.length > 0) job.verify = toVerify;
        try {
          await ports.queue.enqueue(job, failureDelaySeconds(1));
          handedOver += job.records.length;
        } catch (error) {
          errors.note('SendMessage', null, error);
          lost += job.records.length;
          lostHosts.push(...job.records.map((r) => r.instanceId));
        }
      }
      errors.flush(log, { component: 'dispatch records', roundId: options.roundId });
      if (handedOver > 0 || lost > 0) {
        log({
          level: lost > 0 ? 'error' : 'info',
          message: `dispatch records: ${written} written, ${handedOver} handed to the collector, ${lost} lost`,
          roundId: options.roundId,
          ...(lost > 0 ? { lostInstanceIds: lostHosts } : {}),
        });
      }
      return { written, handedOver, lost };
    },
  };
}
