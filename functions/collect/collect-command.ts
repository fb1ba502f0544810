/**
 * Collects one SendCommand's results for the hosts a job still holds.
 *
 * No result may be lost or written twice, whatever SQS and CloudWatch do:
 *
 * 1. One copy of the job owns it (job-claims.ts: a claim per job key created
 *    by a conditional write, so a copy SQS stored or delivered twice finds the
 *    job taken, whatever its ApproximateReceiveCount). Other copies write nothing.
 * 2. The owner fetches each host that reached a terminal state and writes its
 *    records in ONE PutLogEvents call (seed line, MTR reports, then the
 *    result/failure record carrying `recordId` = `<commandId>/<instanceId>`),
 *    so a host is either fully written or not. A host whose write may have
 *    landed although it failed (timeout, 5xx), and every host of an owner that
 *    took over from a dead one, is looked up in its stream before it is written.
 * 3. Hosts still running, or whose write failed, go into one follow-up job.
 *    The owner commits (naming the follow-up) and then enqueues it; a copy that
 *    finds the commit re-sends the follow-up if no copy of it was ever claimed.
 * 4. Past the command's deadline every host left gets a CollectorDeadline
 *    record. Attempts that leave hosts they could have finished (a write or
 *    look-up failed, or the deadline passed) back off from 30 s to 900 s; after
 *    MAX_FAILED_ATTEMPTS in a row the job gives up to the dead-letter queue,
 *    carrying the hosts and the last error.
 *
 * The everyday cost per job is two claim writes (create, commit); GetLogEvents (throttled
 * per account far below the rate a 10,000-host fleet finishes at) is paid only
 * for hosts that need a look-up.
 */

import { mapLimit } from '../../common/concurrency.ts';
import { affectsEveryCall } from '../aws/aws-errors.ts';
import { inMaintenance } from '../dispatch/maintenance.ts';
import type { LogSink, RecordLookup } from '../logs/log-writer.ts';
import {
  buildDeadlineRecord,
  buildInvocationRecords,
  type HostOutcome,
  outcomeOfRecordLine,
} from '../logs/records.ts';
import { sentResourcesOf } from '../logs/sent-resources.ts';
import type { RoundMetrics } from '../metrics/emit-metrics.ts';
import type { CommandTransport, InvocationOutputs, InvocationState, JobQueue } from '../ports.ts';
import { CollectGaveUpError, type CollectorLog, consoleLog, HostWriter } from './host-writes.ts';
import {
  type CollectJob,
  jobKey,
  MAX_FAILED_ATTEMPTS,
  maintenanceFor,
  recordId as makeRecordId,
  nextDelaySeconds,
} from './job.ts';
import { acquireJob, type ClaimStore, commitJob, type FollowUpPlan, wasClaimed } from './job-claims.ts';

export interface CollectPorts {
  transport: CommandTransport;
  queue: JobQueue;
  logs: LogSink;
  lookup: RecordLookup;
  claims: ClaimStore;
  metrics: RoundMetrics;
  now: () => number;
  /** Defaults to consoleLog. */
  log?: CollectorLog;
}

export interface CollectOptions {
  /** GetCommandInvocation / PutLogEvents calls in flight. */
  concurrency?: number;
  /**
   * A chain longer than this is a bug: give up to the DLQ. The deadline and
   * MAX_FAILED_ATTEMPTS end a chain well before the default; a local run,
   * which polls every half second, raises it.
   */
  maxAttempts?: number;
}

export interface CollectResult {
  /**
   * `collected`: this copy owned the job. `duplicate`: another copy finished it.
   * `busy`: another copy holds it now; hand this one back to SQS.
   */
  outcome: 'collected' | 'duplicate' | 'busy';
  written: string[];
  /** Found already in their stream: not written again. */
  duplicates: string[];
  deadline: string[];
  followUp: { instanceIds: string[]; delaySeconds: number } | null;
  /** A duplicate that sent the commit's follow-up again because no copy of it was ever claimed. */
  resentFollowUp: boolean;
}

/** Far more than a chain needs (about 6 polls to the deadline plus MAX_FAILED_ATTEMPTS). */
export const DEFAULT_MAX_ATTEMPTS = 40;

/** SSM statuses after which nothing more will happen to an invocation. */
const TERMINAL = new Set([
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Canceled',
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
]);

/** Terminal states in which the document never ran on the host. */
const NEVER_RAN = new Set([
  'Undeliverable',
  'Terminated',
  'DeliveryTimedOut',
  'InvalidPlatform',
  'AccessDenied',
  'Cancelled',
  'Canceled',
]);

function neverRan(state: { status: string; statusDetails: string }): boolean {
  return NEVER_RAN.has(state.statusDetails) || NEVER_RAN.has(state.status);
}

/** StatusDetails values finer than Status, kept in the record. */
const SPECIFIC = new Set([
  'Undeliverable',
  'Terminated',
  'InvalidPlatform',
  'AccessDenied',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
]);

export function isTerminal(state: { status: string; statusDetails: string }): boolean {
  return TERMINAL.has(state.status) || TERMINAL.has(state.statusDetails);
}

export function recordStatus(state: { status: string; statusDetails: string }): string {
  if (SPECIFIC.has(state.statusDetails)) return state.statusDetails;
  return state.status === 'Canceled' ? 'Cancelled' : state.status;
}

/**
 * `failed`: the host could have been finished this attempt but was not (its
 * write or look-up failed, or writes are blocked); `pending`: still running.
 */
type HostStep = 'written' | 'duplicate' | 'pending' | 'failed';

function followUpJob(job: CollectJob, plan: FollowUpPlan, lastError: string | undefined): CollectJob {
  const { suspect: _legacy, failures: _f, lastError: _l, verify: _v, maintenance: _m, ...base } = job;
  const maintenance = maintenanceFor(job.maintenance, plan.instanceIds);
  return {
    ...base,
    instanceIds: plan.instanceIds,
    ...(maintenance === undefined ? {} : { maintenance }),
    attempt: job.attempt + 1,
    ...(plan.failures > 0 ? { failures: plan.failures } : {}),
    ...(lastError === undefined ? {} : { lastError }),
    ...(plan.verify.length > 0 ? { verify: plan.verify } : {}),
  };
}

export async function collectCommand(
  ports: CollectPorts,
  job: CollectJob,
  options: CollectOptions = {},
): Promise<CollectResult> {
  const log = ports.log ?? consoleLog;
  const concurrency = options.concurrency ?? 16;
  const failures = job.failures ?? 0;
  const result: CollectResult = {
    outcome: 'collected',
    written: [],
    duplicates: [],
    deadline: [],
    followUp: null,
    resentFollowUp: false,
  };

  // Decided from the message alone, before any call: every redelivery of a
  // job that gave up fails at once, until SQS moves it to the dead-letter queue.
  const subject = { key: jobKey(job), instanceIds: job.instanceIds };
  if (failures >= MAX_FAILED_ATTEMPTS)
    throw new CollectGaveUpError({ ...job, ...subject }, `${failures} failed attempts in a row`);
  if (job.attempt > (options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS))
    throw new CollectGaveUpError({ ...job, ...subject }, `attempt ${job.attempt} exceeds the chain limit`);

  const acquired = await acquireJob(ports.claims, subject, ports.now());
  if (acquired.kind === 'busy') return { ...result, outcome: 'busy' };
  if (acquired.kind === 'committed') {
    if (acquired.followUp !== null) {
      const next = followUpJob(job, acquired.followUp, job.lastError);
      if (!(await wasClaimed(ports.claims, jobKey(next)))) {
        await ports.queue.enqueue(next, nextDelaySeconds(job, ports.now(), acquired.followUp.failures));
        result.resentFollowUp = true;
      }
    }
    return { ...result, outcome: 'duplicate' };
  }

  const writer = new HostWriter(ports);
  const verify = new Set(job.verify ?? []);
  const needsLookup = (instanceId: string) => acquired.careful || verify.has(instanceId);
  const lookUp = (instanceId: string) =>
    writer.lookUp(instanceId, job.dispatchedAt, makeRecordId(job.commandId, instanceId));

  let listed: Map<string, InvocationState> | null = null;
  try {
    listed = new Map((await ports.transport.listInvocations(job.commandId)).map((s) => [s.instanceId, s]));
  } catch (error) {
    // Not fatal: GetCommandInvocation tells each host's state too, and hosts
    // that stay unknown reach their deadline record like any other.
    writer.note('ListCommandInvocations', null, error);
  }

  /**
   * Metric updates of this attempt, emitted only once the job is committed: an
   * owner that dies before committing has counted nothing, so the one that
   * takes over counts what it finds written.
   */
  const counts: (() => void)[] = [];
  /** Dispatch's maintenance decision for a host (job.ts `maintenance`); the collector reads no tags. */
  const maintenanceOf = (instanceId: string) => job.maintenance?.[instanceId];
  /** Said with every count: a host in a window stays out of the alarmed metrics (emit-metrics.ts). */
  const windowOf = (instanceId: string) => ({ inMaintenance: inMaintenance(maintenanceOf(instanceId)) });
  const countOutcome = (instanceId: string, outcome: HostOutcome) => {
    counts.push(() => {
      const window = windowOf(instanceId);
      if (outcome.kind === 'checked')
        ports.metrics.checked(
          window.inMaintenance ? { ...outcome.measurement, inMaintenance: true } : outcome.measurement,
        );
      else ports.metrics.failed(instanceId, window);
    });
  };
  /** Counts a host found already written, by what its record says. */
  const countFound = (instanceId: string, line: string) => {
    countOutcome(instanceId, outcomeOfRecordLine(instanceId, line, sentResourcesOf(job.settings)));
  };
  /** Hosts whose records were built but not stored this attempt. */
  const unwritten = new Set<string>();
  /** Hosts whose GetCommandInvocation failed this attempt: a result may be waiting. */
  const unfetched = new Set<string>();

  const collectHost = async (instanceId: string): Promise<HostStep> => {
    const state = listed?.get(instanceId);
    if (listed !== null && (state === undefined || !isTerminal(state))) return 'pending';
    // Writes are known to fail: spend no GetCommandInvocation on a record that cannot be stored.
    if (writer.blocked !== null) return 'failed';
    if (needsLookup(instanceId)) {
      const found = await lookUp(instanceId);
      // Written by an owner that died before committing, or by a write whose answer
      // was lost: neither counted it (counts are emitted only after a commit).
      if (typeof found === 'string') {
        countFound(instanceId, found);
        return 'duplicate';
      }
      if (found === null) return 'failed';
    }
    let outputs: InvocationOutputs | null = null;
    try {
      outputs = await ports.transport.getInvocation(job.commandId, instanceId);
    } catch (error) {
      // Throttled past the SDK's retries, or denied: look again next time (the
      // deadline record carries this error if it never clears), unless the
      // plugin never ran (below) and there is nothing to fetch anyway.
      writer.note('GetCommandInvocation', instanceId, error);
      // A denial will not clear by asking again; throttling and 5xx may.
      if (!affectsEveryCall(error)) unfetched.add(instanceId);
    }
    if (outputs === null || !isTerminal(outputs)) {
      // An invocation that never reached the host has no plugin output to fetch:
      // GetCommandInvocation may answer InvocationDoesNotExist for good. The listing's
      // status is the whole record; waiting would only turn it into CollectorDeadline.
      if (state === undefined || !neverRan(state)) return 'pending';
      outputs = {
        status: state.status,
        statusDetails: state.statusDetails,
        responseCode: null,
        stdout: '',
        stderr: '',
      };
    }
    const { events, outcome } = buildInvocationRecords(
      {
        instanceId,
        commandId: job.commandId,
        roundId: job.roundId,
        status: recordStatus(outputs),
        responseCode: outputs.responseCode,
        stdout: outputs.stdout,
        stderr: outputs.stderr,
        sentResources: sentResourcesOf(job.settings),
        maintenance: maintenanceOf(instanceId) ?? null,
      },
      makeRecordId(job.commandId, instanceId),
      ports.now(),
    );
    if (!(await writer.write(instanceId, events))) {
      unwritten.add(instanceId);
      return 'failed';
    }
    countOutcome(instanceId, outcome);
    return 'written';
  };

  // After a failed attempt, go one host at a time until a write succeeds: a
  // log group that is still missing then costs one host's calls, not sixteen.
  const ids = job.instanceIds;
  const steps: HostStep[] = [];
  let probed = 0;
  if (failures > 0) {
    for (const instanceId of ids) {
      const step = await collectHost(instanceId);
      steps.push(step);
      probed++;
      if (step === 'written' || writer.blocked !== null) break;
    }
  }
  steps.push(...(await mapLimit(ids.slice(probed), concurrency, collectHost)));

  let remaining: string[] = [];
  let attemptFailed = false;
  ids.forEach((id, i) => {
    const step = steps[i];
    if (step === 'written') result.written.push(id);
    else if (step === 'duplicate') result.duplicates.push(id);
    else {
      if (step === 'failed') attemptFailed = true;
      remaining.push(id);
    }
  });

  const now = ports.now();
  if (remaining.length > 0 && now >= job.deadline) {
    const left: string[] = [];
    await mapLimit(remaining, concurrency, async (instanceId) => {
      // A write that failed ambiguously a moment ago may not be readable yet: the follow-up verifies it.
      if (writer.ambiguous.has(instanceId) || writer.blocked !== null) {
        left.push(instanceId);
        return;
      }
      // A result SSM would not hand over (throttled) or CloudWatch would not take is
      // tried again, backing off, until the job's last attempt: then the deadline record.
      if ((unfetched.has(instanceId) || unwritten.has(instanceId)) && failures + 1 < MAX_FAILED_ATTEMPTS) {
        left.push(instanceId);
        return;
      }
      if (needsLookup(instanceId)) {
        const found = await lookUp(instanceId);
        if (typeof found === 'string') {
          countFound(instanceId, found);
          result.duplicates.push(instanceId);
          return;
        }
        if (found === null) {
          left.push(instanceId);
          return;
        }
      }
      const state = listed?.get(instanceId);
      const events = buildDeadlineRecord(
        {
          instanceId,
          commandId: job.commandId,
          roundId: job.roundId,
          lastStatus: listed === null ? 'Unknown' : state === undefined ? 'NotListed' : recordStatus(state),
          deadline: job.deadline,
          ...(writer.lastErrorOf.has(instanceId) || listed === null
            ? { lastError: writer.lastErrorOf.get(instanceId) ?? writer.errors.first() ?? 'unknown' }
            : {}),
          maintenance: maintenanceOf(instanceId) ?? null,
        },
        makeRecordId(job.commandId, instanceId),
        now,
      );
      if (await writer.write(instanceId, events)) {
        counts.push(() => ports.metrics.failed(instanceId, windowOf(instanceId)));
        result.deadline.push(instanceId);
      } else left.push(instanceId);
    });
    // Past the deadline, any host still unwritten is a failed attempt: back off.
    if (left.length > 0) attemptFailed = true;
    remaining = ids.filter((id) => left.includes(id));
  }

  let plan: FollowUpPlan | null = null;
  if (remaining.length > 0) {
    plan = {
      instanceIds: remaining,
      verify: writer.toVerify(remaining, needsLookup),
      failures: attemptFailed ? failures + 1 : 0,
    };
  }
  const lastError = writer.lastError();
  writer.errors.flush(log, { job: subject.key, roundId: job.roundId });
  await commitJob(ports.claims, subject, acquired, plan);
  for (const count of counts) count();
  // Printed now, before any further call: a collector that dies later has counted these hosts.
  ports.metrics.flush();
  if (plan !== null) {
    const delaySeconds = nextDelaySeconds(job, now, plan.failures);
    await ports.queue.enqueue(followUpJob(job, plan, attemptFailed ? lastError : undefined), delaySeconds);
    result.followUp = { instanceIds: plan.instanceIds, delaySeconds };
  }
  return result;
}
