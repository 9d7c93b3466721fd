import { bigint, bigserial, doublePrecision, index, integer, jsonb, pgTable, primaryKey, serial, text, timestamp } from 'drizzle-orm/pg-core';

/** The id of the one `ping_count` row; pingpong writes it and pings reads it. */
export const pingCounterId = 1;

/** The ping-pong counter: a single row (id `pingCounterId`) incremented by every answered `pong N`. */
export const pingCount = pgTable('ping_count', {
  id: serial('id').primaryKey(),
  count: bigint('count', { mode: 'number' }).notNull().default(0),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Named places for the time service; `name` is the REST key. */
export const locations = pgTable('locations', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  timezone: text('timezone').notNull(),
  description: text('description'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Saved messages of the event pipeline; `event_id` (the CloudEvent id) makes redelivery a no-op. */
export const messages = pgTable(
  'messages',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    eventId: text('event_id').notNull().unique(),
    data: text('data').notNull(),
    template: text('template').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (table) => [index('messages_newest_first').on(table.createdAt.desc(), table.id.desc())],
);

/**
 * Events a broker gave up on (its dead-letter sink, the `dead-letters` function), kept whole so they
 * can be inspected and replayed: `attributes` holds every CloudEvent context attribute and
 * extension (id, type, source, knativeerrorcode, ...), `data` the event's payload as received.
 * `replayed_at` is set once `npm run replay-dead-letters` re-published the event.
 */
export const deadLetters = pgTable('dead_letters', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  eventId: text('event_id').notNull().unique(),
  type: text('type').notNull(),
  source: text('source').notNull(),
  attributes: jsonb('attributes').$type<Record<string, string>>().notNull(),
  data: text('data'),
  /** The subscriber's last answer (Knative's `knativeerrorcode`), when the broker sent it. */
  errorCode: integer('error_code'),
  /** The subscriber's answer body (Knative's `knativeerrordata`, base64-decoded). */
  errorData: text('error_data'),
  receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  replayedAt: timestamp('replayed_at', { withTimezone: true }),
});

/**
 * Endpoint statistics in per-minute buckets. Each instance adds its in-memory aggregate with an
 * upsert, so any number of instances can flush into the same row. `latency_counts[i]` counts
 * requests at or under the i-th bound of the runtime's fixed latency bounds (the last is +Inf).
 */
export const requestStats = pgTable(
  'request_stats',
  {
    bucketStart: timestamp('bucket_start', { withTimezone: true }).notNull(),
    function: text('function').notNull(),
    method: text('method').notNull(),
    route: text('route').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull(),
    clientErrors: bigint('client_errors', { mode: 'number' }).notNull(),
    serverErrors: bigint('server_errors', { mode: 'number' }).notNull(),
    durationMsSum: doublePrecision('duration_ms_sum').notNull(),
    latencyCounts: bigint('latency_counts', { mode: 'number' }).array().notNull(),
    lastSeen: timestamp('last_seen', { withTimezone: true }).notNull(),
    /** Processes that served their first request of this function in this minute: cold starts. */
    processStarts: bigint('process_starts', { mode: 'number' }).notNull().default(0),
  },
  (table) => [primaryKey({ columns: [table.bucketStart, table.function, table.method, table.route] })],
);
