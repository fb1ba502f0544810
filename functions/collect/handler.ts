/**
 * Collector: SQS delivers collect jobs in batches; a job that fails is reported
 * in batchItemFailures so only it is retried (and, after the queue's
 * maxReceiveCount, lands in the dead-letter queue whose alarm pages someone).
 * A copy of a job that another copy owns right now is handed back the same
 * way and looks again after the visibility timeout.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createDynamoDbClient, createLogsClient, createSqsClient, createSsmClient } from '../aws/clients.ts';
import { createDynamoDbClaimStore } from '../aws/dynamodb-claims.ts';
import { createSqsJobQueue } from '../aws/sqs-queue.ts';
import { createSsmTransport } from '../aws/ssm-transport.ts';
import { type FunctionConfig, loadConfig } from '../config.ts';
import { createCloudWatchLogSink } from '../logs/log-writer.ts';
import { createEmfMetrics } from '../metrics/emit-metrics.ts';
import type { CollectOptions, CollectPorts } from './collect-command.ts';
import { consoleLog } from './host-writes.ts';
import { processJob, queuedJobKey } from './process-job.ts';
import { parseQueuedJob } from './records-job.ts';

const ssm = createSsmClient();
const sqs = createSqsClient();
const logsClient = createLogsClient();
const dynamodb = createDynamoDbClient();
let config: FunctionConfig | undefined;

/** Longest a job may take (throttled SSM calls with adaptive retry included). */
export const JOB_TIME_BUDGET_MS = 20_000;
let logSink: ReturnType<typeof createCloudWatchLogSink> | undefined;

/** The handler's logic with its ports injected (tested without module-scope clients). */
export async function collectBatch(
  event: SQSEvent,
  ports: CollectPorts,
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  options: CollectOptions = {},
): Promise<SQSBatchResponse> {
  const log = ports.log ?? consoleLog;
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    // A job cut off by the function timeout leaves a claim nobody commits; its
    // hosts wait until the claim goes stale. A job is therefore only started
    // with time to finish; the rest go back untouched.
    if (remainingMs() < JOB_TIME_BUDGET_MS) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    try {
      const job = parseQueuedJob(record.body);
      const result = await processJob(ports, job, options);
      if (result.outcome === 'busy') {
        log({
          level: 'info',
          message: 'collect job held by another copy; handed back to SQS',
          job: queuedJobKey(job),
          messageId: record.messageId,
          receiveCount: record.attributes.ApproximateReceiveCount,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    } catch (error) {
      log({
        level: 'error',
        message:
          'collect job failed; SQS will deliver it again (after maxReceiveCount: the dead-letter queue)',
        messageId: record.messageId,
        receiveCount: record.attributes.ApproximateReceiveCount,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } finally {
      // Per job, so a crash later in the batch cannot take this job's counts with it.
      ports.metrics.flush();
    }
  }
  return { batchItemFailures };
}

export const handler = async (
  event: SQSEvent,
  context: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<SQSBatchResponse> => {
  config ??= loadConfig();
  logSink ??= createCloudWatchLogSink(logsClient, config.logGroupName);
  const metrics = createEmfMetrics({
    namespace: config.metricsNamespace,
    serviceName: config.serviceName,
    stage: config.stage,
    granularity: config.metricGranularity,
  });
  try {
    return await collectBatch(
      event,
      {
        transport: createSsmTransport(ssm, {
          documentName: config.documentName,
          timeoutSeconds: config.commandTimeoutSeconds,
          pluginName: config.pluginName,
        }),
        queue: createSqsJobQueue(sqs, config.collectQueueUrl),
        logs: logSink,
        lookup: logSink,
        claims: createDynamoDbClaimStore(dynamodb, config.claimsTableName),
        metrics,
        now: Date.now,
      },
      () => context.getRemainingTimeInMillis(),
    );
  } finally {
    metrics.flush();
  }
};
