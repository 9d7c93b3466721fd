import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { openDatabase } from '../db/client.ts';
import type { DatabaseHandle } from '../db/client.ts';
import { readDatabaseSize } from '../db/database.ts';
import { answerClientError } from './client-errors.ts';
import type { Config } from './config.ts';
import { ConfigError } from './config.ts';
import type { FunctionDefinition, RuntimeBindings } from './define-function.ts';
import { createLogger, logFormatter } from './logger.ts';
import type { Logger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createReadiness } from './readiness.ts';
import { createRequestStatsRecorder, postgresStatsWriter } from './request-stats.ts';
import type { RequestStatsRecorder } from './request-stats.ts';
import { createServerApp, isRuntimeEndpoint } from './server-app.ts';
import { deferUntilQuiet } from './deferred-start.ts';
import { compactWhenIdle } from './idle-compaction.ts';
import { createSharedState } from './shared-state.ts';
import type { SharedState } from './shared-state.ts';
import type { LocalBroker } from './local-broker/index.ts';

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
    format: await logFormatter(config.logFormat),
    base: {
      ...(config.service.name ? { service: config.service.name } : {}),
      ...(config.service.revision ? { revision: config.service.revision } : {}),
    },
  });
  const metrics = createMetrics();
  const shared = createSharedState({
    redis: config.redis,
    rateLimit: config.rateLimit,
    functions: functions.map((definition) => definition.name),
    log,
    registry: metrics.registry,
  });

  const servesDatabase = functions.some((definition) => definition.usesDatabase);
  let database: DatabaseHandle | undefined;
  if (servesDatabase) {
    database = await openDatabase(config.database, log, metrics);
    if (config.database.migrateOnStart) {
      await database.migrate(config.migrationsDir);
      log.info('migrations applied', { database: database.kind, folder: config.migrationsDir });
    }
  } else if (config.stats.enabled && config.database.kind === 'postgres') {
    // A function without database work (save, log-output) still records its requests, as it does
    // under `npm start`; one connection serves a flush every few seconds.
    database = await openDatabase({ ...config.database, poolMax: 1 }, log, metrics);
  }
  if (database) metrics.watchPool(database.poolStats);
  // Only a process serving the database reports its size: the statistics-only connection of save
  // or log-output would repeat the same number from more pods.
  if (database && servesDatabase) {
    const { db } = database;
    metrics.watchDatabaseSize(() => readDatabaseSize(db));
  }
  const readyTimeoutMs = config.database.kind === 'postgres' ? config.database.readyTimeoutMs : 1000;
  // Only a function that answers from the database is unready without it; statistics wait.
  const readiness = createReadiness(servesDatabase ? database : undefined, readyTimeoutMs);
  let requestStats: RequestStatsRecorder | undefined;
  if (database && config.stats.enabled) {
    requestStats = createRequestStatsRecorder({ write: postgresStatsWriter(database.db), log });
    requestStats.startFlushing(config.stats.flushIntervalMs);
  }
  // A statement may take the connect timeout to get a connection, then the query timeout to run.
  const databaseDeadlineMs =
    config.database.kind === 'postgres' ? config.database.connectTimeoutMs + config.database.queryTimeoutMs : undefined;
  const app = createServerApp({
    functions,
    readiness,
    database,
    log,
    metrics,
    requestStats,
    http: config.http,
    auth: config.auth,
    databaseDeadlineMs,
    shared,
  });
  const bindings: RuntimeBindings = { sink: config.sink, pingsUrl: config.pingsUrl, pingsTimeoutMs: config.pingsTimeoutMs };

  // The local broker needs this server's address, so it starts after listen; until it is up, a
  // request waits for it rather than finding no sink (a save would answer 503 sink_unavailable).
  let settingUp: Promise<unknown> | undefined;
  const compaction = compactWhenIdle({ log });
  const deferred = deferUntilQuiet(() => {
    void Promise.all([metrics.registry.load(), shared.start()]).finally(() => compaction.arm());
  });
  const server = await new Promise<Server>((resolve, reject) => {
    // node-server makes an env object for each request: the bindings join it rather than a copy.
    const answer = (request: Request, env: object) => app.fetch(request, Object.assign(env, bindings));
    const fetch = (request: Request, env: object) => {
      compaction.request();
      const answered = settingUp === undefined ? answer(request, env) : settingUp.then(() => answer(request, env));
      if (deferred.pending) deferred.answering(answered, isRuntimeEndpoint(request) ? 'probe' : 'user');
      return answered;
    };
    // Node checks these timeouts only every connectionsCheckingInterval (30 s by default), so a
    // slow or truncated body could hold a connection far past the limit without a shorter one.
    const serverOptions = {
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, config.requestTimeoutMs),
    };
    const created = serve({ fetch, port: config.port, hostname: config.host, serverOptions }, () =>
      resolve(created as Server),
    );
    created.once('error', reject);
  });
  server.on('error', (error) => log.error('server error', { error }));
  server.on('clientError', answerClientError);
  deferred.listening();
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  let broker: LocalBroker | undefined;
  const setUp = (async () => {
    const ownApp = (request: Request) => app.fetch(request, bindings);
    broker = bindings.sink === undefined ? await startLocalSink(config, functions, url, ownApp, log) : undefined;
    bindings.sink ??= broker?.url;
    bindings.pingsUrl ??= `${url}/pings`;
  })();
  settingUp = setUp;
  try {
    await setUp;
  } catch (error) {
    server.close();
    await database?.close().catch(() => undefined);
    await shared.close();
    throw error;
  } finally {
    settingUp = undefined;
  }
  log.info('listening', { url, functions: functions.map((definition) => definition.name), database: database?.kind ?? 'none' });

  let stopping: Promise<{ forced: boolean }> | undefined;
  const stop = () => {
    compaction.stop();
    stopping ??= shutDown(server, database, requestStats, config.shutdownTimeoutMs, log, broker, shared);
    return stopping;
  };
  return { url, port, log, stop };
}

/**
 * `npm start` has no Knative Broker: a local one stands in (runtime/local-broker/), keeping every
 * accepted event durably (a journal under DATA_DIR, or RabbitMQ at RABBITMQ_URL) until this
 * process's own worker stored it, across database outages and restarts. A container (FUNCTION
 * set) only ever publishes to K_SINK.
 */
async function startLocalSink(
  config: Config,
  functions: readonly FunctionDefinition[],
  url: string,
  app: (request: Request) => Response | Promise<Response>,
  log: Logger,
): Promise<LocalBroker | undefined> {
  const names = new Set(functions.map((definition) => definition.name));
  if (config.functions.length > 0 || !names.has('message-worker')) return undefined;
  // Loaded on demand: a container's bundle never runs it (esbuild splits it into its own chunk).
  const { localBrokerQueue, startLocalBroker } = await import('./local-broker/index.ts');
  return startLocalBroker({
    queue: localBrokerQueue(config),
    subscriber: `${url}/_events/message`,
    deadLetterSink: names.has('dead-letters') ? `${url}/_events/dead-letter` : undefined,
    // Both are this process's own routes: handed to its app without a loopback socket.
    app,
    log,
  });
}

async function shutDown(
  server: Server,
  database: DatabaseHandle | undefined,
  requestStats: RequestStatsRecorder | undefined,
  timeoutMs: number,
  log: Logger,
  broker?: LocalBroker,
  shared?: SharedState,
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
  // After the last save was accepted; events not yet delivered stay queued for the next start.
  await broker?.close().catch((error: unknown) => log.warn('closing the local broker failed', { error }));
  // After the last request finished, so its statistics are in the final flush.
  await requestStats?.close();
  await database?.close().catch((error: unknown) => log.warn('closing the database failed', { error }));
  // Last: the requests that finished in the grace period still used Redis.
  await shared?.close();
  log.info('stopped', { forced });
  return { forced };
}
