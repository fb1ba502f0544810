import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  DescribeLogStreamsCommand,
  ResourceAlreadyExistsException,
} from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import {
  acquireJob,
  CLAIM_STALE_MS,
  commitJob,
  createMemoryClaimStore,
  decodeMask,
  encodeMask,
  wasClaimed,
} from '../../../functions/collect/job-claims.ts';
import { createLogStreamClaimStore } from '../../../functions/logs/log-stream-claims.ts';
import { instanceId } from './fixtures.ts';

const logsMock = mockClient(CloudWatchLogsClient);
const T0 = Date.parse('2026-01-01T12:00:00Z');
const ids = Array.from({ length: 50 }, (_, i) => instanceId(i + 1));
const COMMAND = '0b6f2c1e-1111-4222-8333-944455556666';
const theJob = { key: `${COMMAND}/3`, instanceIds: ids };

/** CloudWatch Logs streams as the mocked SDK sees them: names are unique, creation times kept. */
function fakeLogGroup(now: () => number) {
  const streams = new Map<string, number>();
  logsMock.on(CreateLogStreamCommand).callsFake((input: { logStreamName: string }) => {
    if (streams.has(input.logStreamName))
      throw new ResourceAlreadyExistsException({
        message: 'The specified log stream already exists',
        $metadata: {},
      });
    streams.set(input.logStreamName, now());
    return {};
  });
  logsMock
    .on(DescribeLogStreamsCommand)
    .callsFake((input: { logStreamNamePrefix?: string; nextToken?: string; limit?: number }) => {
      const all = [...streams.entries()]
        .filter(([name]) => name.startsWith(input.logStreamNamePrefix ?? ''))
        .sort(([a], [b]) => a.localeCompare(b));
      const start = Number(input.nextToken ?? '0');
      const page = all.slice(start, start + 2);
      return {
        logStreams: page.map(([logStreamName, creationTime]) => ({ logStreamName, creationTime })),
        nextToken: start + 2 < all.length ? String(start + 2) : undefined,
      };
    });
  return streams;
}

describe('claim masks', () => {
  it('round-trips any subset of 50 hosts in job order, in at most 13 hexadecimal digits', () => {
    const subset = [ids[0], ids[17], ids[49]] as string[];
    const mask = encodeMask(ids, subset);
    assert.ok(mask.length <= 13);
    assert.deepEqual(decodeMask(ids, mask), subset);
    assert.deepEqual(decodeMask(ids, encodeMask(ids, ids)), ids);
    assert.equal(encodeMask(ids, []), '0');
    assert.throws(() => decodeMask(ids, 'xyz'), /claim mask "xyz" is not hexadecimal/);
  });
});

describe('job claims over CloudWatch Logs streams', () => {
  beforeEach(() => logsMock.reset());

  it('makes exactly one of several copies the owner, and tells the others what the commit left to do', async () => {
    // Prepare
    let clock = T0;
    const streams = fakeLogGroup(() => clock);
    const store = createLogStreamClaimStore(
      new CloudWatchLogsClient({ region: 'eu-west-1' }),
      '/aws/lambda/collect',
    );
    // Act: three copies arrive at once.
    const acquired = await Promise.all([1, 2, 3].map(() => acquireJob(store, theJob, clock)));
    const owner = acquired.find((a) => a.kind === 'owner');
    assert.ok(owner?.kind === 'owner');
    await commitJob(store, theJob, owner.generation, {
      instanceIds: [ids[2], ids[40]] as string[],
      verify: [ids[40]] as string[],
      failures: 2,
    });
    clock += 1000;
    const later = await acquireJob(store, theJob, clock);
    // Assess
    assert.deepEqual(acquired.map((a) => a.kind).sort(), ['busy', 'busy', 'owner']);
    assert.deepEqual(owner, { kind: 'owner', generation: 1, careful: false });
    assert.deepEqual(later, {
      kind: 'committed',
      followUp: { instanceIds: [ids[2], ids[40]], verify: [ids[40]], failures: 2 },
    });
    assert.deepEqual([...streams.keys()].sort(), [
      `collect-claims/${COMMAND}/3/claim-1`,
      `collect-claims/${COMMAND}/3/commit-1-${encodeMask(ids, [ids[2], ids[40]] as string[])}-${encodeMask(ids, [ids[40]] as string[])}-2`,
    ]);
    const names = logsMock.commandCalls(CreateLogStreamCommand).map((c) => c.args[0].input.logGroupName);
    assert.ok(
      names.every((n) => n === '/aws/lambda/collect'),
      'claims live in the collector log group',
    );
  });

  it('takes over a claim never committed once it is older than CLAIM_STALE_MS, as generation 2, carefully', async () => {
    let clock = T0;
    fakeLogGroup(() => clock);
    const store = createLogStreamClaimStore(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g');
    assert.equal((await acquireJob(store, theJob, clock)).kind, 'owner');
    clock += CLAIM_STALE_MS - 1;
    assert.equal((await acquireJob(store, theJob, clock)).kind, 'busy');
    clock += 2;
    assert.deepEqual(await acquireJob(store, theJob, clock), { kind: 'owner', generation: 2, careful: true });
    assert.equal((await acquireJob(store, theJob, clock)).kind, 'busy', 'only one copy takes over');
  });

  it('records a commit with no follow-up as none, and says whether a follow-up was ever claimed', async () => {
    fakeLogGroup(() => T0);
    const store = createLogStreamClaimStore(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g');
    await acquireJob(store, theJob, T0);
    await commitJob(store, theJob, 1, null);
    assert.deepEqual(await acquireJob(store, theJob, T0), { kind: 'committed', followUp: null });
    const next = { key: `${COMMAND}/4`, instanceIds: ids };
    assert.equal(await wasClaimed(store, next.key), false);
    await acquireJob(store, next, T0);
    assert.equal(await wasClaimed(store, next.key), true);
    assert.equal(await wasClaimed(store, `${COMMAND}/40`), false, 'attempt 4 is not a prefix of 40');
  });

  it('lets a CreateLogStream failure other than AlreadyExists through', async () => {
    logsMock
      .on(CreateLogStreamCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const store = createLogStreamClaimStore(new CloudWatchLogsClient({ region: 'eu-west-1' }), 'g');
    await assert.rejects(store.create('x'), /denied/);
  });
});

describe('createMemoryClaimStore', () => {
  it('behaves like the log stream store: one create wins, list filters by prefix', async () => {
    const store = createMemoryClaimStore(() => T0);
    assert.equal(await store.create('a/1'), true);
    assert.equal(await store.create('a/1'), false);
    await store.create('b/1');
    assert.deepEqual(await store.list('a/'), [{ name: 'a/1', createdAt: T0 }]);
  });
});
