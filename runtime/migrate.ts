import { openDatabase } from '../db/client.ts';
import { ConfigError, loadConfig } from './config.ts';
import type { Config } from './config.ts';
import { createLogger, flushLogs, logFormatter, redact, safeStack } from './logger.ts';
import { explainStartupFailure } from './startup.ts';
import { waitForDatabase } from './wait-for-database.ts';

/**
 * Applies the committed migrations and exits: the cluster's migration Job and `npm run migrate`.
 * Safe to run from several processes at once (an advisory lock serialises them).
 */
let config: Config | undefined;

async function migrateAndExit(): Promise<void> {
  config = loadConfig();
  const log = createLogger({ level: config.logLevel, format: await logFormatter(config.logFormat), base: { task: 'migrate' } });
  const database = await openDatabase(config.database, log);
  try {
    if (config.database.kind === 'postgres') {
      const { connectTimeoutMs, queryTimeoutMs } = config.database;
      await waitForDatabase(database, { waitMs: config.migrateWaitMs, pingTimeoutMs: connectTimeoutMs + queryTimeoutMs, log });
    }
    await database.migrate(config.migrationsDir);
    log.info('migrations applied', { database: database.kind, folder: config.migrationsDir });
  } finally {
    await database.close();
  }
}

// Log lines are written in batches: flushed before exit, or "migrations applied" could be lost.
migrateAndExit().then(
  async () => {
    await flushLogs();
    process.exit(0);
  },
  async (error: unknown) => {
    await flushLogs();
    const message = error instanceof ConfigError ? error.message : explainStartupFailure(error, config?.database);
    process.stderr.write(`knfn migrate: ${message}\n`);
    if (config?.logLevel === 'debug' && error instanceof Error) process.stderr.write(`${redact(safeStack(error))}\n`);
    process.exit(1);
  },
);
