import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server every database test uses; CI starts it (see .ci/run). Never skipped when absent. */
export const adminUrl = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  /** A plain node-postgres query against this database, for checking what the app wrote. */
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL for tests is not reachable at ${adminUrl} (${String(error)}). ` +
        'Start it (bash .ci/run does) or set TEST_DATABASE_URL; database tests never skip.',
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database of its own for one test file, so tests never share state. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `knfn_t_${randomBytes(6).toString('hex')}`;
  await admin((client) => client.query(`create database ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  // `drop database ... with (force)` kills idle connections; unhandled, that error fails the run.
  pool.on('error', () => {});
  return {
    url: url.toString(),
    name,
    query: (text, values) => pool.query(text, values),
    drop: async () => {
      await pool.end();
      await admin((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}
