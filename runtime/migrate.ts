import { openDatabase } from '../db/client.ts';
import { ConfigError, loadConfig } from './config.ts';
import { describeCause } from '../db/errors.ts';
import { createLogger, redact, safeStack } from './logger.ts';

/**
 * Applies the committed migrations and exits: the cluster's migration Job and `npm run migrate`.
 * Safe to run from several processes at once (an advisory lock serialises them).
 */
async function migrateAndExit(): Promise<void> {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, base: { task: 'migrate' } });
  const database = await openDatabase(config.database, log);
  try {
    await database.migrate(config.migrationsDir);
    log.info('migrations applied', { database: database.kind, folder: config.migrationsDir });
  } finally {
    await database.close();
  }
}

migrateAndExit().then(
  () => process.exit(0),
  (error: unknown) => {
    const message =
      error instanceof ConfigError ? error.message : error instanceof Error ? safeStack(error) : describeCause(error);
    process.stderr.write(`knfn migrate: ${redact(message)}\n`);
    process.exit(1);
  },
);
