import { mkdir } from 'node:fs/promises';
import { migrationsTable } from './database.ts';
import { lockPglite } from './pglite-lock.ts';
import type { Database, DatabaseHandle, QueryObserver } from './database.ts';
import * as schema from './schema.ts';
import type { PgliteSettings } from './settings.ts';

/**
 * The embedded PostgreSQL (PGlite, WebAssembly) used when no DATABASE_URL is set, persisted under
 * DATA_DIR so the counter survives a restart. Imported lazily: the wasm module is large and a
 * container talking to a real server must not pay for it at start-up.
 */
export async function openPglite(config: PgliteSettings, observer: QueryObserver): Promise<DatabaseHandle> {
  const [{ PGlite }, { drizzle }, { migrate }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  const inMemory = config.dataDir.startsWith('memory://');
  if (!inMemory) await mkdir(config.dataDir, { recursive: true });
  const lock = inMemory ? undefined : lockPglite(config.dataDir);
  let client: Awaited<ReturnType<typeof PGlite.create>>;
  try {
    client = await PGlite.create(inMemory ? undefined : config.dataDir);
  } catch (error) {
    lock?.release();
    throw error;
  }

  const originalQuery = client.query.bind(client);
  client.query = (async (...args: Parameters<typeof originalQuery>) => {
    const started = performance.now();
    try {
      const result = await originalQuery(...args);
      observer.queryFinished((performance.now() - started) / 1000, false);
      return result;
    } catch (error) {
      observer.queryFinished((performance.now() - started) / 1000, true);
      throw error;
    }
  }) as typeof client.query;

  const db = drizzle({ client, schema }) as unknown as Database;
  return {
    kind: 'pglite',
    db,
    ping: async () => {
      await client.query('select 1');
    },
    migrate: async (migrationsFolder) => {
      // One process owns a PGlite directory, so there is nobody to race with.
      await migrate(drizzle({ client, schema }), { migrationsFolder, ...migrationsTable });
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    close: async () => {
      await client.close();
      lock?.release();
    },
  };
}
