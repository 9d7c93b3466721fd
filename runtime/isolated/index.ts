import { openDatabase } from '../../db/client.ts';
import { isNeonHost } from '../../db/neon.ts';
import { startWsBridge } from '../../db/ws-bridge.ts';
import type { WsBridge } from '../../db/ws-bridge.ts';
import type { Config } from '../config.ts';
import type { FunctionDefinition } from '../define-function.ts';
import { publicRoutes } from '../gateway/public-routes.ts';
import { createLogger, logFormatter } from '../logger.ts';
import type { Logger } from '../logger.ts';
import { selectFunctions } from '../server.ts';
import { buildBundles } from './bundles.ts';
import { IsolatedConfigError } from './config.ts';
import { containerEnv, loadManifestScript, localRedis } from './container-env.ts';
import type { LocalCluster } from './container-env.ts';
import { spawnFunction } from './function-process.ts';
import { leaseTransport } from './delivery.ts';
import { createInstance } from './instance.ts';
import type { Instance } from './instance.ts';
import { startPublicGateway } from './public-gateway.ts';
import { startActivatorPort } from './passthrough.ts';
import { localBrokerQueue, startLocalBroker } from '../local-broker/index.ts';
import type { LocalBroker } from '../local-broker/index.ts';

export interface IsolatedRunner {
  readonly url: string;
  readonly log: Logger;
  /** Stops accepting, stops every function's process (each drains its requests), exits cleanly. */
  stop(): Promise<{ forced: boolean }>;
}

/**
 * `npm start -- --isolated`: the cluster's topology on one machine. Each function runs from its
 * production bundle with its container's environment, behind its own activator port (its
 * cluster-local address: started by its first request, stopped after ISOLATED_IDLE_MS without
 * one), and the public port is the generated gateway in front of them all.
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
  const log = createLogger({ level: config.logLevel, format: await logFormatter(config.logFormat) });
  const manifests = await loadManifestScript();

  // One bridge for every process, as the cluster has one wsproxy: the function processes then take
  // the cluster's WebSocket path (without it they would speak plain TCP).
  let bridge: WsBridge | undefined;
  let wsProxy = config.database.wsProxy;
  if (wsProxy === undefined && !isNeonHost(config.database.url)) {
    const databaseHost = new URL(config.database.url);
    bridge = await startWsBridge({ target: { host: databaseHost.hostname, port: Number(databaseHost.port || 5432) }, log });
    wsProxy = bridge.proxyAddress;
  }

  const buildStarted = performance.now();
  const [bundles] = await Promise.all([
    buildBundles(functions.map((definition) => definition.name), config.dataDir).then((built) => {
      log.info('bundles built', { ms: Math.round(performance.now() - buildStarted), functions: built.size });
      return built;
    }),
    migrateOnce(config, log),
  ]);

  // Known once every activator listens; no process starts before a request, so none reads it early.
  let local: LocalCluster | undefined;
  const instances = new Map<string, Instance>(
    functions.map((definition) => {
      const name = definition.name;
      const start = () => {
        if (local === undefined) throw new Error('a function started before the local cluster was ready');
        // The user's environment (LOG_LEVEL, STATS_*, ...) under the container's own, as a local
        // override of what a ConfigMap would set; what the manifest sets always wins.
        // Their stdout is a pipe to this process: they log in the format this process chose.
        const childEnv = { ...env, LOG_FORMAT: config.logFormat, ...containerEnv(manifests, definition, local) };
        return spawnFunction({ name, bundle: bundles.get(name) ?? '', env: childEnv, startTimeoutMs: isolated.startTimeoutMs, log });
      };
      return [name, createInstance({ name, start, idleMs: isolated.idleMs, stopGraceMs: config.shutdownTimeoutMs + 1000, log })];
    }),
  );

  const activators = await Promise.all(
    [...instances.values()].map(async (instance) => {
      const port = await startActivatorPort(instance, config.requestTimeoutMs, log);
      return { name: instance.name, instance, port, address: port.address };
    }),
  );
  const addresses = new Map(activators.map(({ name, address }) => [name, address]));
  // The Broker and Trigger of the cluster: save's K_SINK is a durable local broker delivering to
  // the worker's cluster-local address, so an accepted save survives a database outage and a
  // restart here too (npm start runs the same one).
  const workerAddress = addresses.get('message-worker');
  const deadLettersAddress = addresses.get('dead-letters');
  let broker: LocalBroker | undefined;
  if (config.sink === undefined && workerAddress !== undefined) {
    broker = await startLocalBroker({
      queue: localBrokerQueue(config),
      subscriber: `http://${workerAddress}/_events/message`,
      deadLetterSink: deadLettersAddress === undefined ? undefined : `http://${deadLettersAddress}/_events/dead-letter`,
      transport: leaseTransport(new Map(activators.map(({ instance, address }) => [address, instance]))),
      log,
    });
  }
  local = localCluster(manifests.cluster, functions, addresses, config.database.url, wsProxy, config.sink ?? broker?.url, localRedis(manifests.cluster.redis, env));

  const gateway = await startPublicGateway({
    mode: isolated.gateway,
    functions,
    routes: publicRoutes(functions),
    addresses,
    host: config.host,
    port: config.port,
    requestTimeoutMs: config.requestTimeoutMs,
    instances,
    log,
  });
  log.info('listening', {
    url: gateway.url,
    mode: 'isolated',
    gateway: gateway.kind,
    functions: Object.fromEntries([...addresses].map(([name, address]) => [name, `http://${address}`])),
    idleMs: isolated.idleMs,
  });

  let stopping: Promise<{ forced: boolean }> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info('shutting down: stopping every function process');
      const gatewayStopped = gateway.stop();
      await Promise.all([...instances.values()].map((instance) => instance.close()));
      // Undelivered events stay in the queue for the next start.
      await broker?.close();
      await Promise.all([gatewayStopped, ...activators.map(({ port }) => port.close())]);
      await bridge?.close();
      log.info('stopped', { forced: false });
      return { forced: false };
    })();
    return stopping;
  };
  return { url: gateway.url, log, stop };
}

function clusterHostOf(cluster: { namespace: string }, name: string): string {
  return `${name}.${cluster.namespace}.svc.cluster.local`;
}

/**
 * Local stand-ins for what the containers' environment names: each function's cluster-local host
 * (its activator), the wsproxy (the bridge), Redis, the database Secret, and the Broker that the
 * SinkBinding gives `save` (the local broker; without one, the message worker at its Trigger's path).
 */
function localCluster(
  cluster: {
    namespace: string;
    wsProxy: string;
    databaseSecret: { name: string };
    databaseRoles: Readonly<Record<string, { urlKey: string | undefined }>>;
    redis: { passwordKey: string };
  },
  functions: readonly FunctionDefinition[],
  addresses: ReadonlyMap<string, string>,
  databaseUrl: string,
  wsProxy: string | undefined,
  sink: string | undefined,
  redis: ReturnType<typeof localRedis>,
): LocalCluster {
  const hosts = new Map([...addresses].map(([name, address]) => [clusterHostOf(cluster, name), address]));
  const clusterWsProxyHost = cluster.wsProxy.split('/', 1)[0] ?? '';
  if (wsProxy !== undefined) hosts.set(clusterWsProxyHost, wsProxy.split('/', 1)[0] ?? wsProxy);
  const worker = functions.find((definition) => definition.name === 'message-worker');
  const workerAddress = addresses.get('message-worker');
  const localSink = worker && workerAddress ? `http://${workerAddress}${worker.routes[0] ?? '/'}` : undefined;
  const saveSink = sink ?? localSink;
  return {
    hosts,
    urls: new Map([[redis.clusterAddress, redis.url]]),
    // Locally every role's connection string is the one database URL: the roles are the cluster's.
    secrets: {
      [cluster.databaseSecret.name]: {
        ...Object.fromEntries(
          Object.values(cluster.databaseRoles).flatMap(({ urlKey }) => (urlKey === undefined ? [] : [[urlKey, databaseUrl]])),
        ),
        [cluster.redis.passwordKey]: redis.password,
      },
    },
    sinks: saveSink === undefined ? {} : { save: saveSink },
  };
}

async function migrateOnce(config: Config, log: Logger): Promise<void> {
  if (config.database.kind !== 'postgres' || !config.database.migrateOnStart) return;
  // Not through the bridge: a refused or unresolvable server would reach us as the bridge closing
  // the socket ("Connection terminated unexpectedly"); straight to the server, start-up can name it.
  const database = await openDatabase(config.database, log);
  try {
    await database.migrate(config.migrationsDir);
    log.info('migrations applied', { database: database.kind, folder: config.migrationsDir });
  } finally {
    await database.close();
  }
}
