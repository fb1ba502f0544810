/**
 * Collector: SQS delivers collect jobs in batches; a job that fails is reported
 * in batchItemFailures so only it is retried (and, after the queue's
 * maxReceiveCount, lands in the dead-letter queue whose alarm pages someone).
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createLogsClient, createSqsClient, createSsmClient } from '../aws/clients.ts';
import { createSqsJobQueue } from '../aws/sqs-queue.ts';
import { createSsmTransport } from '../aws/ssm-transport.ts';
import { type FunctionConfig, loadConfig } from '../config.ts';
import { createCloudWatchLogSink } from '../logs/log-writer.ts';
import { createEmfMetrics } from '../metrics/emit-metrics.ts';
import { type CollectPorts, collectCommand } from './collect-command.ts';
import { parseCollectJob } from './job.ts';

const ssm = createSsmClient();
const sqs = createSqsClient();
const logsClient = createLogsClient();
let config: FunctionConfig | undefined;

/** Longest a job may take (throttled SSM calls with adaptive retry included). */
export const JOB_TIME_BUDGET_MS = 20_000;
let logSink: ReturnType<typeof createCloudWatchLogSink> | undefined;

/** The handler's logic with its ports injected (tested without module-scope clients). */
export async function collectBatch(
  event: SQSEvent,
  ports: Omit<CollectPorts, 'metrics'> & { metrics: CollectPorts['metrics'] },
  remainingMs: () => number = () => Number.POSITIVE_INFINITY,
): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    // A job cut off by the function timeout would be redelivered with the whole
    // batch after its follow-up job was already sent: two chains for one command.
    // A job is therefore only started with time to finish; the rest go back untouched.
    if (remainingMs() < JOB_TIME_BUDGET_MS) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    try {
      const job = parseCollectJob(record.body);
      const redelivered = Number(record.attributes.ApproximateReceiveCount ?? '1') > 1;
      await collectCommand(ports, job, { redelivered });
    } catch (error) {
      console.error(
        JSON.stringify({
          message: 'collect job failed; SQS will redeliver it',
          messageId: record.messageId,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        }),
      );
      batchItemFailures.push({ itemIdentifier: record.messageId });
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
        metrics,
        now: Date.now,
      },
      () => context.getRemainingTimeInMillis(),
    );
  } finally {
    metrics.flush();
  }
};
