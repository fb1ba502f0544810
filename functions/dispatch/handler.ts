/**
 * Scheduled dispatch: EventBridge invokes this every round.
 */
import type { Context, ScheduledEvent } from 'aws-lambda';
import {
  createDynamoDbClient,
  createEc2Client,
  createLogsClient,
  createSqsClient,
  createSsmClient,
} from '../aws/clients.ts';
import { createDynamoDbClaimStore } from '../aws/dynamodb-claims.ts';
import { createParameterStoreReader } from '../aws/parameter-store.ts';
import { createSqsJobQueue } from '../aws/sqs-queue.ts';
import { createSsmTransport } from '../aws/ssm-transport.ts';
import { type FunctionConfig, loadConfig } from '../config.ts';
import { discoverInstances, recheckInstances } from '../enrollment/discover-instances.ts';
import { createCloudWatchLogSink } from '../logs/log-writer.ts';
import { createEmfMetrics } from '../metrics/emit-metrics.ts';
import { type DispatchSummary, dispatchRound } from './dispatch-round.ts';
import { compactScheduledTime, roundClaimKey } from './round-claim.ts';

const ec2 = createEc2Client();
const ssm = createSsmClient();
const sqs = createSqsClient();
const logsClient = createLogsClient();
const dynamodb = createDynamoDbClient();
let config: FunctionConfig | undefined;
let logSink: ReturnType<typeof createCloudWatchLogSink> | undefined;

/**
 * Sortable, and stable for one event: a retried invocation of the same event
 * reuses the id. An event without a valid time (a manual invoke) takes the
 * current time.
 */
export function roundIdFor(
  event: Partial<Pick<ScheduledEvent, 'id' | 'time'>>,
  now: Date = new Date(),
): string {
  const time = compactScheduledTime(event.time) ?? (compactScheduledTime(now.toISOString()) as string);
  return `${time}-${(event.id ?? 'manual').slice(0, 8)}`;
}

export const handler = async (
  event: ScheduledEvent,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<DispatchSummary> => {
  config ??= loadConfig();
  logSink ??= createCloudWatchLogSink(logsClient, config.logGroupName);
  const cfg = config;
  const roundId = roundIdFor(event);
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
        claims: createDynamoDbClaimStore(dynamodb, cfg.claimsTableName),
        ...(context === undefined ? {} : { remainingMs: () => context.getRemainingTimeInMillis() }),
      },
      { ...cfg, roundId, roundClaimKey: roundClaimKey(event, roundId) },
    );
    if (summary.duplicateOf !== undefined) {
      // Not an error: EventBridge delivered the scheduled event twice, or it was invoked again.
      console.log(
        JSON.stringify({
          level: 'INFO',
          message: `round ${roundId} was already claimed by another invocation at ${new Date(summary.duplicateOf.claimedAt).toISOString()} (${summary.duplicateOf.finished ? 'finished' : 'not finished: still running, or it failed (see the dispatch-failing alarm)'}): this invocation sends nothing`,
          roundId,
          eventId: event.id,
          scheduledTime: event.time,
        }),
      );
    } else if (summary.enrolled === 0) {
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
