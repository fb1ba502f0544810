/**
 * Scheduled dispatch: EventBridge invokes this every round.
 */
import type { Context, ScheduledEvent } from 'aws-lambda';
import { createEc2Client, createLogsClient, createSqsClient, createSsmClient } from '../aws/clients.ts';
import { createParameterStoreReader } from '../aws/parameter-store.ts';
import { createSqsJobQueue } from '../aws/sqs-queue.ts';
import { createSsmTransport } from '../aws/ssm-transport.ts';
import { type FunctionConfig, loadConfig } from '../config.ts';
import { discoverInstances, recheckInstances } from '../enrollment/discover-instances.ts';
import { createCloudWatchLogSink } from '../logs/log-writer.ts';
import { createEmfMetrics } from '../metrics/emit-metrics.ts';
import { type DispatchSummary, dispatchRound } from './dispatch-round.ts';

const ec2 = createEc2Client();
const ssm = createSsmClient();
const sqs = createSqsClient();
const logsClient = createLogsClient();
let config: FunctionConfig | undefined;
let logSink: ReturnType<typeof createCloudWatchLogSink> | undefined;

/** Sortable, and stable for one event: a retried invocation of the same event reuses the id. */
export function roundIdFor(event: Pick<ScheduledEvent, 'id' | 'time'>): string {
  const time = (event.time ?? new Date().toISOString()).replace(/[-:]/g, '').replace(/\.\d+/, '');
  return `${time}-${(event.id ?? 'manual').slice(0, 8)}`;
}

export const handler = async (
  event: ScheduledEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<DispatchSummary> => {
  config ??= loadConfig();
  logSink ??= createCloudWatchLogSink(logsClient, config.logGroupName);
  const cfg = config;
  const metrics = createEmfMetrics({
    namespace: cfg.metricsNamespace,
    serviceName: cfg.serviceName,
    stage: cfg.stage,
    granularity: cfg.metricGranularity,
  });
  try {
    const summary = await dispatchRound(
      {
        inventory: {
          discover: () => discoverInstances({ ec2, ssm }, cfg),
          recheck: (instanceIds) => recheckInstances({ ec2, ssm }, instanceIds),
        },
        parameters: createParameterStoreReader(ssm),
        transport: createSsmTransport(ssm, {
          documentName: cfg.documentName,
          timeoutSeconds: cfg.commandTimeoutSeconds,
          pluginName: cfg.pluginName,
        }),
        queue: createSqsJobQueue(sqs, cfg.collectQueueUrl),
        logs: logSink,
        metrics,
        now: Date.now,
        ...(context === undefined ? {} : { remainingMs: () => context.getRemainingTimeInMillis() }),
      },
      { ...cfg, roundId: roundIdFor(event) },
    );
    if (summary.enrolled === 0) {
      // Not an error: a fresh stack. The blind alarm stays OK; this says why nothing is checked.
      console.log(
        JSON.stringify({
          level: 'INFO',
          message: `no running instance carries the tag ${cfg.tagKey}=${cfg.tagValue}: nothing to check this round (enroll hosts by tagging them)`,
          roundId: summary.roundId,
        }),
      );
    }
    return summary;
  } finally {
    metrics.flush();
  }
};
