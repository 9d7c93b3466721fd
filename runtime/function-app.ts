import { Hono } from 'hono';
import type { Context, Next } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { routePath } from 'hono/route';
import type { IncomingMessage } from 'node:http';
import type { DatabaseHandle } from '../db/client.ts';
import { DatabaseUnavailableError } from '../db/errors.ts';
import { createAuthMiddleware } from './auth.ts';
import type { AuthConfig } from './auth.ts';
import type { AppEnv, FunctionDefinition } from './define-function.ts';
import { describeError, errorBody, notFound } from './errors.ts';
import { injectFailures, injectedFailureInterval } from './injected-faults.ts';
import { safeStack } from './logger.ts';
import { lingerAfterRefusal } from './lingering-close.ts';
import { allowedMethods, methodNotAllowed, routeTakesMethod } from './methods.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { RequestStatsRecorder } from './request-stats.ts';
import { DeadlineClock, RequestDeadline } from './request-deadline.ts';
import { responseHeaders } from './response-headers.ts';
import { processLocalState } from './shared-state.ts';
import type { SharedState } from './shared-state.ts';

export interface RuntimeServices {
  database: DatabaseHandle | undefined;
  log: Logger;
  metrics: Metrics;
  /** Absent when statistics are off or the process has no database to flush them to. */
  requestStats?: RequestStatsRecorder | undefined;
  http?: HttpPolicy;
  auth?: AuthConfig | undefined;
  /**
   * How long a request of a function with database work may wait on it before it is answered 503:
   * DATABASE_CONNECT_TIMEOUT_MS + DATABASE_QUERY_TIMEOUT_MS. Undefined: no deadline (PGlite).
   */
  databaseDeadlineMs?: number | undefined;
  /** Write limits, requests in flight and the cache, shared through Redis; absent: this app's own. */
  shared?: SharedState | undefined;
}

export interface HttpPolicy {
  /** Origins allowed to call cross-origin (CORS); empty: no CORS headers at all. */
  allowedOrigins: readonly string[];
  /** Larger request bodies get a 413 without being read to the end. */
  maxBodyBytes: number;
}

export const defaultHttpPolicy: HttpPolicy = { allowedOrigins: [], maxBodyBytes: 1024 * 1024 };

/**
 * Wraps a function's own Hono app with what every function gets: request id, access log, metrics
 * by route pattern, `c.var.db`, JSON 404s, 405s with `Allow` and one error handler.
 */
export function createFunctionApp(definition: FunctionDefinition, services: RuntimeServices): Hono<AppEnv> {
  const functionLog = services.log.child({ function: definition.name });
  const app = new Hono<AppEnv>();
  const shared = services.shared ?? processLocalState([definition.name]);
  const inFlight = shared.inFlight;

  const headers = responseHeaders();
  const observe = async function observeRequest(c: Context<AppEnv>, next: Next): Promise<void> {
    const started = performance.now();
    inFlight.enter(definition.name);
    try {
      await next();
    } finally {
      inFlight.leave(definition.name);
    }
    const seconds = (performance.now() - started) / 1000;
    const status = c.res.status;
    const route = matchedRoute(c, status);
    // Read once: under node-server it is a getter through two request objects.
    const method = c.req.method;
    services.metrics.requestFinished({ function: definition.name, method, route, status }, seconds);
    services.requestStats?.record(definition.name, method, route, status, seconds * 1000);
    const fields = { requestId: c.get('requestId'), method, path: c.req.path, route, status, ms: round(seconds * 1000) };
    if (status >= 500) functionLog.error('request failed', fields);
    else functionLog.info('request', fields);
  };
  // The runtime's steps share Hono layers, in the same order: each layer is an async dispatch
  // with a promise and a closure, on every request of every function. A step that throws is
  // answered by the error handler at its layer, so only the header step, which never throws,
  // shares the observer's layer: the observer must see every answer, errors included.
  app.use(function identifyAndObserve(c, next) {
    return headers(c, () => observe(c, next));
  });
  const http = services.http ?? defaultHttpPolicy;
  if (http.allowedOrigins.length > 0) app.use(cors({ origin: [...http.allowedOrigins], maxAge: 600 }));
  // Before the body limit and auth: a method the path does not take is refused whatever it carries.
  const methodsOn = allowedMethods(definition.app);
  const refuseOtherMethods = (c: Context<AppEnv>): void => {
    if (routeTakesMethod(c)) return;
    const allowed = methodsOn(c.req.path);
    if (allowed === undefined || allowed.length === 0 || allowed.includes(c.req.method)) return;
    throw methodNotAllowed(c.req.method, c.req.path, allowed);
  };
  const limitBody = bodyLimit({
    maxSize: http.maxBodyBytes,
    onError: (c) => {
      const incoming = incomingOf(c);
      if (incoming) lingerAfterRefusal(incoming);
      return c.json(errorBody('payload_too_large', `request body exceeds ${http.maxBodyBytes} bytes`), 413, { Connection: 'close' });
    },
  });
  const provideServices = (c: Context<AppEnv>): void => {
    if (services.database) c.set('db', services.database.db);
    c.set('log', functionLog.child({ requestId: c.get('requestId') }));
    c.set('cache', shared.cache);
    c.set('inFlight', inFlight.report);
  };
  // The driver bounds each statement (connect, then query timeout), but a request may run several,
  // or wait in a queue in front of one (pingpong's batches): this bounds the whole request, so
  // nothing a silent database does can hold an answer longer.
  const deadlineMs = services.databaseDeadlineMs;
  const withinDeadline = definition.usesDatabase && deadlineMs !== undefined ? deadlineStep(deadlineMs) : undefined;
  const afterBody = (c: Context<AppEnv>, next: Next): Promise<void> => {
    provideServices(c);
    return withinDeadline ? withinDeadline(c, next) : next();
  };
  const admit = function admit(c: Context<AppEnv>, next: Next): Promise<Response | void> {
    // GET and HEAD carry no body (node-server never reads one). Skipped because bodyLimit's look
    // at `c.req.raw.body` makes node-server build a full fetch Request, which cost about a tenth
    // of the CPU of every GET /pingpong.
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return afterBody(c, next);
    const rest = () => afterBody(c, next);
    // A declared length is the whole body (Node's parser delivers no more), so it is checked as
    // bodyLimit would, without touching `c.req.raw.body`: node-server then reads the body straight
    // from the socket instead of through a web stream (about 350 µs less per POST /save).
    const length = c.req.header('content-length');
    if (length !== undefined && /^\d+$/.test(length) && c.req.header('transfer-encoding') === undefined) {
      return Number(length) > http.maxBodyBytes ? limitBody(c, rest) : rest();
    }
    return limitBody(c, rest);
  };
  // Before the body is read: a client over its limit costs no upload and no database work.
  const limitWrites = shared.writeLimit(definition);
  if (limitWrites) {
    app.use(function checkMethod(c, next) {
      refuseOtherMethods(c);
      return next();
    });
    app.use(limitWrites);
    app.use(admit);
  } else {
    app.use(function checkMethodAndAdmit(c, next) {
      refuseOtherMethods(c);
      return admit(c, next);
    });
  }

  const auth = services.auth ? createAuthMiddleware(definition, services.auth) : undefined;
  if (auth) app.use(auth);
  // After the observer: the injected 500s are counted and timed like any real failure.
  const failEvery = injectedFailureInterval();
  if (failEvery > 0) app.use(injectFailures(failEvery));

  app.route('/', definition.app);
  app.notFound(notFound);
  app.onError(function handleError(error, c) {
    // Errors can come from middleware that runs before the request logger is set.
    const log = c.var.log ?? functionLog;
    if (clientClosedUpload(c)) {
      // Whatever reading the rest of the body threw (ECONNRESET, truncated JSON), the client left:
      // no fault of this service or its database, so a 4xx as nginx records it, and no warning.
      log.info('client closed the request', { error });
      return c.json(errorBody('client_closed_request', 'the client closed the connection before sending its whole request'), 499 as ContentfulStatusCode);
    }
    const { status, body, expected, headers } = describeError(error);
    if (!expected) log.error('unhandled error', { error, stack: safeStack(error) });
    else if (status >= 500) log.warn(body.error.message, { error });
    if (status === 503) c.header('Retry-After', '1');
    return c.json(body, status, headers);
  });
  return app;
}

/**
 * Answers 503 once `ms` have passed since the request arrived, whatever the handler still waits
 * on. One clock for every request rather than a timer and an AbortSignal of each one's own: this
 * runs on every request of every function that uses the database.
 */
function deadlineStep(ms: number): (c: Context<AppEnv>, next: Next) => Promise<void> {
  const clock = new DeadlineClock(ms, () => new DatabaseUnavailableError(`the database did not answer within ${ms} ms`));
  return function answerWithinDeadline(c, next) {
    return new Promise<void>((resolve, reject) => {
      // Expiry rejects (a 503) while the handler still waits: nothing waits for it any more.
      const deadline = new RequestDeadline(reject);
      c.set('deadline', deadline);
      // Counted from when the request has arrived: a slow upload is the client's time, and
      // REQUEST_TIMEOUT_MS (408) bounds it, not this.
      whenReceived(c, clock, deadline);
      next().then(
        () => {
          clock.stop(deadline);
          resolve();
        },
        (error: unknown) => {
          clock.stop(deadline);
          reject(error);
        },
      );
    });
  };
}

/** node-server's request, when there is one (not under `app.request()` in tests). */
function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/** Starts the deadline once the request (its body too) has arrived, or at once when that is unknowable. */
function whenReceived(c: Context, clock: DeadlineClock, deadline: RequestDeadline): void {
  const method = c.req.method;
  const incoming = method === 'GET' || method === 'HEAD' ? undefined : incomingOf(c);
  if (!incoming || incoming.complete) clock.start(deadline);
  else incoming.once('end', () => clock.start(deadline));
}

/** True when the client went away before its request body had arrived in full. */
function clientClosedUpload(c: Context): boolean {
  const incoming = incomingOf(c);
  return incoming !== undefined && !incoming.complete && (incoming.destroyed || incoming.readableAborted);
}

/** The route pattern that answered, so metrics have bounded label values (not raw paths). */
function matchedRoute(c: Context, status: number): string {
  const route = routePath(c);
  if ((status === 404 || status === 405) && (route === '*' || route === '/*')) return 'unmatched';
  return route;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
