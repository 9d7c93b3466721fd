import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { migrationsTable } from '../db/database.ts';
import { createTestDatabase } from '../test/support/postgres.ts';
import type { TestDatabase } from '../test/support/postgres.ts';
import { projectRoot } from './processes.ts';

export type { TestDatabase };

/**
 * A fresh database per scenario (the pattern the tests use; TEST_DATABASE_URL or DATABASE_URL
 * picks the server), migrated with the project's migrations and the counter row seeded, so the
 * naive baseline's plain UPDATE has a row and every scenario starts from 0.
 */
export async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase();
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await migrate(drizzle({ client }), { migrationsFolder: `${projectRoot}migrations`, ...migrationsTable });
    await client.query('insert into ping_count (id, count) values (1, 0) on conflict do nothing');
  } finally {
    await client.end();
  }
  return database;
}

export async function readCounter(database: TestDatabase): Promise<number> {
  const result = await database.query<{ count: string }>('select count from ping_count where id = 1');
  return Number(result.rows[0]?.count ?? 0);
}
