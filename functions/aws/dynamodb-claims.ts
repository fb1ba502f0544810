/**
 * Claims (functions/collect/job-claims.ts) in a DynamoDB table, the standard
 * AWS idempotency store: one item per key, created with PutItem
 * `attribute_not_exists`, taken over and committed with UpdateItem under a
 * condition on the generation, owner and commit state. A write whose
 * condition fails answers with the item that stopped it
 * (ReturnValuesOnConditionCheckFailure ALL_OLD, no extra read), so claiming
 * costs one write in the everyday case and one more to commit.
 *
 * Items expire through the table's TTL attribute CLAIM_TTL_SECONDS after
 * their claim (stack/claims-table.ts declares the table: on-demand, TTL on,
 * no point-in-time recovery, deleted with the stack). Reads are strongly
 * consistent: a follow-up claimed a moment ago must be seen.
 *
 * Errors other than a failed condition (throttling past the SDK's retries,
 * AccessDenied) reach the caller: the job fails and SQS delivers it again.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CLAIM_TTL_SECONDS,
  type ClaimRecord,
  ClaimRecordError,
  type ClaimStamp,
  type ClaimStore,
  type FollowUpPlan,
} from '../collect/job-claims.ts';
import { CLAIMS_KEY_ATTRIBUTE, CLAIMS_TTL_ATTRIBUTE } from './claims-table.ts';

type Item = Record<string, AttributeValue>;

/** Attribute names, all through placeholders (`owner` is a DynamoDB reserved word). */
const NAMES = {
  '#pk': CLAIMS_KEY_ATTRIBUTE,
  '#generation': 'generation',
  '#owner': 'owner',
  '#claimedAt': 'claimedAt',
  '#committed': 'committed',
  '#followUp': 'followUp',
  '#expiresAt': CLAIMS_TTL_ATTRIBUTE,
};

const num = (n: number): AttributeValue => ({ N: String(n) });
const strings = (ids: readonly string[]): AttributeValue => ({ L: ids.map((S) => ({ S })) });

function expiresAt(claimedAt: number): AttributeValue {
  return num(Math.floor(claimedAt / 1000) + CLAIM_TTL_SECONDS);
}

function planValue(plan: FollowUpPlan): AttributeValue {
  return {
    M: { instanceIds: strings(plan.instanceIds), verify: strings(plan.verify), failures: num(plan.failures) },
  };
}

function bad(key: string, what: string): never {
  throw new ClaimRecordError(`claim item ${key}: ${what}`);
}

function integerOf(key: string, name: string, value: AttributeValue | undefined): number {
  const n = value?.N === undefined ? Number.NaN : Number(value.N);
  if (!Number.isSafeInteger(n) || n < 0) bad(key, `${name} is not a non-negative integer`);
  return n;
}

function stringsOf(key: string, name: string, value: AttributeValue | undefined): string[] {
  const list = value?.L;
  if (list === undefined) bad(key, `followUp.${name} is not a list`);
  return list.map((v) => (typeof v.S === 'string' ? v.S : bad(key, `followUp.${name} holds a non-string`)));
}

/** Reads an item of the table; anything but the shape this module writes is refused. */
export function claimRecordOf(key: string, item: Item): ClaimRecord {
  const generation = integerOf(key, 'generation', item.generation);
  if (generation < 1) bad(key, 'generation is below 1');
  const owner = item.owner?.S;
  if (owner === undefined || owner === '') bad(key, 'owner is missing');
  const committed = item.committed?.BOOL;
  if (committed === undefined) bad(key, 'committed is not a boolean');
  const plan = item.followUp?.M;
  return {
    generation,
    owner,
    claimedAt: integerOf(key, 'claimedAt', item.claimedAt),
    committed,
    followUp:
      plan === undefined
        ? null
        : {
            instanceIds: stringsOf(key, 'instanceIds', plan.instanceIds),
            verify: stringsOf(key, 'verify', plan.verify),
            failures: integerOf(key, 'followUp.failures', plan.failures),
          },
  };
}

/**
 * Runs a conditional write; on a failed condition answers with the item that
 * stopped it (null when there was none), else with the item written.
 */
async function conditional(key: string, write: () => Promise<Item | undefined>): Promise<ClaimRecord | null> {
  try {
    const written = await write();
    return written === undefined ? null : claimRecordOf(key, written);
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    return error.Item === undefined ? null : claimRecordOf(key, error.Item);
  }
}

export function createDynamoDbClaimStore(client: DynamoDBClient, tableName: string): ClaimStore {
  const keyOf = (key: string): Item => ({ [CLAIMS_KEY_ATTRIBUTE]: { S: key } });
  const names = (...used: (keyof typeof NAMES)[]) => Object.fromEntries(used.map((n) => [n, NAMES[n]]));
  return {
    async create(key, stamp: ClaimStamp) {
      const item: Item = {
        ...keyOf(key),
        generation: num(1),
        owner: { S: stamp.owner },
        claimedAt: num(stamp.claimedAt),
        committed: { BOOL: false },
        [CLAIMS_TTL_ATTRIBUTE]: expiresAt(stamp.claimedAt),
      };
      const stored = await conditional(key, async () => {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: names('#pk'),
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return item;
      });
      // A failed condition always carries the item that exists.
      return stored ?? bad(key, 'PutItem failed its condition but returned no item');
    },

    async takeOver(key, from, stamp) {
      return conditional(key, async () => {
        const answer = await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: keyOf(key),
            UpdateExpression:
              'SET #generation = :next, #owner = :owner, #claimedAt = :at, #expiresAt = :expires',
            ConditionExpression: '#generation = :from AND #committed = :false',
            ExpressionAttributeNames: names(
              '#generation',
              '#owner',
              '#claimedAt',
              '#expiresAt',
              '#committed',
            ),
            ExpressionAttributeValues: {
              ':next': num(from + 1),
              ':from': num(from),
              ':owner': { S: stamp.owner },
              ':at': num(stamp.claimedAt),
              ':expires': expiresAt(stamp.claimedAt),
              ':false': { BOOL: false },
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return answer.Attributes;
      });
    },

    async commit(key, generation, owner, followUp) {
      return conditional(key, async () => {
        const answer = await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: keyOf(key),
            UpdateExpression:
              followUp === null ? 'SET #committed = :true' : 'SET #committed = :true, #followUp = :plan',
            ConditionExpression: '#generation = :generation AND #owner = :owner AND #committed = :false',
            ExpressionAttributeNames: names(
              '#generation',
              '#owner',
              '#committed',
              ...(followUp === null ? [] : (['#followUp'] as const)),
            ),
            ExpressionAttributeValues: {
              ':generation': num(generation),
              ':owner': { S: owner },
              ':true': { BOOL: true },
              ':false': { BOOL: false },
              ...(followUp === null ? {} : { ':plan': planValue(followUp) }),
            },
            ReturnValues: 'ALL_NEW',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return answer.Attributes;
      });
    },

    async get(key) {
      const answer = await client.send(
        new GetItemCommand({ TableName: tableName, Key: keyOf(key), ConsistentRead: true }),
      );
      return answer.Item === undefined ? null : claimRecordOf(key, answer.Item);
    },
  };
}
