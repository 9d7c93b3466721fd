import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable, isSchemaBehind } from '../db/errors.ts';

export interface ErrorBody {
  error: { code: string; message: string };
}

/** Throw from a handler for any client-facing error; the runtime renders the one JSON shape. */
export class ApiError extends HTTPException {
  /** Sent with the error response, e.g. `WWW-Authenticate` on a 401 or `Allow` on a 405. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(status, { message, cause: options?.cause });
    this.name = 'ApiError';
    this.headers = options?.headers ?? {};
  }
}

const codeForStatus: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  431: 'request_header_fields_too_large',
  422: 'unprocessable_entity',
  429: 'too_many_requests',
  503: 'service_unavailable',
};

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * Maps any thrown value to a status and body. Internals never reach the client: an unexpected
 * error is a bare 500 with a request id to find it in the logs.
 */
export function describeError(error: unknown): {
  status: ContentfulStatusCode;
  body: ErrorBody;
  expected: boolean;
  headers?: Readonly<Record<string, string>>;
} {
  if (error instanceof ApiError) {
    return { status: error.status, body: errorBody(error.code, error.message), expected: true, headers: error.headers };
  }
  if (error instanceof HTTPException) {
    const status = error.status;
    const code = codeForStatus[status] ?? (status >= 500 ? 'internal_error' : 'bad_request');
    return { status, body: errorBody(code, error.message || code.replaceAll('_', ' ')), expected: status < 500 };
  }
  if (isSchemaBehind(error)) {
    // Answered 503, but logged as unexpected: past a deployment, a missing table is a bug.
    return {
      status: 503,
      body: errorBody('schema_not_ready', 'the database has not been migrated for this release yet; retry shortly'),
      expected: false,
    };
  }
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      body: errorBody('database_unavailable', 'the database is unreachable; retry shortly'),
      expected: true,
    };
  }
  return { status: 500, body: errorBody('internal_error', 'internal server error'), expected: false };
}

export function notFound(c: Context): Response {
  return c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
}
