/**
 * Writing hosts' records from a collect job, shared by command jobs
 * (collect-command.ts) and hand-over jobs of dispatch records (records-job.ts):
 * one write per host, failures remembered per host and tallied per error for
 * the collector's own log, writes stopped at the first error every further
 * write would get too, and hosts whose failed write may have been stored
 * marked for a look-up before they are written again.
 */
import { MonitorError } from '../../common/errors.ts';
import { type AwsErrorSummary, describeAwsError, mayHaveTakenEffect, oneLine } from '../aws/aws-errors.ts';
import { type LogEvent, type LogSink, LogWriteError, type RecordLookup } from '../logs/log-writer.ts';

/** A structured line for the collector's own log (Lambda: its log group). */
export type CollectorLog = (line: Record<string, unknown>) => void;

export const consoleLog: CollectorLog = (line) => {
  const text = JSON.stringify(line);
  if (line.level === 'error') console.error(text);
  else console.log(text);
};

/** A job that failed MAX_FAILED_ATTEMPTS times in a row: it goes to the dead-letter queue. */
export class CollectGaveUpError extends MonitorError {
  readonly job: { key: string; roundId: string; instanceIds: readonly string[]; lastError?: string };
  constructor(
    job: { key: string; roundId: string; instanceIds: readonly string[]; lastError?: string },
    reason: string,
  ) {
    const hosts = job.instanceIds;
    super(
      'E_COLLECT_GAVE_UP',
      `collect job ${job.key} of round ${job.roundId} gives up to the dead-letter queue (${reason}; last error: ${job.lastError ?? 'none recorded'}): ${hosts.length} host(s) without a record: ${hosts.slice(0, 10).join(', ')}${hosts.length > 10 ? ', ...' : ''}`,
    );
    this.job = job;
  }
}

/** One log line per failing operation and error name, not one per host. */
export class ErrorTally {
  /** `component` starts each line: the function whose calls failed (`collect`, `dispatch`). */
  constructor(private readonly component: 'collect' | 'dispatch' = 'collect') {}

  private readonly entries = new Map<
    string,
    { operation: string; count: number; instanceIds: string[]; error: AwsErrorSummary; cause: unknown }
  >();

  note(operation: string, instanceId: string | null, error: unknown): void {
    // A LogWriteError says where; its cause says what AWS answered.
    const cause = error instanceof LogWriteError && error.cause !== undefined ? error.cause : error;
    const summary = describeAwsError(cause);
    if (error instanceof LogWriteError && error.rejected !== null) summary.message = error.message;
    const key = `${operation}/${summary.name}`;
    const entry = this.entries.get(key) ?? { operation, count: 0, instanceIds: [], error: summary, cause };
    entry.count++;
    if (instanceId !== null && entry.instanceIds.length < 5) entry.instanceIds.push(instanceId);
    this.entries.set(key, entry);
  }

  /** `Operation Name: message` of the first error noted. */
  first(): string | undefined {
    const first = this.entries.values().next().value;
    return first === undefined ? undefined : `${first.operation} ${oneLine(first.cause)}`;
  }

  flush(log: CollectorLog, context: Record<string, unknown>): void {
    for (const entry of this.entries.values()) {
      log({
        level: 'error',
        message: `${this.component}: ${entry.operation} failed for ${entry.count} call(s)`,
        ...context,
        count: entry.count,
        instanceIds: entry.instanceIds,
        error: entry.error,
      });
    }
  }
}

export class HostWriter {
  readonly errors = new ErrorTally();
  /** Hosts whose failed write may have been stored: looked up before the next write. */
  readonly ambiguous = new Set<string>();
  /** The last failure per host, for deadline records and the follow-up job. */
  readonly lastErrorOf = new Map<string, string>();
  /** A write error every further write would get too (no permission, no log group). */
  blocked: LogWriteError | null = null;

  constructor(private readonly sink: { logs: LogSink; lookup: RecordLookup }) {}

  note(operation: string, instanceId: string | null, error: unknown): void {
    this.errors.note(operation, instanceId, error);
    if (instanceId !== null) this.lastErrorOf.set(instanceId, `${operation} ${oneLine(error)}`);
  }

  /** Hosts looked up this attempt and found not written. */
  readonly verifiedAbsent = new Set<string>();

  /** The record line when written already; false when not; null when it could not tell (then do not write blind). */
  async lookUp(instanceId: string, sinceMs: number, recordId: string): Promise<string | false | null> {
    try {
      const found = await this.sink.lookup.findRecord(instanceId, sinceMs, `"recordId":"${recordId}"`);
      if (found === null) {
        this.verifiedAbsent.add(instanceId);
        return false;
      }
      return found;
    } catch (error) {
      this.note('GetLogEvents', instanceId, error);
      return null;
    }
  }

  /** Writes one host's events; false when they were not (all) stored. */
  async write(instanceId: string, events: LogEvent[]): Promise<boolean> {
    if (this.blocked !== null) return false;
    try {
      await this.sink.logs.write(instanceId, events);
      return true;
    } catch (error) {
      this.errors.note('PutLogEvents', instanceId, error);
      this.lastErrorOf.set(
        instanceId,
        error instanceof LogWriteError ? error.message : `PutLogEvents ${oneLine(error)}`,
      );
      if (error instanceof LogWriteError && error.affectsEveryWrite) this.blocked ??= error;
      const refusedOnly = error instanceof LogWriteError && error.rejected !== null;
      const cause = error instanceof LogWriteError && error.cause !== undefined ? error.cause : error;
      if (!refusedOnly && mayHaveTakenEffect(cause)) this.ambiguous.add(instanceId);
      return false;
    }
  }

  /**
   * Of the hosts left for a follow-up, those it must look up before writing:
   * a write this attempt may have stored, or a host that needed a look-up
   * (`needsLookup`) and did not get one that answered.
   */
  toVerify(remaining: readonly string[], needsLookup: (instanceId: string) => boolean): string[] {
    return remaining.filter(
      (id) => this.ambiguous.has(id) || (needsLookup(id) && !this.verifiedAbsent.has(id)),
    );
  }

  /** Why this attempt could not finish its hosts, for the follow-up job and the DLQ. */
  lastError(): string | undefined {
    return this.blocked?.message ?? this.errors.first();
  }
}
