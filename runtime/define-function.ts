import type { Hono } from 'hono';
import { METHOD_NAME_ALL } from 'hono/router';
import type { Database } from '../db/client.ts';
import type { Logger } from './logger.ts';
import type { RequestDeadline } from './request-deadline.ts';
import { parseRateLimit, rateLimitFormat } from './rate-limit/policy.ts';
import type { RateLimitPolicy } from './rate-limit/policy.ts';
import type { SharedCache } from './redis/cache.ts';
import type { InFlightReport } from './redis/in-flight.ts';

/**
 * What every handler finds on `c.var`: the database, a request-scoped logger, the request id, and
 * what instances share through Redis (REDIS_URL): a read-through cache and the requests in flight.
 */
export interface AppEnv {
  Variables: {
    db: Database;
    log: Logger;
    requestId: string;
    /**
     * Passes when this request's time for database work is up (DATABASE_CONNECT_TIMEOUT_MS +
     * DATABASE_QUERY_TIMEOUT_MS after it arrived); the runtime then answers 503. `deadline.signal`
     * is an AbortSignal for APIs that take one. Absent in tests built without a deadline.
     */
    deadline?: RequestDeadline;
    /** Shared by every instance through Redis; without it (or while it is down) every read loads. */
    cache: SharedCache;
    /** Requests being answered right now per function: across instances with Redis, else this process's. */
    inFlight: () => Promise<InFlightReport>;
  };
}

export type FunctionApp = Hono<AppEnv>;

/**
 * Process settings the server adds to Hono's `c.env` (next to node-server's own bindings). Kept out
 * of `AppEnv` because `c.env` is absent when a test calls `app.request()` without one.
 */
export interface RuntimeBindings {
  /** Where to publish CloudEvents: K_SINK, or the local broker under `npm start` (runtime/local-broker/). */
  sink?: string | undefined;
  /** The pings function's route, read by log-output: PINGS_URL, or this process's own under `npm start`. */
  pingsUrl?: string | undefined;
  /** PINGS_TIMEOUT_MS: log-output's budget for pings, cold start included. */
  pingsTimeoutMs?: number | undefined;
}

/** The process settings of `RuntimeBindings`, or none when a test calls `app.request()` without them. */
export function runtimeBindings(c: { env: unknown }): RuntimeBindings {
  return (c.env as RuntimeBindings | undefined) ?? {};
}

export interface FunctionScale {
  /** Knative `autoscaling.knative.dev/min-scale`; 0 lets the function scale to zero. */
  min: number;
  max: number;
  /** Concurrent requests per instance the autoscaler aims for. */
  target: number;
  /** How long the last instance is kept after traffic stops, e.g. `30s`. */
  scaleToZeroRetention?: string;
}

/**
 * A request that exercises a function without changing anything, sent by the canary load test
 * while a new Revision is analysed (a function scaled to zero has no traffic of its own). A
 * request the function refuses with a 4xx still runs its code up to the refusal: a broken build
 * shows as 5xx or as latency.
 */
export interface FunctionProbe {
  method: 'GET' | 'POST';
  /** A path the function answers, with its query. */
  path: string;
  /** A JSON body, for POST. */
  body?: string;
}

/**
 * One row of the README's endpoint table (`npm run manifests` writes it): the app's handlers it
 * describes and what they answer. Checked against the app, so the table cannot name a route the
 * function lacks or leave one out.
 */
export interface RouteDoc {
  /**
   * Methods and a path of the app's handlers, then an optional query to show (from `?` or `[`):
   * `GET /api/items?limit=&cursor=`, `GET PUT DELETE /api/items/:id`.
   */
  route: string;
  /** What the call answers, as Markdown on one line. */
  answer: string;
}

export interface FunctionDefinition {
  /** kebab-case; the Knative Service name, the bundle name and the `FUNCTION` value. */
  name: string;
  description: string;
  /**
   * The paths of the app's handlers (Hono patterns, e.g. `/api/items/:id`), read off `app.routes`:
   * what the shared local port and the public gateway send to this function.
   */
  routes: readonly string[];
  /**
   * Called only by other workloads in the cluster (a Trigger, another function): the public gateway
   * never routes it. Its Knative Service is cluster-local like every other.
   */
  internal: boolean;
  scale: FunctionScale;
  /**
   * The canary load test's request. Declared where a function's GET routes change something;
   * otherwise its first GET route without parameters.
   */
  probe: FunctionProbe | undefined;
  /**
   * False for functions whose handlers never touch the database: readiness then does not wait for
   * it (their request statistics are still written to it when DATABASE_URL is set).
   */
  usesDatabase: boolean;
  /**
   * Connections this function's pool may open per instance (DATABASE_POOL_MAX in its Knative
   * Service); every instance at max-scale times this is its share of PostgreSQL's max_connections
   * (knative/README.md, "Connection budget"). Undefined: `defaultPoolMax`, or 1 without database
   * work (one connection flushes the request statistics).
   */
  poolMax?: number;
  /**
   * Which requests need a bearer JWT when AUTH_JWKS_URL is set: `writes` (anything but GET, HEAD,
   * OPTIONS), `all`, or `none`.
   */
  auth: 'none' | 'writes' | 'all';
  /**
   * Writes (anything but GET, HEAD, OPTIONS) each client may send per window, counted across
   * instances with REDIS_URL; RATE_LIMIT_WRITES overrides it. Undefined: no limit.
   */
  writeLimit: RateLimitPolicy | undefined;
  /**
   * The README's endpoint rows, together covering every method and path of the app. None declared:
   * one row per path, its methods read off the app, answering the description.
   */
  docs: readonly RouteDoc[];
  app: FunctionApp;
}

/** What a function's `index.ts` writes: a name, a description and an app; the rest has defaults. */
export type FunctionDeclaration = Omit<
  FunctionDefinition,
  'routes' | 'internal' | 'probe' | 'usesDatabase' | 'auth' | 'scale' | 'docs' | 'writeLimit'
> & {
  /** Merged over `defaultScale`: `{ max: 3 }` is enough to cap a function. */
  scale?: Partial<FunctionScale>;
  internal?: boolean;
  probe?: FunctionProbe;
  usesDatabase?: boolean;
  auth?: FunctionDefinition['auth'];
  docs?: readonly RouteDoc[];
  /** `{ writes: '30/1m' }`: the function's default write limit (see `FunctionDefinition.writeLimit`). */
  rateLimit?: { writes: string };
};

/** Scales to zero, at most 10 instances, each aiming at 100 concurrent requests. */
export const defaultScale: FunctionScale = { min: 0, max: 10, target: 100 };

/**
 * A database function's pool when it declares none: one statement in flight, and one more so a
 * readiness check or the database-size gauge never waits behind a request's statement.
 */
export const defaultPoolMax = 2;

/** The pool size an instance of this function opens: declared, the default, or 1 for statistics only. */
export function poolMaxOf(definition: Pick<FunctionDefinition, 'usesDatabase' | 'poolMax'>): number {
  return definition.usesDatabase ? (definition.poolMax ?? defaultPoolMax) : 1;
}

/** kebab-case, 2-40 characters: a Knative Service name with room for its revision suffix. */
export const functionNamePattern = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;

/**
 * Declares a function once, as the default export of `functions/<name>/index.ts` (found there by
 * functions/index.ts); the local runner, its bundle, the Knative manifests, the gateway's routes
 * and the README's endpoint rows are all derived from this value.
 *
 * @example
 * export default defineFunction({
 *   name: 'pingpong',
 *   description: 'Answers pong N with a committed counter',
 *   app: new Hono<AppEnv>().get('/pingpong', (c) => c.text('pong 1')),
 * });
 */
export function defineFunction(declaration: FunctionDeclaration): FunctionDefinition {
  if (!functionNamePattern.test(declaration.name)) {
    throw new Error(`function name "${declaration.name}" must be kebab-case, 2-40 characters (a Knative Service name)`);
  }
  const routes = appRoutes(declaration.app);
  if (routes.length === 0) {
    throw new Error(`function "${declaration.name}" has no routes: give its app a handler, e.g. app.get('/${declaration.name}', ...)`);
  }
  const scale: FunctionScale = { ...defaultScale, ...declaration.scale };
  const { min, max, target } = scale;
  if (min < 0 || max < Math.max(1, min) || target < 1) {
    throw new Error(`function "${declaration.name}" has an invalid scale (min ${min}, max ${max}, target ${target})`);
  }
  if (declaration.poolMax !== undefined && (!Number.isInteger(declaration.poolMax) || declaration.poolMax < 1 || declaration.usesDatabase === false)) {
    throw new Error(`function "${declaration.name}" has an invalid poolMax ${declaration.poolMax} (a positive integer, and only with database work)`);
  }
  const docs = declaration.docs ?? [];
  checkDocs(declaration.name, declaration.app, docs);
  const { rateLimit, ...declared } = declaration;
  const writeLimit = rateLimit === undefined ? undefined : parseRateLimit(rateLimit.writes);
  if (rateLimit !== undefined && writeLimit === undefined) {
    throw new Error(`function "${declaration.name}" has an invalid rateLimit.writes "${rateLimit.writes}": write ${rateLimitFormat}`);
  }
  return {
    ...declared,
    routes,
    scale,
    internal: declaration.internal ?? false,
    probe: declaration.probe ?? defaultProbe(declaration.app),
    usesDatabase: declaration.usesDatabase ?? true,
    auth: declaration.auth ?? 'none',
    writeLimit,
    docs,
  };
}

/** The methods and path a `RouteDoc.route` names, and the query it shows. */
export function parseDocRoute(route: string): { methods: string[]; path: string; query: string } | undefined {
  const match = /^((?:[A-Z]+ )+)(\/[^?[\s]*)([?[].*)?$/.exec(route);
  if (match === null) return undefined;
  return { methods: (match[1] ?? '').trim().split(' '), path: match[2] ?? '', query: match[3] ?? '' };
}

/** Each method of the app's handlers, by path, in registration order (`use()` and `all()` left out). */
export function appMethods(app: FunctionApp): Map<string, string[]> {
  const byPath = new Map<string, string[]>();
  for (const { method, path } of app.routes) {
    if (method === METHOD_NAME_ALL) continue;
    const methods = byPath.get(path) ?? [];
    if (!methods.includes(method)) methods.push(method);
    byPath.set(path, methods);
  }
  return byPath;
}

function checkDocs(name: string, app: FunctionApp, docs: readonly RouteDoc[]): void {
  if (docs.length === 0) return;
  const handlers = appMethods(app);
  const documented = new Set<string>();
  for (const doc of docs) {
    const parsed = parseDocRoute(doc.route);
    if (parsed === undefined) {
      throw new Error(`function "${name}" documents the route "${doc.route}": write the methods, then the path, e.g. "GET PUT /api/items/:id"`);
    }
    for (const method of parsed.methods) {
      if (!handlers.get(parsed.path)?.includes(method)) {
        throw new Error(`function "${name}" documents ${method} ${parsed.path}, which its app does not handle`);
      }
      documented.add(`${method} ${parsed.path}`);
    }
  }
  const missing = [...handlers].flatMap(([path, methods]) => methods.map((method) => `${method} ${path}`)).filter((route) => !documented.has(route));
  if (missing.length > 0) throw new Error(`function "${name}" has docs without ${missing.join(', ')}: document every route, or none`);
}

/** The first GET route without parameters or wildcards, the usual side-effect-free page. */
function defaultProbe(app: FunctionApp): FunctionProbe | undefined {
  const route = app.routes.find((candidate) => candidate.method === 'GET' && !/[:*]/.test(candidate.path));
  return route === undefined ? undefined : { method: 'GET', path: route.path };
}

/**
 * The distinct paths of an app's method handlers, in registration order. Routes registered for
 * every method (`use()` middleware, and `all()`, which Hono records the same way) add none: a
 * middleware on `/api/*` must not claim other functions' paths in the gateway.
 */
export function appRoutes(app: FunctionApp): string[] {
  return [...appMethods(app).keys()];
}
