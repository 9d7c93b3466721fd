import { openDatabase } from '../db/client.ts';
import { replayDeadLetters } from '../functions/dead-letters/replay.ts';
import { ConfigError, loadConfig } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';

/**
 * `npm run replay-dead-letters -- <target-url>`: re-publishes every dead letter not replayed yet to
 * the target (the Broker's address in the cluster; locally the worker, e.g.
 * http://localhost:8080/_events/message) and marks each replayed. DATABASE_URL as for the server.
 * Exits 1 when any event was refused, so a script can try again later.
 */
async function main(): Promise<number> {
  const target = process.argv[2] ?? process.env['K_SINK'];
  if (target === undefined || !/^https?:\/\//.test(target)) {
    process.stderr.write('usage: npm run replay-dead-letters -- <http(s) URL of the Broker or the worker> (or set K_SINK)\n');
    return 2;
  }
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel });
  const database = await openDatabase(config.database, log);
  try {
    const { replayed, failed } = await replayDeadLetters(database.db, target);
    for (const failure of failed) log.warn('dead letter not replayed', failure);
    log.info('dead letters replayed', { target, replayed: replayed.length, failed: failed.length });
    return failed.length === 0 ? 0 : 1;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`replay-dead-letters: ${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
