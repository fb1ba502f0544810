/**
 * SDK clients for the Lambda functions. Adaptive retry adds client-side rate
 * limiting on top of backoff, which is what SSM's unpublished, polling-sensitive
 * throttles need; 8 attempts ride out a throttling burst in a large round.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

export const RETRY = { retryMode: 'adaptive', maxAttempts: 8 } as const;

export const createEc2Client = (): EC2Client => new EC2Client(RETRY);
export const createSsmClient = (): SSMClient => new SSMClient(RETRY);
export const createSqsClient = (): SQSClient => new SQSClient(RETRY);
export const createLogsClient = (): CloudWatchLogsClient => new CloudWatchLogsClient(RETRY);
