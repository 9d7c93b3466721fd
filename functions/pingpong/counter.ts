import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { pingCount, pingCounterId } from '../../db/schema.ts';
import { createBatcher } from './coalescer.ts';
import type { TakeNumber } from './coalescer.ts';

/**
 * One batcher per database handle rather than a module global: tests open several databases in
 * one process, and a batch must never mix requests of two counters.
 */
const batchers = new WeakMap<Database, TakeNumber>();

/**
 * Increments the counter and returns this request's number, committed before it returns.
 * Concurrent callers in this process share one upsert (see createBatcher); across processes the
 * row lock serialises the upserts, so numbers are unique and gap-free everywhere, and no seed row
 * is needed.
 */
export function nextPong(db: Database): Promise<number> {
  let take = batchers.get(db);
  if (!take) {
    take = createBatcher((k) => addPongs(db, k));
    batchers.set(db, take);
  }
  return take();
}

/** Adds `k` in one autocommit statement and returns the new total. */
async function addPongs(db: Database, k: number): Promise<number> {
  const [row] = await db
    .insert(pingCount)
    .values({ id: pingCounterId, count: k })
    .onConflictDoUpdate({
      target: pingCount.id,
      set: { count: sql`${pingCount.count} + ${k}`, updatedAt: sql`now()` },
    })
    .returning({ count: pingCount.count });
  if (!row) throw new Error('counter upsert returned no row');
  return row.count;
}
