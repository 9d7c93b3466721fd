import { Pool, neonConfig } from '@neondatabase/serverless';
import type { PoolClient } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-serverless';
import { migrate } from 'drizzle-orm/neon-serverless/migrator';
import { DatabaseUnavailableError } from './errors.ts';
import { migrationsTable, withDeadline } from './database.ts';
import type { Database, DatabaseHandle, QueryObserver } from './database.ts';
import * as schema from './schema.ts';
import type { DatabaseLog, PostgresSettings } from './settings.ts';
import { DirectSocket, directProxy } from './direct-socket.ts';

/** Any constant works as long as every process of the project uses the same one. */
const migrationLockKey = 7_240_315_001;

/**
 * PostgreSQL through @neondatabase/serverless over WebSocket: through the configured wsproxy (the
 * cluster), Neon's own proxy (a *.neon.tech host), or straight to DATABASE_URL (local, see DirectSocket).
 * The pool connects lazily, so opening costs no round trip and cold starts stay short.
 */
export async function openNeon(
  config: PostgresSettings,
  log: DatabaseLog,
  observer: QueryObserver,
): Promise<DatabaseHandle> {
  await configureDriver(config);

  const pool = new Pool({
    connectionString: config.url,
    max: config.poolMax,
    connectionTimeoutMillis: config.connectTimeoutMs,
    query_timeout: config.queryTimeoutMs,
    idleTimeoutMillis: 30_000,
  });
  // Idle clients die when the database restarts; without a listener that error kills the process.
  pool.on('error', (error: Error) => log.warn('idle database connection failed', { error }));
  instrument(pool, observer);
  // Not awaited: start-up goes on while PostgreSQL forks a backend and authenticates, so a cold
  // start's first request finds a connection ready instead of paying for it. A failure here is
  // the first request's to report (or readiness's), not start-up's.
  const warming = pool.connect().then(
    (client) => client.release(),
    (error: unknown) => log.debug('warming a database connection failed', { error }),
  );

  const db = drizzle({ client: pool, schema }) as unknown as Database;
  return {
    kind: 'postgres',
    db,
    // A pod's first probe comes while that connection is still being made: it waits for it
    // rather than making a second one (a backend, and with a password the SCRAM exchange, again).
    ping: async (timeoutMs) => {
      await withDeadline(
        warming.then(() => pool.query('select 1')),
        timeoutMs,
        () => new DatabaseUnavailableError(`database did not answer within ${timeoutMs} ms`),
      );
    },
    migrate: async (migrationsFolder) => {
      const client = await pool.connect();
      try {
        // Serialises concurrent migrators (several pods or processes starting at once): the later
        // ones wait, then find every migration recorded and apply nothing.
        await client.query('select pg_advisory_lock($1)', [migrationLockKey]);
        try {
          await migrate(drizzle({ client, schema }), { migrationsFolder, ...migrationsTable });
        } finally {
          await client.query('select pg_advisory_unlock($1)', [migrationLockKey]);
        }
      } finally {
        client.release();
      }
    },
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: async () => {
      await pool.end();
    },
  };
}

/** A managed Neon database, reached through Neon's own WebSocket proxy rather than ours. */
export function isNeonHost(databaseUrl: string): boolean {
  return new URL(databaseUrl).hostname.endsWith('.neon.tech');
}

/**
 * Points the driver at its way to PostgreSQL: the configured wsproxy (the cluster), Neon's own
 * (a *.neon.tech host), or, with neither, plain TCP to DATABASE_URL's server (local runs, tests,
 * the bench; see DirectSocket). The settings are module-global in the driver, hence one place.
 */
export async function configureDriver(config: Pick<PostgresSettings, 'url' | 'wsProxy' | 'wsSecure'>): Promise<void> {
  type WebSocketConstructor = typeof neonConfig.webSocketConstructor;
  // ws and the coalescing client are imported only when a WebSocket is used: a function talking
  // plain TCP (DirectSocket) then does not parse them on its cold start.
  if (isNeonHost(config.url)) {
    neonConfig.webSocketConstructor = (await import('ws')).default;
    return;
  }
  if (config.wsProxy === undefined) {
    neonConfig.webSocketConstructor = DirectSocket as unknown as WebSocketConstructor;
    neonConfig.wsProxy = directProxy;
    neonConfig.useSecureWebSocket = false;
  } else {
    neonConfig.webSocketConstructor = (await import('./coalescing-websocket.ts')).CoalescingWebSocket;
    neonConfig.wsProxy = config.wsProxy;
    neonConfig.useSecureWebSocket = config.wsSecure;
  }
  // Pipelining assumes Neon's proxy with cleartext passwords; a plain server may use SCRAM.
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  // The driver's own write coalescing waits for setTimeout(0): `select 1` took 1.6 ms with it and
  // 0.35 ms without. Worth it over the internet to Neon, not beside the database; both sockets
  // above coalesce a statement's writes without a timer.
  neonConfig.coalesceWrites = false;
}

/** Times every statement sent through the pool or through a client checked out of it. */
function instrument(pool: Pool, observer: QueryObserver): void {
  const wrapQuery = (target: { query: (...args: never[]) => unknown }) => {
    const original = target.query.bind(target) as (...args: unknown[]) => unknown;
    target.query = ((...args: unknown[]) => {
      const started = performance.now();
      const result = original(...args);
      if (result instanceof Promise) {
        result.then(
          () => observer.queryFinished((performance.now() - started) / 1000, false),
          () => observer.queryFinished((performance.now() - started) / 1000, true),
        );
      }
      return result;
    }) as never;
  };
  wrapQuery(pool as unknown as { query: (...args: never[]) => unknown });
  pool.on('connect', (client: PoolClient) => wrapQuery(client as unknown as { query: (...args: never[]) => unknown }));
}
