import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { openDatabase } from '../db/client.ts';
import type { DatabaseHandle } from '../db/client.ts';
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';
import type { FunctionDefinition } from './define-function.ts';
import { createLogger } from './logger.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createReadiness } from './readiness.ts';
import { createServerApp } from './server-app.ts';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly log: Logger;
  /** Stops accepting, lets in-flight requests finish (bounded by SHUTDOWN_TIMEOUT_MS), closes the pool. */
  stop(): Promise<{ forced: boolean }>;
}

/** Picks the functions named by FUNCTION (all when unset), failing on an unknown name. */
export function selectFunctions(config: Config, available: readonly FunctionDefinition[]): FunctionDefinition[] {
  if (config.functions.length === 0) return [...available];
  const known = new Map(available.map((definition) => [definition.name, definition]));
  const unknown = config.functions.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new ConfigError([
      `FUNCTION: unknown function ${unknown.map((name) => `"${name}"`).join(', ')}; known: ${[...known.keys()].join(', ')}`,
    ]);
  }
  return config.functions.map((name) => known.get(name) as FunctionDefinition);
}

export async function startServer(config: Config, available: readonly FunctionDefinition[]): Promise<RunningServer> {
  const functions = selectFunctions(config, available);
  const log = createLogger({
    level: config.logLevel,
    base: {
      ...(config.service.name ? { service: config.service.name } : {}),
      ...(config.service.revision ? { revision: config.service.revision } : {}),
    },
  });
  const metrics = createMetrics();

  let database: DatabaseHandle | undefined;
  if (functions.some((definition) => definition.usesDatabase)) {
    database = await openDatabase(config.database, log, metrics);
    metrics.watchPool(database.poolStats);
    if (config.database.migrateOnStart) {
      await database.migrate(config.migrationsDir);
      log.info('migrations applied', { database: database.kind, folder: config.migrationsDir });
    }
  }
  const readyTimeoutMs = config.database.kind === 'postgres' ? config.database.readyTimeoutMs : 1000;
  const readiness = createReadiness(database, readyTimeoutMs);
  const app = createServerApp({ functions, readiness, database, log, metrics });

  const server = await new Promise<Server>((resolve, reject) => {
    const created = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => resolve(created as Server));
    created.once('error', reject);
  });
  server.on('error', (error) => log.error('server error', { error }));
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  log.info('listening', { url, functions: functions.map((definition) => definition.name), database: database?.kind ?? 'none' });

  let stopping: Promise<{ forced: boolean }> | undefined;
  const stop = () => {
    stopping ??= shutDown(server, database, config.shutdownTimeoutMs, log);
    return stopping;
  };
  return { url, port, log, stop };
}

async function shutDown(
  server: Server,
  database: DatabaseHandle | undefined,
  timeoutMs: number,
  log: Logger,
): Promise<{ forced: boolean }> {
  log.info('shutting down: no new connections, finishing in-flight requests', { timeoutMs });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive sockets go idle after their last response; close them as soon as they do so the
  // server can finish without waiting out the keep-alive timeout.
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const forced = await Promise.race([
    closed.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearInterval(sweep);
  clearTimeout(timer);
  if (forced) {
    log.warn('shutdown timeout reached; closing remaining connections');
    server.closeAllConnections();
  }
  await database?.close().catch((error: unknown) => log.warn('closing the database failed', { error }));
  log.info('stopped', { forced });
  return { forced };
}
