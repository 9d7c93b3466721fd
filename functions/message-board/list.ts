import { desc, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { messages } from '../../db/schema.ts';
import { encodeCursor } from './cursor.ts';
import type { Cursor } from './cursor.ts';

export interface MessageItem {
  id: number;
  eventId: string;
  data: string;
  template: string;
  createdAt: Date;
}

export interface MessagePage {
  items: MessageItem[];
  nextCursor: string | null;
}

const createdAtMicros = sql<string>`(extract(epoch from ${messages.createdAt}) * 1000000)::bigint::text`;

/** One page, newest first, by keyset on (created_at, id) so new messages never shift older pages. */
export async function listMessages(db: Database, limit: number, after: Cursor | undefined): Promise<MessagePage> {
  const rows = await db
    .select({
      id: messages.id,
      eventId: messages.eventId,
      data: messages.data,
      template: messages.template,
      createdAt: messages.createdAt,
      micros: createdAtMicros,
    })
    .from(messages)
    .where(
      after
        ? sql`(${messages.createdAt}, ${messages.id}) < (timestamptz 'epoch' + ${after.micros}::bigint * interval '1 microsecond', ${after.id}::bigint)`
        : undefined,
    )
    .orderBy(desc(messages.createdAt), desc(messages.id))
    // One extra row tells whether an older page exists without a count query.
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextCursor = rows.length > limit && last ? encodeCursor({ micros: String(last.micros), id: String(last.id) }) : null;
  return { items: page.map(({ micros: _micros, ...item }) => item), nextCursor };
}
