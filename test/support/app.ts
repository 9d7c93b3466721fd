import type { Hono } from 'hono';
import { openDatabase } from '../../db/client.ts';
import type { DatabaseHandle } from '../../db/client.ts';
import type { DatabaseConfig } from '../../runtime/config.ts';
import type { FunctionDefinition } from '../../runtime/define-function.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import { createReadiness } from '../../runtime/readiness.ts';
import { createServerApp } from '../../runtime/server-app.ts';

export interface TestApp {
  app: Hono;
  database: DatabaseHandle;
  metrics: Metrics;
  close(): Promise<void>;
}

export const memoryDatabase: DatabaseConfig = { kind: 'pglite', dataDir: 'memory://', migrateOnStart: true };

export function postgresDatabase(url: string): DatabaseConfig {
  return {
    kind: 'postgres',
    url,
    wsProxy: undefined,
    wsSecure: false,
    poolMax: 10,
    connectTimeoutMs: 2000,
    queryTimeoutMs: 5000,
    readyTimeoutMs: 1000,
    migrateOnStart: true,
  };
}

/**
 * The runtime around the given functions, migrated, for `app.request()` tests. A postgres config
 * with `migrateOnStart: false` skips the migration: a database migrated by another role, opened as
 * a role that may not run DDL.
 */
export async function buildTestApp(functions: FunctionDefinition[], config: DatabaseConfig = memoryDatabase): Promise<TestApp> {
  const log = createLogger({ level: 'silent' });
  const metrics = createMetrics();
  const database = await openDatabase(config, log, metrics);
  if (config.migrateOnStart) await database.migrate('migrations');
  metrics.watchPool(database.poolStats);
  const app = createServerApp({ functions, database, log, metrics, readiness: createReadiness(database, 1000) });
  return { app, database, metrics, close: () => database.close() };
}
