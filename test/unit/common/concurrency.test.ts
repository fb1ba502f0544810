import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chunk, mapLimit, Semaphore } from '../../../common/concurrency.ts';

describe('bounded concurrency', () => {
  it('mapLimit never runs more than the limit at once and keeps input order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([50, 10, 30, 20, 40, 5], 3, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      return i;
    });
    assert.deepEqual(results, [0, 1, 2, 3, 4, 5]);
    assert.equal(peak, 3);
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
