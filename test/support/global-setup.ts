import pg from 'pg';
import { adminUrl } from './postgres.ts';

/**
 * Vitest's global setup: creates the database the tests' admin connection uses (`test`, or the one
 * TEST_DATABASE_URL names) when the server lacks it, so `npm test` needs a running PostgreSQL and
 * nothing else. An unreachable server is left to the database tests, which fail saying so
 * (test/support/postgres.ts): they never skip, and the other tests still run.
 */
export default async function createTestDatabaseIfMissing(): Promise<void> {
  const target = new URL(adminUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (name === '' || name === 'postgres') return;
  const maintenance = new URL(adminUrl);
  maintenance.pathname = '/postgres';
  const client = new pg.Client({ connectionString: maintenance.toString(), connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch {
    return;
  }
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`create database ${client.escapeIdentifier(name)}`).catch((error: { code?: string }) => {
        // Another run created it meanwhile.
        if (error.code !== '42P04') throw error;
      });
      process.stdout.write(`test setup: created the database "${name}" on ${target.host}\n`);
    }
  } finally {
    await client.end();
  }
}
