/**
 * Bounded concurrency, shared by the agent (paths probed at once) and the
 * functions (AWS calls in flight: APIs throttle bursts, and a bounded pool plus
 * the SDK's adaptive retry keeps a 10,000-host round fast without a herd).
 *
 * Kept in-house, and bundled into the agent (Node 12.22): p-map 4 (CommonJS,
 * Node 10+) stops starting tasks after a rejection but rejects while the tasks
 * in flight still run, and p-limit 3 has no notion of stopping; both would need
 * the same bookkeeping as below to guarantee that nothing a caller started is
 * still running (and writing) once the caller has seen the result.
 */

/** Tells a running task that a sibling failed and it should stop at its next step. */
export interface StopSignal {
  readonly stopped: boolean;
}

/**
 * Runs `task` over `items` with at most `limit` in flight; results keep the
 * input order.
 *
 * On the first rejection no further task is started, `stop.stopped` turns
 * true for the tasks still running, and the returned promise settles only
 * after every started task has settled, rejecting with that first error. So
 * when the caller sees the outcome, no task of this call is still running.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number, stop: StopSignal) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`mapLimit limit ${String(limit)} is not allowed: an integer of at least 1`);
  }
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | null = null;
  const stop: StopSignal = {
    get stopped() {
      return failure !== null;
    },
  };
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, index, stop);
      } catch (error) {
        if (failure === null) failure = { error };
      }
    }
  };
  // Workers never reject, so this waits for every task that was started.
  await Promise.all(Array.from({ length: Math.min(limit, Math.max(1, items.length)) }, worker));
  const failed = failure as { error: unknown } | null;
  if (failed !== null) throw failed.error;
  return results;
}

/** A counting semaphore, for work that arrives while other work runs (the gateway's path). */
export class Semaphore {
  private available: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.available = size;
  }

  async use<R>(task: () => Promise<R>): Promise<R> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const wake = this.waiting.shift();
      if (wake) wake();
      else this.available++;
    }
  }
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
