/**
 * Job claims (functions/collect/job-claims.ts) as empty CloudWatch Logs
 * streams: CreateLogStream is a create-if-absent (ResourceAlreadyExistsException
 * when the name exists), and DescribeLogStreams lists a key's markers with
 * their creation times. Streams cost nothing; they live in the collector's own
 * log group (AWS_LAMBDA_LOG_GROUP_NAME), not in the hosts' group, and go with
 * the stack.
 */
import {
  type CloudWatchLogsClient,
  CreateLogStreamCommand,
  paginateDescribeLogStreams,
} from '@aws-sdk/client-cloudwatch-logs';
import { awsErrorName } from '../aws/aws-errors.ts';
import type { ClaimStore } from '../collect/job-claims.ts';

export function createLogStreamClaimStore(client: CloudWatchLogsClient, logGroupName: string): ClaimStore {
  return {
    async create(name) {
      try {
        await client.send(new CreateLogStreamCommand({ logGroupName, logStreamName: name }));
        return true;
      } catch (error) {
        if (awsErrorName(error) === 'ResourceAlreadyExistsException') return false;
        throw error;
      }
    },
    async list(prefix) {
      const markers: { name: string; createdAt: number }[] = [];
      const pages = paginateDescribeLogStreams(
        { client, pageSize: 50 },
        { logGroupName, logStreamNamePrefix: prefix },
      );
      for await (const page of pages) {
        for (const stream of page.logStreams ?? []) {
          if (stream.logStreamName === undefined) continue;
          // Without a creation time the claim cannot be judged stale: treat it as live.
          markers.push({
            name: stream.logStreamName,
            createdAt: stream.creationTime ?? Number.POSITIVE_INFINITY,
          });
        }
      }
      return markers;
    },
  };
}
