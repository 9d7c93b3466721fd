import type { AddressInfo } from 'node:net';
import { openDatabase } from '../../db/client.ts';
import { isNeonHost } from '../../db/neon.ts';
import { startWsBridge } from '../../db/ws-bridge.ts';
import type { WsBridge } from '../../db/ws-bridge.ts';
import type { Config } from '../config.ts';
import type { FunctionDefinition } from '../define-function.ts';
import { createLogger } from '../logger.ts';
import type { Logger } from '../logger.ts';
import { selectFunctions } from '../server.ts';
import { buildBundles } from './bundles.ts';
import { IsolatedConfigError } from './config.ts';
import { spawnFunction } from './function-process.ts';
import { createGateway } from './gateway.ts';
import { createInstance } from './instance.ts';
import type { Instance } from './instance.ts';
import { createRouteTable } from './route-table.ts';

export interface IsolatedRunner {
  readonly url: string;
  readonly log: Logger;
  /** Stops accepting, stops every function's process (each drains its requests), exits cleanly. */
  stop(): Promise<{ forced: boolean }>;
}

/**
 * `npm start -- --isolated`: every function in its own process from its production bundle behind
 * one port, started by its first request and stopped after ISOLATED_IDLE_MS without one - Knative's
 * scale-to-zero and cold starts without a cluster.
 */
export async function startIsolated(
  config: Config,
  available: readonly FunctionDefinition[],
  env: Record<string, string | undefined> = process.env,
): Promise<IsolatedRunner> {
  const { isolated } = config;
  if (config.database.kind !== 'postgres') {
    // PGlite is one in-process database; a socket server for it multiplexes every connection onto
    // one session, which breaks concurrent transactions (pingpong's counter).
    throw new IsolatedConfigError(
      '--isolated needs DATABASE_URL (a PostgreSQL server all function processes share), e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm start -- --isolated',
    );
  }
  const functions = selectFunctions(config, available);
  const log = createLogger({ level: config.logLevel });

  // One bridge for the gateway and every process, as the cluster has one wsproxy: the function
  // processes then take the cluster's WebSocket path (without it they would speak plain TCP).
  const databaseHost = new URL(config.database.url);
  let bridge: WsBridge | undefined;
  let wsProxy = config.database.wsProxy;
  if (wsProxy === undefined && !isNeonHost(config.database.url)) {
    bridge = await startWsBridge({ target: { host: databaseHost.hostname, port: Number(databaseHost.port || 5432) }, log });
    wsProxy = bridge.proxyAddress;
  }

  const buildStarted = performance.now();
  const [bundles] = await Promise.all([
    buildBundles(functions.map((definition) => definition.name), config.dataDir).then((built) => {
      log.info('bundles built', { ms: Math.round(performance.now() - buildStarted), functions: built.size });
      return built;
    }),
    migrateOnce(config, wsProxy, log),
  ]);

  let gatewayUrl = '';
  const childEnv = (name: string): Record<string, string | undefined> => ({
    ...env,
    FUNCTION: name,
    K_SERVICE: name,
    K_REVISION: `${name}-00001`,
    K_SINK: config.sink ?? `${gatewayUrl}/_events/message`,
    PINGS_URL: config.pingsUrl ?? `${gatewayUrl}/pings`,
    DATABASE_WS_PROXY: wsProxy,
    // The gateway migrated once; a function's start must stay a cold start, not a migration.
    MIGRATE_ON_START: 'false',
  });
  const instances = new Map<string, Instance>(
    functions.map((definition) => {
      const name = definition.name;
      const bundle = bundles.get(name) ?? '';
      const start = () => spawnFunction({ name, bundle, env: childEnv(name), startTimeoutMs: isolated.startTimeoutMs, log });
      return [name, createInstance({ name, start, idleMs: isolated.idleMs, stopGraceMs: config.shutdownTimeoutMs + 1000, log })];
    }),
  );

  const server = createGateway({ routes: createRouteTable(functions), instances, requestTimeoutMs: config.requestTimeoutMs, log });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  server.on('error', (error) => log.error('server error', { error }));
  const { port } = server.address() as AddressInfo;
  gatewayUrl = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info('listening', {
    url: gatewayUrl,
    mode: 'isolated',
    functions: [...instances.keys()],
    idleMs: isolated.idleMs,
  });

  let stopping: Promise<{ forced: boolean }> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down: stopping every function process');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      await Promise.all([...instances.values()].map((instance) => instance.close()));
      // Every process has answered what it accepted; give those answers a moment to pass through.
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
      clearInterval(sweep);
      server.closeAllConnections();
      await bridge?.close();
      log.info('stopped', { forced: false });
      return { forced: false };
    })();
    return stopping;
  };
  return { url: gatewayUrl, log, stop };
}

async function migrateOnce(config: Config, wsProxy: string | undefined, log: Logger): Promise<void> {
  if (config.database.kind !== 'postgres' || !config.database.migrateOnStart) return;
  const database = await openDatabase({ ...config.database, wsProxy }, log);
  try {
    await database.migrate(config.migrationsDir);
    log.info('migrations applied', { database: database.kind, folder: config.migrationsDir });
  } finally {
    await database.close();
  }
}
