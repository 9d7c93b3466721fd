/**
 * Work a server owes but no answer needs (loading prom-client and the Redis client: 50-70 ms of a
 * function's start-up CPU with REDIS_URL set). In the cluster a pod's first answers go to the
 * queue-proxy's readiness probes, and the requests that scaled it from zero are let through the
 * moment one succeeds: run then, the work would hold every one of them up. So it waits for a
 * user's request to be answered and for a moment with nothing in flight; at the latest it runs
 * `latestMs` after the server listens (a pod nobody asks, or a burst that never pauses). Work a
 * request needs earlier (a rate-limited write, a scrape) starts it on demand.
 */
export interface DeferredStart {
  /** True until the work has been started. */
  readonly pending: boolean;
  /** The server listens: start the timer that bounds the wait. */
  listening(): void;
  /**
   * A request is being answered. `probe`: the platform's own (a health probe, a scrape), which
   * does not count as a user's answer but is in flight like any other.
   */
  answering(answer: unknown, kind: 'user' | 'probe'): void;
}

export function deferUntilQuiet(work: () => void, latestMs = 1000): DeferredStart {
  let pending = true;
  let inFlight = 0;
  let userAnswered = false;
  let timer: NodeJS.Timeout | undefined;
  const run = () => {
    if (!pending) return;
    pending = false;
    clearTimeout(timer);
    work();
  };
  // A turn later, so the response is written first (node-server writes it in the turn its promise
  // settles), and only if no request arrived meanwhile: the next one to finish tries again.
  const runIfQuiet = () => {
    if (inFlight === 0) run();
  };
  return {
    get pending() {
      return pending;
    },
    listening() {
      if (!pending) return;
      timer = setTimeout(run, latestMs);
      timer.unref();
    },
    answering(answer, kind) {
      if (!pending) return;
      inFlight += 1;
      const settled = () => {
        inFlight -= 1;
        if (kind === 'user') userAnswered = true;
        if (userAnswered && inFlight === 0) setImmediate(runIfQuiet);
      };
      void Promise.resolve(answer).then(settled, settled);
    },
  };
}
