import { eq, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { pingCount, pingCounterId } from '../../db/schema.ts';
import { createBatcher } from './coalescer.ts';
import type { TakeNumber } from './coalescer.ts';
import type { RequestDeadline } from '../../runtime/request-deadline.ts';

/**
 * One batcher per database handle rather than a module global: tests open several databases in
 * one process, and a batch must never mix requests of two counters.
 */
const batchers = new WeakMap<Database, TakeNumber>();

/**
 * Increments the counter and returns this request's number, committed before it returns.
 * Concurrent callers in this process share one upsert (see createBatcher); across processes the
 * row lock serialises the upserts, so numbers are unique and gap-free everywhere, and no seed row
 * is needed. Rejects with `deadline.reason` once `deadline` passes before the number is committed.
 */
export function nextPong(db: Database, deadline?: RequestDeadline): Promise<number> {
  let take = batchers.get(db);
  if (!take) {
    const add = addToCounter(db);
    take = createBatcher(add);
    batchers.set(db, take);
  }
  return take(deadline);
}

/**
 * Adds `k` in one autocommit statement and returns the new total. The hot path is a prepared
 * UPDATE (parsed and planned once per connection, no query building per batch); only while the
 * row does not exist yet does it fall back to the upsert, which creates it.
 */
function addToCounter(db: Database): (k: number) => Promise<number> {
  const update = db
    .update(pingCount)
    .set({ count: sql`${pingCount.count} + ${sql.placeholder('k')}`, updatedAt: sql`now()` })
    .where(eq(pingCount.id, pingCounterId))
    .returning({ count: pingCount.count })
    .prepare('knfn_add_pongs');
  return async (k) => {
    const [row] = await update.execute({ k });
    return row ? row.count : upsertPongs(db, k);
  };
}

async function upsertPongs(db: Database, k: number): Promise<number> {
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
