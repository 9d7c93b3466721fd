const networkErrorCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

const unavailableMessage =
  /connection (terminated|timeout|ended|refused|error)|timeout exceeded|query read timeout|websocket|socket hang up|client has encountered a connection error|cannot use a pool after calling end|database is unreachable/i;

/**
 * True when an error means "the database cannot be reached right now" (so the caller should get a
 * 503 and retry), rather than a bug or a rejected statement. Drizzle wraps driver errors, so the
 * whole `cause` chain is read.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth += 1) {
    if (typeof current !== 'object') break;
    const { code, message, cause } = current as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === 'string') {
      if (networkErrorCodes.has(code)) return true;
      // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now),
      // 53300 (too many connections): all transient from the caller's point of view.
      if (/^08/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true;
    }
    if (typeof message === 'string' && unavailableMessage.test(message)) return true;
    if (current instanceof AggregateError && current.errors.some(isDatabaseUnavailable)) return true;
    current = cause;
  }
  return false;
}

/** Thrown by the runtime's own deadline when the database does not answer in time. */
export class DatabaseUnavailableError extends Error {
  readonly code = 'database_unavailable';
  constructor(message = 'database is unreachable', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}
