/**
 * One message of the collect queue, whichever kind: a command's results
 * (collect-command.ts) or records dispatch handed over (records-job.ts).
 */
import {
  type CollectOptions,
  type CollectPorts,
  type CollectResult,
  collectCommand,
} from './collect-command.ts';
import { jobKey } from './job.ts';
import { isRecordsJob, type QueuedJob, recordsJobKey, writeRecordsJob } from './records-job.ts';

export function queuedJobKey(job: QueuedJob): string {
  return isRecordsJob(job) ? recordsJobKey(job) : jobKey(job);
}

export async function processJob(
  ports: CollectPorts,
  job: QueuedJob,
  options: CollectOptions = {},
): Promise<CollectResult> {
  if (isRecordsJob(job)) {
    const result = await writeRecordsJob(ports, job, options);
    return { ...result, deadline: [] };
  }
  return collectCommand(ports, job, options);
}
