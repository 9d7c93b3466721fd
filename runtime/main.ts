import { ConfigError, loadConfig } from './config.ts';
import type { Config } from './config.ts';
import { flushLogs, redact, safeStack } from './logger.ts';
import { startServer } from './server.ts';
import { checkPortFree, explainStartupFailure } from './startup.ts';

/** Kept for the failure message: it names the database the failure was about. */
let config: Config | undefined;

/**
 * The process entry: `npm start` (every function on one port), `npm start -- --isolated` (each
 * function its own process, scaled to zero when idle) and each container (`FUNCTION=<name>`).
 * Nothing else reads the environment or listens.
 */
async function main(): Promise<void> {
  config = loadConfig();
  // Before anything opens or migrates a database: a busy port is the commonest second-start failure.
  // The functions load meanwhile (imported here, not at the top: a function folder that fails to
  // load, a name that does not match its folder, a route its docs miss, is then reported in one
  // line like any other start-up failure); the check mostly waits for the event loop.
  const [, { allFunctions }] = await Promise.all([checkPortFree(config.host, config.port), import('../functions/index.ts')]);
  const server = process.argv.includes('--isolated')
    ? // Loaded on demand: containers never run the gateway and need not parse it.
      await (await import('./isolated/index.ts')).startIsolated(config, allFunctions)
    : await startServer(config, allFunctions);

  // A dying idle connection or a stray rejection must not take down an instance serving others.
  process.on('unhandledRejection', (reason) => server.log.error('unhandled rejection', { error: reason }));

  const onSignal = (signal: NodeJS.Signals) => {
    server.log.info('signal received', { signal });
    // Log lines are written in batches: the last ones ("stopped") must reach stdout before exit.
    void server.stop().then(async ({ forced }) => {
      await flushLogs();
      process.exit(forced ? 1 : 0);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

main().catch(async (error: unknown) => {
  await flushLogs();
  if (error instanceof ConfigError) {
    process.stderr.write(`knfn: ${error.message}\n`);
  } else {
    // One line with the cause and the fix; the stack only helps whoever debugs the runtime itself.
    process.stderr.write(`knfn: ${explainStartupFailure(error, config?.database)}\n`);
    if (config?.logLevel === 'debug' && error instanceof Error) process.stderr.write(`${redact(safeStack(error))}\n`);
  }
  process.exit(1);
});
