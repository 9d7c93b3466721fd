import type { DeadlineWatcher, RequestDeadline } from '../../runtime/request-deadline.ts';

/** Adds `k` to a counter in one committed statement and resolves with the new total. */
export type AddToCounter = (k: number) => Promise<number>;

/**
 * Hands out the next number; resolves only once the statement that reserved it has committed.
 * Rejects with `deadline.reason` once the request's deadline passes if it has no number yet.
 */
export type TakeNumber = (deadline?: RequestDeadline) => Promise<number>;

/** One request waiting for its number; it watches its deadline itself, so that costs no closure. */
interface Waiter extends DeadlineWatcher {
  resolve(value: number): void;
  reject(reason: unknown): void;
  deadline: RequestDeadline | undefined;
}

export interface BatcherOptions {
  /** Largest k of one statement. */
  maxBatch?: number;
  /**
   * Statements in flight at once. Two keep the database busy: the next batch is already waiting
   * for the row lock while the current one commits, instead of one network round trip later.
   */
  maxInFlight?: number;
}

/**
 * Coalesces concurrent increments of one counter into `count = count + k` statements, so a
 * process pays one row lock per batch instead of one per request. Each statement returns the new
 * total N, and the k waiters of that batch get N-k+1 .. N in arrival order. The database
 * serialises the statements, so numbers stay unique and gap-free across statements in flight and
 * across processes, whatever order the replies arrive in.
 *
 * Requests arriving while every slot is busy wait for the next batch, which is what makes batches
 * grow with load. A failed statement rejects every waiter of its batch with its error and hands
 * out no numbers; the next batch is tried afresh.
 *
 * A waiter whose deadline passes (its request's: a silent database, a stuck batch ahead of
 * it) is rejected at once. Still queued, it leaves the queue and no number is reserved for it. In a
 * batch already sent, its number is lost: the statement may commit after the request was answered
 * 503, and that number then goes to nobody. The counter skips it, which a reply lost on the
 * network does too; what can never happen is a number handed out twice, or handed out without its
 * statement having committed, because each batch is numbered by its own statement's total.
 */
export function createBatcher(add: AddToCounter, { maxBatch = 1000, maxInFlight = 2 }: BatcherOptions = {}): TakeNumber {
  let queue: Waiter[] = [];
  let inFlight = 0;
  let scheduled = false;

  const startBatch = () => {
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    inFlight += 1;
    const k = batch.length;
    // A synchronous throw from `add` must fail the batch like a rejection, not the caller.
    new Promise<number>((resolve) => resolve(add(k)))
      .then((total) => {
        if (!Number.isSafeInteger(total) || total < k) throw new Error(`counter returned ${total} after adding ${k}`);
        const first = total - k + 1;
        for (let i = 0; i < k; i += 1) {
          const waiter = batch[i] as Waiter;
          waiter.deadline?.unwatch(waiter);
          waiter.resolve(first + i);
        }
      })
      .catch((error: unknown) => {
        for (const waiter of batch) {
          waiter.deadline?.unwatch(waiter);
          waiter.reject(error);
        }
      })
      .finally(() => {
        inFlight -= 1;
        flush();
      });
  };

  const flush = () => {
    scheduled = false;
    while (inFlight < maxInFlight && queue.length > 0) startBatch();
  };

  function leaveAtDeadline(this: Waiter, reason: Error): void {
    const at = queue.indexOf(this);
    if (at >= 0) queue.splice(at, 1);
    this.reject(reason);
  }
  return function takeNumber(deadline) {
    if (deadline?.reason !== undefined) return Promise.reject(deadline.reason);
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, deadline, deadlinePassed: leaveAtDeadline };
      deadline?.watch(waiter);
      queue.push(waiter);
      // With a free slot, wait for the rest of this event-loop turn: requests parsed from the
      // same read of the sockets then share one statement instead of the first one going alone.
      if (inFlight < maxInFlight && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
}
