import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunk, mapLimit, Semaphore } from '../../../common/concurrency.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bounded concurrency', () => {
  it('mapLimit never runs more than the limit at once and keeps input order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([50, 10, 30, 20, 40, 5], 3, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
      return i;
    });
    assert.deepEqual(results, [0, 1, 2, 3, 4, 5]);
    assert.equal(peak, 3);
  });

  it('mapLimit starts no task after one rejected', async () => {
    // Prepare: 8 tasks, 2 at a time; the second fails at once.
    const started: number[] = [];
    // Act
    await assert.rejects(
      mapLimit([0, 1, 2, 3, 4, 5, 6, 7], 2, async (i) => {
        started.push(i);
        if (i === 1) throw new Error('task 1 failed');
        await sleep(20);
        return i;
      }),
      /task 1 failed/,
    );
    await sleep(100);
    // Assess: only the two first tasks ever started (the old pool went on to start the other 6).
    assert.deepEqual(started, [0, 1]);
  });

  it('mapLimit settles only after every started task has settled, and tells them to stop', async () => {
    // Prepare: task 0 is slow and still running when task 1 fails.
    const events: string[] = [];
    let stoppedSeenByTask0: boolean | undefined;
    // Act
    await mapLimit([0, 1], 2, async (i, _index, stop) => {
      if (i === 1) {
        await sleep(5);
        events.push('task 1 rejects');
        throw new Error('boom');
      }
      await sleep(60);
      stoppedSeenByTask0 = stop.stopped;
      events.push('task 0 done');
      return i;
    }).catch(() => events.push('caller sees the error'));
    // Assess
    assert.deepEqual(events, ['task 1 rejects', 'task 0 done', 'caller sees the error']);
    assert.equal(stoppedSeenByTask0, true);
  });

  it('mapLimit rejects with the first error when several tasks fail', async () => {
    await assert.rejects(
      mapLimit([30, 5, 10], 3, async (ms) => {
        await sleep(ms);
        throw new Error(`failed after ${ms} ms`);
      }),
      { message: 'failed after 5 ms' },
    );
  });

  it('mapLimit refuses a limit below 1 or not an integer, naming it', async () => {
    await assert.rejects(
      mapLimit([1], 0, async (x) => x),
      /limit 0 is not allowed/,
    );
    await assert.rejects(
      mapLimit([1], 1.5, async (x) => x),
      /limit 1.5 is not allowed/,
    );
  });

  it('mapLimit of no items resolves to an empty list without calling the task', async () => {
    let calls = 0;
    assert.deepEqual(
      await mapLimit([], 4, async () => {
        calls++;
      }),
      [],
    );
    assert.equal(calls, 0);
  });

  it('Semaphore releases its slot when a task throws', async () => {
    const pool = new Semaphore(1);
    await assert.rejects(pool.use(async () => Promise.reject(new Error('boom'))));
    assert.equal(await pool.use(async () => 'next'), 'next');
  });
});

describe('chunk', () => {
  it('splits 120 instance ids into SendCommand-sized pieces of at most 50', () => {
    const pieces = chunk(
      Array.from({ length: 120 }, (_, i) => i),
      50,
    );
    assert.deepEqual(
      pieces.map((p) => p.length),
      [50, 50, 20],
    );
    assert.deepEqual(
      pieces.flat(),
      Array.from({ length: 120 }, (_, i) => i),
    );
  });
});
