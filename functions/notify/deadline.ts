/**
 * An abort signal that fires after `ms`, on a timer that keeps the process
 * alive until it fires or is cleared. (AbortSignal.timeout's timer does not:
 * a wait on nothing else but it would let the event loop run dry and the
 * invocation end with its promise unsettled.) Clear it when the work is done.
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(ms: number) {
    this.timer = setTimeout(
      () => this.controller.abort(new DOMException(`deadline of ${ms} ms passed`, 'TimeoutError')),
      Math.max(0, ms),
    );
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}
