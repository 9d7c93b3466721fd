import { z } from 'zod';
import type { AuthConfig } from './auth.ts';

const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

const databaseUrl = z
  .string()
  .trim()
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL with a host, e.g. postgres://user@127.0.0.1:5432/db');

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  FUNCTION: z
    .string()
    .regex(/^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$/, 'must be a function name or a comma-separated list of them')
    .optional(),
  DATABASE_URL: databaseUrl.optional(),
  DATABASE_WS_PROXY: z.string().min(1).optional(),
  DATABASE_WS_SECURE: booleanFromEnv.default(false),
  DATABASE_POOL_MAX: positiveInt(1000).default(10),
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt(600_000).default(3000),
  DATABASE_QUERY_TIMEOUT_MS: positiveInt(600_000).default(10_000),
  DATABASE_READY_TIMEOUT_MS: positiveInt(60_000).default(1000),
  MIGRATE_ON_START: booleanFromEnv.optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  MIGRATIONS_DIR: z.string().min(1).default('migrations'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  SHUTDOWN_TIMEOUT_MS: positiveInt(600_000).default(10_000),
  STATS_ENABLED: booleanFromEnv.default(true),
  STATS_FLUSH_INTERVAL_MS: positiveInt(3_600_000).default(10_000),
  K_SINK: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  ALLOWED_ORIGINS: z
    .string()
    .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
    .pipe(z.array(z.url({ protocol: /^https?$/, error: 'must be a comma-separated list of http(s) origins' })))
    .default([]),
  AUTH_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_ALGORITHMS: z
    .string()
    .transform((value) => value.split(',').map((name) => name.trim()))
    .pipe(z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).min(1))
    .default(['RS256', 'ES256']),
  AUTH_KEYS_TTL_MS: positiveInt(86_400_000).default(300_000),
  REQUEST_TIMEOUT_MS: positiveInt(3_600_000).default(30_000),
  MAX_BODY_BYTES: positiveInt(100 * 1024 * 1024).default(1024 * 1024),
  PINGS_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  K_SERVICE: z.string().optional(),
  K_REVISION: z.string().optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  /** Functions to serve; empty means every declared function (the local runner). */
  functions: string[];
  database: DatabaseConfig;
  dataDir: string;
  migrationsDir: string;
  logLevel: LogLevel;
  shutdownTimeoutMs: number;
  /** Per-endpoint request statistics flushed to `request_stats`; off to measure their cost. */
  stats: { enabled: boolean; flushIntervalMs: number };
  /** Where functions publish CloudEvents (Knative's SinkBinding sets K_SINK); undefined: nowhere. */
  sink: string | undefined;
  /** CORS origins and the request body limit every function applies. */
  http: { allowedOrigins: string[]; maxBodyBytes: number };
  /** A request whose headers and body have not fully arrived by then is answered 408 and closed. */
  requestTimeoutMs: number;
  /** Bearer-JWT verification for protected routes; undefined: every route is open. */
  auth: AuthConfig | undefined;
  /** The pings function's URL for log-output (its Knative route in the cluster); undefined: this process. */
  pingsUrl: string | undefined;
  service: { name: string | undefined; revision: string | undefined };
}

export type DatabaseConfig =
  | { kind: 'pglite'; dataDir: string; migrateOnStart: true }
  | {
      kind: 'postgres';
      url: string;
      /** wsproxy address without protocol (e.g. `wsproxy.knfn:80/v1`); undefined starts a local bridge. */
      wsProxy: string | undefined;
      wsSecure: boolean;
      poolMax: number;
      connectTimeoutMs: number;
      queryTimeoutMs: number;
      readyTimeoutMs: number;
      migrateOnStart: boolean;
    };

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the process environment once, at start-up. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`),
    );
  }
  return toConfig(parsed.data);
}

function toConfig(env: Env): Config {
  const functions = env.FUNCTION ? env.FUNCTION.split(',') : [];
  // The local runner (all functions) owns its database; a single-function container leaves
  // migrations to the migration Job so cold starts stay short.
  const migrateOnStart = env.MIGRATE_ON_START ?? functions.length === 0;
  const database: DatabaseConfig = env.DATABASE_URL
    ? {
        kind: 'postgres',
        url: env.DATABASE_URL,
        wsProxy: env.DATABASE_WS_PROXY,
        wsSecure: env.DATABASE_WS_SECURE,
        poolMax: env.DATABASE_POOL_MAX,
        connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
        queryTimeoutMs: env.DATABASE_QUERY_TIMEOUT_MS,
        readyTimeoutMs: env.DATABASE_READY_TIMEOUT_MS,
        migrateOnStart,
      }
    : { kind: 'pglite', dataDir: `${env.DATA_DIR}/pglite`, migrateOnStart: true };
  return {
    port: env.PORT,
    host: env.HOST,
    functions,
    database,
    dataDir: env.DATA_DIR,
    migrationsDir: env.MIGRATIONS_DIR,
    logLevel: env.LOG_LEVEL,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    stats: { enabled: env.STATS_ENABLED, flushIntervalMs: env.STATS_FLUSH_INTERVAL_MS },
    sink: env.K_SINK,
    pingsUrl: env.PINGS_URL,
    http: { allowedOrigins: env.ALLOWED_ORIGINS, maxBodyBytes: env.MAX_BODY_BYTES },
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    auth: env.AUTH_JWKS_URL
      ? {
          jwksUrl: env.AUTH_JWKS_URL,
          issuer: env.AUTH_ISSUER,
          audience: env.AUTH_AUDIENCE,
          algorithms: env.AUTH_ALGORITHMS,
          keysTtlMs: env.AUTH_KEYS_TTL_MS,
        }
      : undefined,
    service: { name: env.K_SERVICE, revision: env.K_REVISION },
  };
}

/** An empty variable (`PORT=`) means "not set", as shells and Kubernetes often produce them. */
function stripEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') result[key] = value;
  }
  return result;
}
