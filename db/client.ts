import type { DatabaseConfig } from '../runtime/config.ts';
import type { Logger } from '../runtime/logger.ts';
import type { DatabaseHandle, QueryObserver } from './database.ts';

export type { Database, DatabaseHandle, PoolStats, QueryObserver } from './database.ts';

const ignoreQueries: QueryObserver = { queryFinished: () => {} };

/** Opens the configured database: PostgreSQL over the Neon driver, or the embedded PGlite. */
export async function openDatabase(
  config: DatabaseConfig,
  log: Logger,
  observer: QueryObserver = ignoreQueries,
): Promise<DatabaseHandle> {
  if (config.kind === 'pglite') {
    const { openPglite } = await import('./pglite.ts');
    return openPglite(config, observer);
  }
  const { openNeon } = await import('./neon.ts');
  return openNeon(config, log, observer);
}
