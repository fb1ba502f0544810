/**
 * Notifier: EventBridge delivers the state changes of the stack's alarms
 * (stack/notify.ts scopes its rule to them); each becomes one notification on
 * the alarm topic with the latest round's evidence (./notify-alarm.ts).
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context } from 'aws-lambda';
import { createSqsClient, createSsmClient, RETRY } from '../aws/clients.ts';
import { createAlarmHistory } from './alarm-history.ts';
import { createDeadLetterPeek } from './dead-letters.ts';
import { createLogSearch } from './log-search.ts';
import { consoleNotifierLog, type NotifyOutcome, notifyAlarm } from './notify-alarm.ts';
import { loadNotifyConfig, type NotifyConfig } from './notify-config.ts';
import { createSnsPublisher } from './publish.ts';
import { createSsmUrlReader } from './webhook.ts';

// Reads only (FilterLogEvents, DescribeAlarmHistory): the SDK may retry them freely.
const logs = new CloudWatchLogsClient({ ...RETRY });
const cloudwatch = new CloudWatchClient({ ...RETRY });
const sns = new SNSClient({ ...RETRY });
const sqs = createSqsClient();
const ssm = createSsmClient();
let config: NotifyConfig | undefined;

export const handler = async (
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
): Promise<NotifyOutcome> => {
  config ??= loadNotifyConfig();
  return notifyAlarm(
    event,
    {
      logs: createLogSearch(logs),
      history: createAlarmHistory(cloudwatch),
      deadLetters: createDeadLetterPeek(sqs),
      publisher: createSnsPublisher(sns, config.topicArn),
      webhook:
        config.webhookParameter === null
          ? null
          : { readUrl: createSsmUrlReader(ssm), fetch: globalThis.fetch, now: Date.now, random: Math.random },
      log: consoleNotifierLog,
      now: Date.now,
    },
    config,
    context === undefined ? {} : { remainingMs: () => context.getRemainingTimeInMillis() },
  );
};
