/** Adds `k` to a counter in one committed statement and resolves with the new total. */
export type AddToCounter = (k: number) => Promise<number>;

/** Hands out the next number; resolves only once the statement that reserved it has committed. */
export type TakeNumber = () => Promise<number>;

interface Waiter {
  resolve(value: number): void;
  reject(reason: unknown): void;
}

/**
 * Coalesces concurrent increments of one counter into a single `count = count + k` statement, so
 * a process pays one row lock per batch instead of one per request. The statement returns the new
 * total N, and the k waiters of that batch get N-k+1 .. N in arrival order; since the database
 * serialises the statements, numbers stay unique and gap-free across processes too.
 *
 * At most one statement is in flight: requests arriving meanwhile wait for the next batch, which
 * is what makes batches grow with load. A failed statement rejects every waiter of its batch with
 * its error and hands out no numbers; the next batch is tried afresh.
 */
export function createBatcher(add: AddToCounter, maxBatch = 1000): TakeNumber {
  let queue: Waiter[] = [];
  let inFlight = false;
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    if (inFlight || queue.length === 0) return;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    inFlight = true;
    const k = batch.length;
    // A synchronous throw from `add` must fail the batch like a rejection, not the caller.
    new Promise<number>((resolve) => resolve(add(k)))
      .then((total) => {
        if (!Number.isSafeInteger(total) || total < k) throw new Error(`counter returned ${total} after adding ${k}`);
        batch.forEach((waiter, i) => waiter.resolve(total - k + 1 + i));
      })
      .catch((error: unknown) => {
        for (const waiter of batch) waiter.reject(error);
      })
      .finally(() => {
        inFlight = false;
        flush();
      });
  };

  return function takeNumber() {
    return new Promise<number>((resolve, reject) => {
      queue.push({ resolve, reject });
      // When idle, wait for the rest of this event-loop turn: requests parsed from the same read
      // of the sockets then share the first statement instead of the first one going alone.
      if (!inFlight && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}
