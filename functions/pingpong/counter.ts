import { sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { pingCount } from '../../db/schema.ts';

const counterId = 1;

/**
 * Increments the counter and returns the new value, committed before it returns. The upsert is
 * atomic in PostgreSQL (concurrent callers queue on the row lock), so numbers are unique and
 * gap-free across any number of processes, and no seed row is needed.
 */
export async function nextPong(db: Database): Promise<number> {
  const [row] = await db
    .insert(pingCount)
    .values({ id: counterId, count: 1 })
    .onConflictDoUpdate({
      target: pingCount.id,
      set: { count: sql`${pingCount.count} + 1`, updatedAt: sql`now()` },
    })
    .returning({ count: pingCount.count });
  if (!row) throw new Error('counter upsert returned no row');
  return row.count;
}
