import type { DatabaseHandle, QueryObserver } from './database.ts';
import type { DatabaseLog, DatabaseSettings } from './settings.ts';

export type { Database, DatabaseHandle, PoolStats, QueryObserver } from './database.ts';
export type { DatabaseLog, DatabaseSettings, PgliteSettings, PostgresSettings } from './settings.ts';

const ignoreQueries: QueryObserver = { queryFinished: () => {} };

/** Opens the configured database: PostgreSQL over the Neon driver, or the embedded PGlite. */
export async function openDatabase(
  config: DatabaseSettings,
  log: DatabaseLog,
  observer: QueryObserver = ignoreQueries,
): Promise<DatabaseHandle> {
  if (config.kind === 'pglite') {
    const { openPglite } = await import('./pglite.ts');
    return openPglite(config, observer);
  }
  const { openNeon } = await import('./neon.ts');
  return openNeon(config, log, observer);
}
