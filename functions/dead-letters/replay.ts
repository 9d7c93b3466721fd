import type { Database } from '../../db/client.ts';
import { replayRequest } from './dead-letter.ts';
import { markReplayed, pendingDeadLetters } from './store.ts';

export interface ReplayResult {
  /** Event ids re-published (the target answered 2xx) and marked replayed. */
  replayed: string[];
  /** Event ids the target refused or did not answer; they stay pending for the next replay. */
  failed: Array<{ eventId: string; reason: string }>;
}

/**
 * Re-publishes every pending dead letter to `target` (the Broker's address, or a worker's event
 * path) and marks each replayed once the target accepted it. Running it again sends nothing new;
 * an event sent but not marked (a crash in between) is sent again, which the worker's
 * `ON CONFLICT (event_id)` makes harmless.
 */
export async function replayDeadLetters(
  db: Database,
  target: string,
  { batchSize = 100, timeoutMs = 10_000 }: { batchSize?: number; timeoutMs?: number } = {},
): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], failed: [] };
  let afterId = 0;
  for (;;) {
    const batch = await pendingDeadLetters(db, afterId, batchSize);
    if (batch.length === 0) return result;
    for (const letter of batch) {
      afterId = letter.id;
      const { headers, body } = replayRequest(letter);
      try {
        const response = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
        await response.body?.cancel();
        if (!response.ok) {
          result.failed.push({ eventId: letter.eventId, reason: `answered ${response.status}` });
          continue;
        }
      } catch (error) {
        result.failed.push({ eventId: letter.eventId, reason: error instanceof Error ? error.message : String(error) });
        continue;
      }
      if (await markReplayed(db, letter.id)) result.replayed.push(letter.eventId);
    }
  }
}
