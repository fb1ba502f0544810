/**
 * Job claims over the two stores: the DynamoDB table (aws-sdk-client-mock
 * answering as DynamoDB does, bench/fake-dynamodb.ts) and the memory store of
 * the local round. The same behaviour is asserted of both.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeTable } from '../../../bench/fake-dynamodb.ts';
import { CLAIMS_KEY_ATTRIBUTE, CLAIMS_TTL_ATTRIBUTE } from '../../../functions/aws/claims-table.ts';
import { createDynamoDbClient } from '../../../functions/aws/clients.ts';
import { createDynamoDbClaimStore } from '../../../functions/aws/dynamodb-claims.ts';
import {
  acquireJob,
  CLAIM_STALE_MS,
  CLAIM_TTL_SECONDS,
  ClaimLostError,
  type ClaimStore,
  commitJob,
  createMemoryClaimStore,
  wasClaimed,
} from '../../../functions/collect/job-claims.ts';
import { instanceId } from './fixtures.ts';

const ddbMock = mockClient(DynamoDBClient);
const T0 = Date.parse('2026-01-01T12:00:00Z');
const ids = Array.from({ length: 50 }, (_, i) => instanceId(i + 1));
const COMMAND = '0b6f2c1e-1111-4222-8333-944455556666';
const theJob = { key: `${COMMAND}/3`, instanceIds: ids };
const TABLE = 'cc-monitor-test-claims';

function awsError(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
  });
}

/** The DynamoDB store over a mocked client answering from a fake table. */
function dynamoStore(): { store: ClaimStore; table: FakeTable } {
  const table = new FakeTable(CLAIMS_KEY_ATTRIBUTE);
  ddbMock.on(PutItemCommand).callsFake((input) => table.put(input));
  ddbMock.on(UpdateItemCommand).callsFake((input) => table.update(input));
  ddbMock.on(GetItemCommand).callsFake((input) => table.get(input));
  return { store: createDynamoDbClaimStore(createDynamoDbClient({ region: 'eu-west-1' }), TABLE), table };
}

const stores: [string, () => { store: ClaimStore }][] = [
  ['the DynamoDB table', dynamoStore],
  ['the memory store', () => ({ store: createMemoryClaimStore() })],
];

for (const [name, make] of stores) {
  describe(`job claims over ${name}`, () => {
    beforeEach(() => ddbMock.reset());

    it('makes exactly one of several copies delivered at once the owner, and tells later ones what the commit left to do', async () => {
      // Prepare
      const { store } = make();
      // Act: three copies of one message (stored twice, delivered twice) arrive together.
      const acquired = await Promise.all([1, 2, 3].map(() => acquireJob(store, theJob, T0)));
      const owner = acquired.find((a) => a.kind === 'owner');
      assert.ok(owner?.kind === 'owner');
      await commitJob(store, theJob, owner, {
        instanceIds: [ids[40], ids[2]] as string[],
        verify: [ids[40]] as string[],
        failures: 2,
      });
      const later = await acquireJob(store, theJob, T0 + 1000);
      // Assess
      assert.deepEqual(acquired.map((a) => a.kind).sort(), ['busy', 'busy', 'owner']);
      assert.equal(owner.generation, 1);
      assert.equal(owner.careful, false);
      assert.deepEqual(later, {
        kind: 'committed',
        followUp: { instanceIds: [ids[2], ids[40]], verify: [ids[40]], failures: 2 },
      });
    });

    it('hands a copy back while the claim is live, and lets exactly one copy take over a stale one, carefully', async () => {
      const { store } = make();
      assert.equal((await acquireJob(store, theJob, T0)).kind, 'owner');
      const early = await acquireJob(store, theJob, T0 + CLAIM_STALE_MS - 1);
      // Two copies find the claim stale at the same moment.
      const late = await Promise.all([1, 2].map(() => acquireJob(store, theJob, T0 + CLAIM_STALE_MS + 1)));
      assert.deepEqual(early, { kind: 'busy', heldSinceMs: T0 });
      const taker = late.find((a) => a.kind === 'owner');
      assert.ok(taker?.kind === 'owner');
      assert.equal(taker.generation, 2);
      assert.equal(taker.careful, true, 'an earlier owner may have written hosts');
      assert.deepEqual(
        late.find((a) => a.kind !== 'owner'),
        {
          kind: 'busy',
          heldSinceMs: T0 + CLAIM_STALE_MS + 1,
        },
      );
    });

    it('refuses the commit of an owner that was taken over, and takes the taker-over commit', async () => {
      const { store } = make();
      const first = await acquireJob(store, theJob, T0);
      const second = await acquireJob(store, theJob, T0 + CLAIM_STALE_MS + 1);
      assert.ok(first.kind === 'owner' && second.kind === 'owner');
      await assert.rejects(commitJob(store, theJob, first, null), ClaimLostError);
      await commitJob(store, theJob, second, null);
      assert.deepEqual(await acquireJob(store, theJob, T0 + CLAIM_STALE_MS + 2), {
        kind: 'committed',
        followUp: null,
      });
    });

    it('takes a second commit of the same owner (an SDK retry after a lost answer) as done', async () => {
      const { store } = make();
      const owner = await acquireJob(store, theJob, T0);
      assert.ok(owner.kind === 'owner');
      await commitJob(store, theJob, owner, null);
      await commitJob(store, theJob, owner, null);
    });

    it('recognises its own claim when the create is repeated with its owner token', async () => {
      const { store } = make();
      const first = await acquireJob(store, theJob, T0, 'token-a');
      const again = await acquireJob(store, theJob, T0 + 5, 'token-a');
      assert.deepEqual(first, { kind: 'owner', generation: 1, owner: 'token-a', careful: false });
      assert.deepEqual(again, first);
    });

    it('says whether a follow-up was ever claimed, key by key', async () => {
      const { store } = make();
      const next = { key: `${COMMAND}/4`, instanceIds: ids };
      assert.equal(await wasClaimed(store, next.key), false);
      await acquireJob(store, next, T0);
      assert.equal(await wasClaimed(store, next.key), true);
      assert.equal(await wasClaimed(store, `${COMMAND}/40`), false);
    });
  });
}

describe('job claims in DynamoDB: the item and the calls', () => {
  beforeEach(() => ddbMock.reset());

  it('creates the claim with a conditional PutItem, commits with a conditional UpdateItem, and sets the TTL', async () => {
    // Prepare
    const { store, table } = dynamoStore();
    // Act
    const owner = await acquireJob(store, theJob, T0);
    assert.ok(owner.kind === 'owner');
    await commitJob(store, theJob, owner, { instanceIds: [ids[7]] as string[], verify: [], failures: 0 });
    // Assess
    const [put] = ddbMock.commandCalls(PutItemCommand);
    assert.equal(put?.args[0].input.TableName, TABLE);
    assert.equal(put?.args[0].input.ConditionExpression, 'attribute_not_exists(#pk)');
    assert.equal(put?.args[0].input.ReturnValuesOnConditionCheckFailure, 'ALL_OLD');
    const [update] = ddbMock.commandCalls(UpdateItemCommand);
    assert.match(update?.args[0].input.ConditionExpression ?? '', /#owner = :owner AND #committed = :false/);
    const item = table.items.get(`collect/${theJob.key}`);
    assert.deepEqual(item?.[CLAIMS_TTL_ATTRIBUTE], { N: String(T0 / 1000 + CLAIM_TTL_SECONDS) });
    assert.deepEqual(item?.committed, { BOOL: true });
    assert.deepEqual(item?.followUp, {
      M: { instanceIds: { L: [{ S: ids[7] }] }, verify: { L: [] }, failures: { N: '0' } },
    });
    assert.equal(ddbMock.commandCalls(GetItemCommand).length, 0, 'the everyday path reads nothing');
  });

  it('answers a duplicate from the item PutItem returns with its failed condition: one call, no read', async () => {
    const { store } = dynamoStore();
    await acquireJob(store, theJob, T0);
    ddbMock.resetHistory();
    const copy = await acquireJob(store, theJob, T0 + 10);
    assert.equal(copy.kind, 'busy');
    assert.equal(ddbMock.calls().length, 1);
  });

  it('lets throttling past the SDK retries through, so the job goes back to SQS', async () => {
    ddbMock.on(PutItemCommand).rejects(awsError('ThrottlingException', 'Rate of requests exceeds', 400));
    const store = createDynamoDbClaimStore(createDynamoDbClient({ region: 'eu-west-1' }), TABLE);
    await assert.rejects(acquireJob(store, theJob, T0), { name: 'ThrottlingException' });
  });

  it('lets a throttled commit through: the job stays uncommitted and a later copy takes it over', async () => {
    // Prepare: the first commit is throttled past the SDK's retries.
    const { store, table } = dynamoStore();
    let throttle = true;
    ddbMock.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
      if (throttle && input.UpdateExpression?.includes('#committed = :true')) {
        throttle = false;
        throw awsError('ProvisionedThroughputExceededException', 'slow down', 400);
      }
      return table.update(input);
    });
    const owner = await acquireJob(store, theJob, T0);
    assert.ok(owner.kind === 'owner');
    // Act
    await assert.rejects(commitJob(store, theJob, owner, null), {
      name: 'ProvisionedThroughputExceededException',
    });
    const copy = await acquireJob(store, theJob, T0 + CLAIM_STALE_MS + 1);
    // Assess
    assert.equal(copy.kind, 'owner');
    assert.equal(copy.kind === 'owner' && copy.careful, true);
  });

  it('refuses an item of another shape, or a follow-up naming hosts outside the job', async () => {
    const { store, table } = dynamoStore();
    table.items.set(`collect/${theJob.key}`, {
      pk: { S: `collect/${theJob.key}` },
      generation: { N: '1' },
      owner: { S: 'x' },
      claimedAt: { N: String(T0) },
      committed: { S: 'yes' },
    });
    await assert.rejects(acquireJob(store, theJob, T0), /committed is not a boolean/);
    table.items.set(`collect/${theJob.key}`, {
      pk: { S: `collect/${theJob.key}` },
      generation: { N: '1' },
      owner: { S: 'x' },
      claimedAt: { N: String(T0) },
      committed: { BOOL: true },
      followUp: {
        M: { instanceIds: { L: [{ S: 'i-0000000000000dead' }] }, verify: { L: [] }, failures: { N: '1' } },
      },
    });
    await assert.rejects(
      acquireJob(store, theJob, T0),
      /names hosts outside the job \(i-0000000000000dead\)/,
    );
  });
});
