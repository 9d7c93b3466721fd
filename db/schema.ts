import { bigint, pgTable, serial, timestamp } from 'drizzle-orm/pg-core';

/** The ping-pong counter: a single row (id 1) incremented by every answered `pong N`. */
export const pingCount = pgTable('ping_count', {
  id: serial('id').primaryKey(),
  count: bigint('count', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});
