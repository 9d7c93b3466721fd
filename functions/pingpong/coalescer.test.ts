import { describe, expect, it } from 'vitest';
import { RequestDeadline } from '../../runtime/request-deadline.ts';
import { createBatcher } from './coalescer.ts';

/** A counter whose statements finish only when the test says so, recording each batch size. */
function controlledCounter() {
  let total = 0;
  const batches: number[] = [];
  const pending: { k: number; settle: (fail?: Error) => void }[] = [];
  const add = (k: number) =>
    new Promise<number>((resolve, reject) => {
      batches.push(k);
      pending.push({
        k,
        settle: (fail) => {
          if (fail) return reject(fail);
          total += k;
          resolve(total);
        },
      });
    });
  const finishNext = async (fail?: Error) => {
    while (pending.length === 0) await new Promise((resolve) => setImmediate(resolve));
    pending.shift()?.settle(fail);
  };
  return { add, batches, pending, finishNext, total: () => total };
}

describe('createBatcher', () => {
  it('coalesces concurrent requests into one statement and hands out contiguous numbers', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add);
    const first = Array.from({ length: 5 }, () => take());
    await counter.finishNext();
    expect(await Promise.all(first)).toEqual([1, 2, 3, 4, 5]);
    expect(counter.batches).toEqual([5]);
  });

  it('queues requests arriving during a statement for the next batch, one statement at a time', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add, { maxInFlight: 1 });
    const first = [take(), take()];
    while (counter.batches.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = Array.from({ length: 7 }, () => take());
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(counter.pending).toHaveLength(1);
    await counter.finishNext();
    await counter.finishNext();
    expect(await Promise.all(first)).toEqual([1, 2]);
    expect(await Promise.all(second)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(counter.batches).toEqual([2, 7]);
  });

  it('keeps two statements in flight and numbers each batch by its own total, whatever order replies come in', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add);
    const first = [take(), take()];
    while (counter.batches.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const second = Array.from({ length: 3 }, () => take());
    while (counter.batches.length < 2) await new Promise((resolve) => setImmediate(resolve));
    const third = [take()];
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(counter.batches).toEqual([2, 3]);
    // The database committed the second statement first: it holds 1..3, the first 4..5.
    counter.pending.splice(1, 1)[0]?.settle();
    expect(await Promise.all(second)).toEqual([1, 2, 3]);
    await counter.finishNext();
    expect(await Promise.all(first)).toEqual([4, 5]);
    await counter.finishNext();
    expect(await Promise.all(third)).toEqual([6]);
    expect(counter.batches).toEqual([2, 3, 1]);
  });

  it('caps the batch size', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add, { maxBatch: 3 });
    const all = Array.from({ length: 7 }, () => take());
    for (let i = 0; i < 3; i += 1) await counter.finishNext();
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(counter.batches).toEqual([3, 3, 1]);
  });

  it('rejects every waiter of a failed batch with its error, hands out no numbers, then recovers', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add);
    const failing = Array.from({ length: 4 }, () => take());
    const outage = new Error('connection terminated');
    await counter.finishNext(outage);
    const outcomes = await Promise.allSettled(failing);
    expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? outcome.reason : outcome.value))).toEqual([
      outage,
      outage,
      outage,
      outage,
    ]);
    const next = [take(), take(), take()];
    await counter.finishNext();
    expect(await Promise.all(next)).toEqual([1, 2, 3]);
    expect(counter.batches).toEqual([4, 3]);
  });

  it('rejects a request at its deadline while it waits behind a stuck batch, and reserves no number for it', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add, { maxInFlight: 1 });
    const stuck = take();
    while (counter.batches.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const deadline = new RequestDeadline();
    const queued = [take(deadline), take(deadline)];
    const patient = take();
    const timedOut = new Error('the database did not answer within 3000 ms');
    deadline.expire(timedOut);
    expect(await Promise.allSettled(queued)).toEqual([
      { status: 'rejected', reason: timedOut },
      { status: 'rejected', reason: timedOut },
    ]);
    await counter.finishNext();
    await counter.finishNext();
    expect([await stuck, await patient]).toEqual([1, 2]);
    // The next statement added 1, not 3: nothing was reserved for the two that gave up.
    expect(counter.batches).toEqual([1, 1]);
    await expect(take(deadline)).rejects.toBe(timedOut);
  });

  it('fails the waiters of a statement that outlives their deadline, and never hands out its numbers when it commits late', async () => {
    const counter = controlledCounter();
    const take = createBatcher(counter.add);
    const deadline = new RequestDeadline();
    const late = [take(deadline), take(deadline)];
    while (counter.batches.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const timedOut = new Error('the database did not answer within 3000 ms');
    deadline.expire(timedOut);
    expect((await Promise.allSettled(late)).map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    const next = take();
    while (counter.batches.length < 2) await new Promise((resolve) => setImmediate(resolve));
    // The stuck statement commits after all: it holds 1..2, which nobody may get now.
    await counter.finishNext();
    await counter.finishNext();
    expect(await next).toBe(3);
    expect(await Promise.allSettled(late)).toEqual([
      { status: 'rejected', reason: timedOut },
      { status: 'rejected', reason: timedOut },
    ]);
    expect(counter.total()).toBe(3);
  });

  it('treats a synchronous throw or a nonsensical total as a failed batch', async () => {
    const boom = new Error('boom');
    const throwing = createBatcher(() => {
      throw boom;
    });
    await expect(Promise.all([throwing(), throwing()])).rejects.toBe(boom);
    const lying = createBatcher(async () => 0);
    await expect(lying()).rejects.toThrow(/counter returned 0 after adding 1/);
  });

  it('batches under sustained concurrency against a counter with real latency', async () => {
    let total = 0;
    const batches: number[] = [];
    const take = createBatcher(async (k) => {
      batches.push(k);
      await new Promise((resolve) => setTimeout(resolve, 2));
      total += k;
      return total;
    });
    const numbers = await Promise.all(
      Array.from({ length: 500 }, async (_, i) => {
        await new Promise((resolve) => setTimeout(resolve, i % 20));
        return take();
      }),
    );
    expect([...numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(batches.length).toBeLessThan(100);
    expect(Math.max(...batches)).toBeGreaterThan(1);
  });
});
