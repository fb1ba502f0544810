/**
 * SDK clients for the Lambda functions. Adaptive retry adds client-side rate
 * limiting on top of backoff, which is what SSM's unpublished, polling-sensitive
 * throttles need; 8 attempts ride out a throttling burst in a large round.
 *
 * CloudWatch Logs is the exception: PutLogEvents is not idempotent, and an SDK
 * retry after a lost response (a timeout, a 5xx) can store a host's records
 * twice. Its client retries only throttling (a throttled request did nothing);
 * any other failure reaches the caller, which treats the host as "may have been
 * written" and looks it up before writing it again (functions/collect).
 *
 * Each factory takes the config of a test double (region, credentials, a
 * request handler) on top of the production retry settings, so tests exercise
 * exactly these settings.
 */
import { CloudWatchLogsClient, type CloudWatchLogsClientConfig } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';

export const RETRY = { retryMode: 'adaptive', maxAttempts: 8 } as const;

/** Transport settings a test may replace; never the retry settings. */
type Overrides<C> = Omit<C, 'retryMode' | 'maxAttempts' | 'retryStrategy'>;

export const createEc2Client = (overrides: Overrides<EC2ClientConfig> = {}): EC2Client =>
  new EC2Client({ ...overrides, ...RETRY });
export const createSsmClient = (overrides: Overrides<SSMClientConfig> = {}): SSMClient =>
  new SSMClient({ ...overrides, ...RETRY });
export const createSqsClient = (overrides: Overrides<SQSClientConfig> = {}): SQSClient =>
  new SQSClient({ ...overrides, ...RETRY });
/**
 * The claim table's writes are conditional, so a retry after a lost answer
 * cannot apply twice: it fails its condition and the store recognises its own
 * write by the owner token (functions/aws/dynamodb-claims.ts).
 */
export const createDynamoDbClient = (overrides: Overrides<DynamoDBClientConfig> = {}): DynamoDBClient =>
  new DynamoDBClient({ ...overrides, ...RETRY });

type RetryStrategyV2 = Extract<
  NonNullable<CloudWatchLogsClientConfig['retryStrategy']>,
  { refreshRetryTokenForRetry: unknown }
>;

/** Error types of the SDK's retry classification that say the service refused to act. */
const NOTHING_HAPPENED = new Set(['THROTTLING']);

/**
 * The SDK's adaptive strategy (as a client with RETRY builds it), refusing to
 * retry anything but throttling. Refusing (throwing from refresh) makes the
 * SDK rethrow the original error, with its attempt count.
 */
function retryOnlyThrottling(base: () => Promise<RetryStrategyV2>): RetryStrategyV2 {
  let inner: RetryStrategyV2 | undefined;
  const strategy = async (): Promise<RetryStrategyV2> => {
    inner ??= await base();
    return inner;
  };
  return {
    async acquireInitialRetryToken(scope) {
      return (await strategy()).acquireInitialRetryToken(scope);
    },
    async refreshRetryTokenForRetry(token, errorInfo) {
      if (!NOTHING_HAPPENED.has(errorInfo.errorType)) {
        throw new Error(`${errorInfo.errorType} error not retried: the request may have taken effect`);
      }
      return (await strategy()).refreshRetryTokenForRetry(token, errorInfo);
    },
    recordSuccess(token) {
      inner?.recordSuccess(token);
    },
  } as RetryStrategyV2;
}

export function createLogsClient(
  overrides: Overrides<CloudWatchLogsClientConfig> = {},
): CloudWatchLogsClient {
  // The adaptive strategy a client with these settings builds, to wrap.
  const adaptive = new CloudWatchLogsClient({ ...overrides, ...RETRY }).config
    .retryStrategy as () => Promise<RetryStrategyV2>;
  return new CloudWatchLogsClient({ ...overrides, ...RETRY, retryStrategy: retryOnlyThrottling(adaptive) });
}
