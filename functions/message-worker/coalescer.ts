/** Writes every item in one statement; rejects when the statement failed (nothing of it committed). */
export type WriteAll<T> = (items: readonly T[]) => Promise<void>;

/** Resolves once `item` is written, in a statement shared with the items that came with it. */
export type Write<T> = (item: T) => Promise<void>;

export interface CoalescerOptions {
  /** Most items in one statement. */
  maxBatch?: number;
  /** Statements in flight at once; items arriving meanwhile wait for the next free one. */
  maxInFlight?: number;
  /**
   * True when a failed statement says nothing about its items (the database is unreachable): they
   * all fail with it. Otherwise a statement of several items is retried item by item, so one item
   * the database refuses fails alone rather than taking the rest of its batch with it.
   */
  failsWhole?: (error: unknown) => boolean;
}

interface Waiter<T> {
  item: T;
  resolve(): void;
  reject(reason: unknown): void;
}

/**
 * Coalesces concurrent writes into shared statements, so a burst of N deliveries costs a few
 * statements instead of N. Each caller still gets its own outcome: it resolves once the statement
 * holding its item committed, and rejects with that statement's error otherwise.
 *
 * Items arriving while every slot is busy wait for the next statement, which is what makes
 * batches grow with load; with a free slot, a statement waits for the rest of the event-loop turn
 * so that requests read from the sockets together share it.
 *
 * @example
 * const store = createCoalescer<Row>((rows) => db.insert(table).values([...rows]).then(() => undefined));
 * await store(row); // committed
 */
export function createCoalescer<T>(writeAll: WriteAll<T>, { maxBatch = 500, maxInFlight = 2, failsWhole = () => true }: CoalescerOptions = {}): Write<T> {
  let queue: Waiter<T>[] = [];
  let inFlight = 0;
  let scheduled = false;

  const run = async (batch: Waiter<T>[]) => {
    try {
      // A synchronous throw from `writeAll` fails the batch like a rejection.
      await Promise.resolve().then(() => writeAll(batch.map((waiter) => waiter.item)));
      for (const waiter of batch) waiter.resolve();
    } catch (error) {
      if (batch.length === 1 || failsWhole(error)) {
        for (const waiter of batch) waiter.reject(error);
        return;
      }
      await Promise.all(batch.map((waiter) => run([waiter])));
    }
  };

  const flush = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight += 1;
      void run(batch).finally(() => {
        inFlight -= 1;
        flush();
      });
    }
  };

  return function write(item) {
    return new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (inFlight < maxInFlight && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}
