import { isatty } from 'node:tty';
import type { PgliteSettings, PostgresSettings } from '../db/settings.ts';
import type { AuthConfig } from './auth.ts';
import { isAddressOrRange, trustedProxies } from './rate-limit/client-address.ts';
import type { TrustedProxies } from './rate-limit/client-address.ts';
import { parseRateLimit, rateLimitFormat } from './rate-limit/policy.ts';
import type { RateLimitPolicy } from './rate-limit/policy.ts';
import type { RedisSettings } from './redis/connection.ts';
// zod/mini with English messages (see runtime/zod.ts): this schema is on every cold start.
import * as z from './zod.ts';

const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

const booleanWords = ['true', 'false', '1', '0', 'yes', 'no'] as const;
const booleanFromEnv = z.pipe(
  z.enum(booleanWords),
  z.transform((value: (typeof booleanWords)[number]) => value === 'true' || value === '1' || value === 'yes'),
);

const intBetween = (min: number, max: number) => z.pipe(z.coerce.number(), z.int().check(z.minimum(min), z.maximum(max)));
const positiveInt = (max: number) => intBetween(1, max);
const nonEmpty = () => z.string().check(z.minLength(1));
const httpUrl = (error: string) => z.url({ protocol: /^https?$/, error });
/** A comma-separated variable as a list of `item`, blank entries dropped. */
const commaList = <T extends z.core.$ZodType<unknown, string>>(item: T, minItems = 0) =>
  z.pipe(
    z.pipe(z.string(), z.transform((value: string) => value.split(',').map((entry) => entry.trim()).filter(Boolean))),
    z.array(item).check(z.minLength(minItems)),
  );

const databaseUrl = z.string().check(
  z.trim(),
  z.refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be a postgres:// or postgresql:// URL with a host, e.g. postgres://user@127.0.0.1:5432/db'),
);

const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL, e.g. redis://:password@127.0.0.1:6379/0' });
const writeLimit = z.pipe(
  z.string().check(z.refine((value) => value.trim().toLowerCase() === 'off' || parseRateLimit(value) !== undefined, `must be off or ${rateLimitFormat}`)),
  z.transform((value: string): RateLimitPolicy | 'off' => parseRateLimit(value) ?? 'off'),
);
const proxyEntry = z.string().check(
  z.refine(isAddressOrRange, {
    error: (issue) => `${JSON.stringify(issue.input)} is not an IP address or CIDR range (e.g. 127.0.0.1,10.0.0.0/8,fd00::/8)`,
  }),
);

const envSchema = z.object({
  PORT: z._default(intBetween(0, 65535), 8080),
  HOST: z._default(nonEmpty(), '0.0.0.0'),
  FUNCTION: z.optional(
    z.string().check(z.regex(/^[a-z][a-z0-9-]*(,[a-z][a-z0-9-]*)*$/, 'must be a function name or a comma-separated list of them')),
  ),
  DATABASE_URL: z.optional(databaseUrl),
  DATABASE_WS_PROXY: z.optional(nonEmpty()),
  DATABASE_WS_SECURE: z._default(booleanFromEnv, false),
  DATABASE_POOL_MAX: z._default(positiveInt(1000), 10),
  DATABASE_CONNECT_TIMEOUT_MS: z._default(positiveInt(600_000), 3000),
  DATABASE_QUERY_TIMEOUT_MS: z._default(positiveInt(600_000), 10_000),
  // Below the readiness probe's timeout (Kubernetes' default timeoutSeconds, 1 s): the probe then
  // gets a 503 that says why, instead of timing out itself and leaving no cause behind.
  DATABASE_READY_TIMEOUT_MS: z._default(positiveInt(60_000), 800),
  MIGRATE_ON_START: z.optional(booleanFromEnv),
  // 0: `npm run migrate` fails at once on an unreachable database; the migration Job waits.
  MIGRATE_WAIT_MS: z._default(intBetween(0, 3_600_000), 0),
  DATA_DIR: z._default(nonEmpty(), '.data'),
  MIGRATIONS_DIR: z._default(nonEmpty(), 'migrations'),
  LOG_LEVEL: z._default(z.enum(logLevels), 'info'),
  LOG_FORMAT: z._default(z.enum(['auto', 'pretty', 'json']), 'auto'),
  SHUTDOWN_TIMEOUT_MS: z._default(positiveInt(600_000), 10_000),
  STATS_ENABLED: z._default(booleanFromEnv, true),
  STATS_FLUSH_INTERVAL_MS: z._default(positiveInt(3_600_000), 10_000),
  K_SINK: z.optional(httpUrl('must be an http:// or https:// URL')),
  RABBITMQ_URL: z.optional(z.url({ protocol: /^amqps?$/, error: 'must be an amqp:// or amqps:// URL, e.g. amqp://guest:guest@127.0.0.1:5672' })),
  RABBITMQ_QUEUE: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,255}$/, 'must be a queue name (letters, digits, _ . : -)')), 'knfn.events'),
  ALLOWED_ORIGINS: z._default(commaList(httpUrl('must be a comma-separated list of http(s) origins')), []),
  AUTH_JWKS_URL: z.optional(httpUrl('must be an http:// or https:// URL')),
  AUTH_ISSUER: z.optional(nonEmpty()),
  AUTH_AUDIENCE: z.optional(nonEmpty()),
  AUTH_ALGORITHMS: z._default(
    commaList(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']), 1),
    ['RS256', 'ES256'],
  ),
  AUTH_KEYS_TTL_MS: z._default(positiveInt(86_400_000), 300_000),
  AUTH_ALLOW_NO_EXP: z._default(booleanFromEnv, false),
  REQUEST_TIMEOUT_MS: z._default(positiveInt(3_600_000), 30_000),
  MAX_BODY_BYTES: z._default(positiveInt(100 * 1024 * 1024), 1024 * 1024),
  PINGS_URL: z.optional(httpUrl('must be an http:// or https:// URL')),
  PINGS_TIMEOUT_MS: z._default(positiveInt(300_000), 15_000),
  ISOLATED_IDLE_MS: z._default(positiveInt(86_400_000), 60_000),
  ISOLATED_START_TIMEOUT_MS: z._default(positiveInt(600_000), 10_000),
  ISOLATED_GATEWAY: z._default(z.enum(['auto', 'nginx', 'node']), 'auto'),
  REDIS_URL: z.optional(redisUrl),
  // A request waits on Redis at most this long per use; past it, the limit is this process's own.
  REDIS_TIMEOUT_MS: z._default(positiveInt(10_000), 150),
  REDIS_KEY_PREFIX: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . : -')), 'knfn:'),
  RATE_LIMIT_WRITES: z.optional(writeLimit),
  TRUSTED_PROXIES: z._default(commaList(proxyEntry), []),
  K_SERVICE: z.optional(z.string()),
  K_REVISION: z.optional(z.string()),
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
  /** How long the migrator waits for an unreachable database, retrying (the migration Job: PostgreSQL or the roles may come up after it). */
  migrateWaitMs: number;
  logLevel: LogLevel;
  /** `pretty`: one readable line per entry (a terminal); `json`: one object per line (containers, pipes). */
  logFormat: 'pretty' | 'json';
  shutdownTimeoutMs: number;
  /** Per-endpoint request statistics flushed to `request_stats`; off to measure their cost. */
  stats: { enabled: boolean; flushIntervalMs: number };
  /** Where functions publish CloudEvents (Knative's SinkBinding sets K_SINK); undefined: nowhere. */
  sink: string | undefined;
  /**
   * The local broker's durable queue when K_SINK is unset (`npm start`, `--isolated`): RabbitMQ at
   * RABBITMQ_URL, or (undefined) a journal under DATA_DIR/outbox.
   */
  rabbitmq: { url: string; queue: string } | undefined;
  /** CORS origins and the request body limit every function applies. */
  http: { allowedOrigins: string[]; maxBodyBytes: number };
  /** A request whose headers and body have not fully arrived by then is answered 408 and closed. */
  requestTimeoutMs: number;
  /** Bearer-JWT verification for protected routes; undefined: every route is open. */
  auth: AuthConfig | undefined;
  /** The pings function's URL for log-output (its Knative route in the cluster); undefined: this process. */
  pingsUrl: string | undefined;
  /** How long log-output waits for pings: long enough to cover pings' cold start from zero. */
  pingsTimeoutMs: number;
  service: { name: string | undefined; revision: string | undefined };
  /**
   * `npm start -- --isolated`: idle time before a function's process is stopped, how long its start
   * may take, and what serves the public port (the generated nginx gateway, or its Node stand-in).
   */
  isolated: { idleMs: number; startTimeoutMs: number; gateway: 'auto' | 'nginx' | 'node' };
  /** REDIS_URL and its bounds; undefined: nothing is shared between instances. */
  redis: RedisSettings | undefined;
  rateLimit: {
    /** RATE_LIMIT_WRITES: every function's write limit, or `off` for none; undefined: each function's own. */
    writes: RateLimitPolicy | 'off' | undefined;
    /** Connections from these may name the client in X-Forwarded-For. */
    trustedProxies: TrustedProxies;
  };
}

/** db/'s own settings, plus what the runtime decides around them (migrating, readiness). */
export type DatabaseConfig =
  | (PgliteSettings & { migrateOnStart: true })
  | (PostgresSettings & { readyTimeoutMs: number; migrateOnStart: boolean });

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the process environment once, at start-up. */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  // isatty rather than process.stdout.isTTY: the logger writes to fd 1 itself, and creating the
  // stdout stream would cost start-up time and switch a pipe to non-blocking under it.
  stdoutIsTerminal = isatty(1),
): Config {
  const parsed = envSchema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`),
    );
  }
  return toConfig(parsed.data, stdoutIsTerminal);
}

function toConfig(env: Env, stdoutIsTerminal: boolean): Config {
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
    migrateWaitMs: env.MIGRATE_WAIT_MS,
    logLevel: env.LOG_LEVEL,
    logFormat: env.LOG_FORMAT === 'auto' ? (stdoutIsTerminal ? 'pretty' : 'json') : env.LOG_FORMAT,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    stats: { enabled: env.STATS_ENABLED, flushIntervalMs: env.STATS_FLUSH_INTERVAL_MS },
    sink: env.K_SINK,
    rabbitmq: env.RABBITMQ_URL ? { url: env.RABBITMQ_URL, queue: env.RABBITMQ_QUEUE } : undefined,
    pingsUrl: env.PINGS_URL,
    pingsTimeoutMs: env.PINGS_TIMEOUT_MS,
    http: { allowedOrigins: env.ALLOWED_ORIGINS, maxBodyBytes: env.MAX_BODY_BYTES },
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    auth: env.AUTH_JWKS_URL
      ? {
          jwksUrl: env.AUTH_JWKS_URL,
          issuer: env.AUTH_ISSUER,
          audience: env.AUTH_AUDIENCE,
          algorithms: env.AUTH_ALGORITHMS,
          keysTtlMs: env.AUTH_KEYS_TTL_MS,
          allowNoExp: env.AUTH_ALLOW_NO_EXP,
        }
      : undefined,
    service: { name: env.K_SERVICE, revision: env.K_REVISION },
    isolated: { idleMs: env.ISOLATED_IDLE_MS, startTimeoutMs: env.ISOLATED_START_TIMEOUT_MS, gateway: env.ISOLATED_GATEWAY },
    redis: env.REDIS_URL ? { url: env.REDIS_URL, timeoutMs: env.REDIS_TIMEOUT_MS, keyPrefix: env.REDIS_KEY_PREFIX } : undefined,
    rateLimit: { writes: env.RATE_LIMIT_WRITES, trustedProxies: trustedProxies(env.TRUSTED_PROXIES) },
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
