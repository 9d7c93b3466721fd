import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { deadLetters } from '../../db/schema.ts';
import type { DeadLetter } from './dead-letter.ts';

/**
 * Stores a dead letter once per event id: the broker's redelivery of the same dead letter is a
 * no-op. An event dead-lettered again after a replay is armed again (replayed_at cleared, the new
 * error kept), so a replay that failed once more is not lost behind its first row.
 */
export async function storeDeadLetter(db: Database, letter: DeadLetter): Promise<void> {
  await db
    .insert(deadLetters)
    .values(letter)
    .onConflictDoUpdate({
      target: deadLetters.eventId,
      set: { replayedAt: null, errorCode: letter.errorCode, errorData: letter.errorData, receivedAt: sql`now()` },
      setWhere: sql`${deadLetters.replayedAt} is not null`,
    });
}

/** Up to `limit` dead letters not replayed yet, after row `afterId`, oldest first. */
export function pendingDeadLetters(db: Database, afterId: number, limit: number) {
  return db
    .select()
    .from(deadLetters)
    .where(and(isNull(deadLetters.replayedAt), gt(deadLetters.id, afterId)))
    .orderBy(asc(deadLetters.id))
    .limit(limit);
}

/** Marks one dead letter replayed; false when another replay marked it first. */
export async function markReplayed(db: Database, id: number): Promise<boolean> {
  const marked = await db
    .update(deadLetters)
    .set({ replayedAt: sql`now()` })
    .where(and(eq(deadLetters.id, id), isNull(deadLetters.replayedAt)))
    .returning({ id: deadLetters.id });
  return marked.length === 1;
}
