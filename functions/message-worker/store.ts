import type { Database } from '../../db/client.ts';
import { isDatabaseUnavailable } from '../../db/errors.ts';
import { messages } from '../../db/schema.ts';
import { createCoalescer } from './coalescer.ts';
import type { Write } from './coalescer.ts';
import type { SavedMessageEvent } from './event.ts';

/**
 * One coalescer per database handle rather than a module global: tests open several databases in
 * one process, and a statement must never mix the events of two of them.
 */
const writers = new WeakMap<Database, Write<SavedMessageEvent>>();

/**
 * Stores the message once per event id: a broker's redelivery of the same event is a no-op.
 * Concurrent deliveries share one multi-row INSERT (see createCoalescer); each resolves once the
 * statement holding its event committed, whether it added the row or found it already there.
 */
export function storeMessage(db: Database, event: SavedMessageEvent): Promise<void> {
  let write = writers.get(db);
  if (!write) {
    write = createCoalescer((events) => insertMessages(db, events), { failsWhole: isDatabaseUnavailable });
    writers.set(db, write);
  }
  return write(event);
}

async function insertMessages(db: Database, events: readonly SavedMessageEvent[]): Promise<void> {
  // The first of several deliveries of one id in a batch wins, as the first stored one wins later.
  const rows = new Map<string, typeof messages.$inferInsert>();
  for (const { id, message } of events) {
    if (!rows.has(id)) rows.set(id, { eventId: id, data: message.data, template: message.template });
  }
  await db.insert(messages).values([...rows.values()]).onConflictDoNothing({ target: messages.eventId });
}
