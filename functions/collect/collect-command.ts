/**
 * Collects one SendCommand's results for the hosts a job still holds.
 *
 * No result may be lost or written twice. SQS delivers at least once and a
 * Lambda failure redelivers the whole message, so the design is:
 *
 * 1. A job lists only hosts not yet written. Each host that reached a terminal
 *    state is fetched and written in ONE PutLogEvents call (seed line, MTR
 *    reports, then the result/failure record carrying `recordId` =
 *    `<commandId>/<instanceId>`), so a host is either fully written or not.
 * 2. Only then is a follow-up job sent, holding the hosts still pending (and
 *    any whose write failed). The message succeeds after that.
 * 3. A crash between 1 and 2 redelivers the message (ApproximateReceiveCount
 *    > 1). A redelivered job, and every job descending from one (`suspect`,
 *    because the first delivery may already have sent its own follow-up), looks
 *    up each host's stream for its `recordId` before writing it and skips hosts
 *    already written. Suspect follow-ups also run a little later than the copy
 *    they shadow, so the copy writes first and the suspect one finds it.
 *
 * The look-up costs a GetLogEvents per host, which the normal path (first
 * delivery) never pays: GetLogEvents is throttled per account far below the
 * rate a 10,000-host fleet finishes at, so it cannot be the everyday check.
 */

import { mapLimit } from '../../common/concurrency.ts';
import type { LogSink, RecordLookup } from '../logs/log-writer.ts';
import { buildDeadlineRecord, buildInvocationRecords } from '../logs/records.ts';
import { sentResourcesOf } from '../logs/sent-resources.ts';
import type { RoundMetrics } from '../metrics/emit-metrics.ts';
import type { CommandTransport, InvocationState, JobQueue } from '../ports.ts';
import { type CollectJob, recordId as makeRecordId, nextDelaySeconds } from './job.ts';

export interface CollectPorts {
  transport: CommandTransport;
  queue: JobQueue;
  logs: LogSink;
  lookup: RecordLookup;
  metrics: RoundMetrics;
  now: () => number;
}

export interface CollectOptions {
  /** GetCommandInvocation / PutLogEvents calls in flight. */
  concurrency?: number;
  /** Extra delay of a suspect follow-up behind the copy it shadows. */
  suspectLagSeconds?: number;
  /** A chain longer than this is a bug (or a host stuck in a loop of failed writes): fail to the DLQ. */
  maxAttempts?: number;
}

export interface CollectResult {
  written: string[];
  /** Already in their stream (redelivery): not written again. */
  duplicates: string[];
  deadline: string[];
  followUp: { instanceIds: string[]; delaySeconds: number } | null;
}

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

type HostStep = 'written' | 'duplicate' | 'pending';

export async function collectCommand(
  ports: CollectPorts,
  job: CollectJob,
  delivery: { redelivered: boolean },
  options: CollectOptions = {},
): Promise<CollectResult> {
  const concurrency = options.concurrency ?? 16;
  const careful = delivery.redelivered || job.suspect === true;
  if (job.attempt > (options.maxAttempts ?? 200)) {
    throw new Error(`collect job for ${job.commandId} reached attempt ${job.attempt}; giving up to the DLQ`);
  }

  const listed = new Map<string, InvocationState>();
  for (const state of await ports.transport.listInvocations(job.commandId))
    listed.set(state.instanceId, state);

  const alreadyWritten = async (instanceId: string): Promise<boolean> =>
    careful &&
    (await ports.lookup.hasRecord(
      instanceId,
      job.dispatchedAt,
      `"recordId":"${makeRecordId(job.commandId, instanceId)}"`,
    ));

  const collectHost = async (instanceId: string): Promise<HostStep> => {
    const state = listed.get(instanceId);
    if (state === undefined || !isTerminal(state)) return 'pending';
    if (await alreadyWritten(instanceId)) return 'duplicate';
    let outputs: Awaited<ReturnType<CommandTransport['getInvocation']>> = null;
    try {
      outputs = await ports.transport.getInvocation(job.commandId, instanceId);
    } catch {
      // Throttled past the SDK's retries, or a transient fault: look again next time,
      // unless the plugin never ran (below) and there is nothing to fetch anyway.
    }
    if (outputs === null || !isTerminal(outputs)) {
      // An invocation that never reached the host has no plugin output to fetch:
      // GetCommandInvocation may answer InvocationDoesNotExist for good. The listing's
      // status is the whole record; waiting would only turn it into CollectorDeadline.
      if (!neverRan(state)) return 'pending';
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
      },
      makeRecordId(job.commandId, instanceId),
      ports.now(),
    );
    try {
      await ports.logs.write(instanceId, events);
    } catch {
      return 'pending';
    }
    if (outcome.kind === 'checked') ports.metrics.checked(outcome.measurement);
    else ports.metrics.failed(instanceId);
    return 'written';
  };

  const steps = await mapLimit(job.instanceIds, concurrency, collectHost);
  const result: CollectResult = { written: [], duplicates: [], deadline: [], followUp: null };
  let remaining: string[] = [];
  job.instanceIds.forEach((id, i) => {
    const step = steps[i];
    if (step === 'written') result.written.push(id);
    else if (step === 'duplicate') result.duplicates.push(id);
    else remaining.push(id);
  });

  const now = ports.now();
  if (remaining.length > 0 && now >= job.deadline) {
    const stillPending: string[] = [];
    await mapLimit(remaining, concurrency, async (instanceId) => {
      if (await alreadyWritten(instanceId)) {
        result.duplicates.push(instanceId);
        return;
      }
      const state = listed.get(instanceId);
      const events = buildDeadlineRecord(
        {
          instanceId,
          commandId: job.commandId,
          roundId: job.roundId,
          lastStatus: state === undefined ? 'NotListed' : recordStatus(state),
          deadline: job.deadline,
        },
        makeRecordId(job.commandId, instanceId),
        now,
      );
      try {
        await ports.logs.write(instanceId, events);
        ports.metrics.failed(instanceId);
        result.deadline.push(instanceId);
      } catch {
        stillPending.push(instanceId);
      }
    });
    remaining = stillPending;
  }

  if (remaining.length > 0) {
    const followUp: CollectJob = {
      ...job,
      instanceIds: remaining,
      attempt: job.attempt + 1,
      ...(careful ? { suspect: true } : {}),
    };
    const delaySeconds = nextDelaySeconds(job, now) + (careful ? (options.suspectLagSeconds ?? 30) : 0);
    await ports.queue.enqueue(followUp, delaySeconds);
    result.followUp = { instanceIds: remaining, delaySeconds };
  }
  return result;
}
