/**
 * Work a server owes but its first answer does not need (loading prom-client and the Redis client:
 * 50-70 ms of a function's start-up CPU with REDIS_URL set), run once that first answer is out: a request that
 * scaled a function from zero is answered before it. A server nobody asks runs it `idleMs` after
 * it listens. Work a request needs earlier (a rate-limited write, a scrape) starts it on demand.
 */
export interface DeferredStart {
  /** True until the work has been started. */
  readonly pending: boolean;
  /** The server listens: start the idle timer. */
  listening(): void;
  /** A request's answer: the work starts once it has settled and the event loop had its turn. */
  answered(answer: unknown): void;
}

export function deferUntilFirstAnswer(work: () => void, idleMs = 1000): DeferredStart {
  let pending = true;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    if (!pending) return;
    pending = false;
    clearTimeout(timer);
    work();
  };
  // After the response is written: node-server writes it in the same turn its promise settles.
  const soon = () => setImmediate(run);
  return {
    get pending() {
      return pending;
    },
    listening() {
      if (!pending) return;
      timer = setTimeout(run, idleMs);
      timer.unref();
    },
    answered(answer) {
      void Promise.resolve(answer).then(soon, soon);
    },
  };
}
