import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type * as schema from './schema.ts';

/** What handlers see as `c.var.db`: Drizzle over either driver, with the one shared schema. */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** Hooks the runtime uses to time every statement; both drivers call them. */
export interface QueryObserver {
  queryFinished(seconds: number, failed: boolean): void;
}

export interface DatabaseHandle {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Database;
  /** Resolves when the database answers `select 1` within `timeoutMs`; rejects otherwise. */
  ping(timeoutMs: number): Promise<void>;
  /** Applies the committed migrations; safe to run from several processes at once. */
  migrate(migrationsFolder: string): Promise<void>;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export interface DatabaseSize {
  database: string;
  bytes: number;
}

/** The connected database's name and size on disk; float8, so both drivers answer a number. */
export async function readDatabaseSize(db: Database): Promise<DatabaseSize> {
  const result = (await db.execute(
    sql`select current_database() as database, pg_database_size(current_database())::float8 as bytes`,
  )) as unknown as { rows: { database: string; bytes: number | string }[] };
  const row = result.rows[0];
  if (!row) throw new Error('pg_database_size returned no row');
  return { database: row.database, bytes: Number(row.bytes) };
}

export const migrationsTable = { migrationsSchema: 'drizzle', migrationsTable: '__drizzle_migrations' } as const;

/** Rejects with `error()` when `promise` has not settled after `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
