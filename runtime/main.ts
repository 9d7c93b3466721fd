import { allFunctions } from '../functions/index.ts';
import { ConfigError, loadConfig } from './config.ts';
import { describeCause } from '../db/errors.ts';
import { redact, safeStack } from './logger.ts';
import { startServer } from './server.ts';

/**
 * The process entry: `npm start` (every function on one port), `npm start -- --isolated` (each
 * function its own process, scaled to zero when idle) and each container (`FUNCTION=<name>`).
 * Nothing else reads the environment or listens.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const server = process.argv.includes('--isolated')
    ? // Loaded on demand: containers never run the gateway and need not parse it.
      await (await import('./isolated/index.ts')).startIsolated(config, allFunctions)
    : await startServer(config, allFunctions);

  // A dying idle connection or a stray rejection must not take down an instance serving others.
  process.on('unhandledRejection', (reason) => server.log.error('unhandled rejection', { error: reason }));

  const onSignal = (signal: NodeJS.Signals) => {
    server.log.info('signal received', { signal });
    void server.stop().then(({ forced }) => process.exit(forced ? 1 : 0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`knfn: ${error.message}\n`);
  } else {
    // By its cause: a failed migration's SQL, or `[object Object]` for a driver's error event, says nothing useful.
    const message = error instanceof Error ? safeStack(error) : describeCause(error);
    process.stderr.write(`knfn: start-up failed: ${redact(message)}\n`);
  }
  process.exit(1);
});
