import type { Database } from '../../db/client.ts';
import { messages } from '../../db/schema.ts';
import type { SavedMessageEvent } from './event.ts';

/** Stores the message once per event id: a broker's redelivery of the same event is a no-op. */
export async function storeMessage(db: Database, { id, message }: SavedMessageEvent): Promise<void> {
  await db
    .insert(messages)
    .values({ eventId: id, data: message.data, template: message.template })
    .onConflictDoNothing({ target: messages.eventId });
}
