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
  for (const current of causeChain(error)) {
    if (current instanceof DatabaseUnavailableError) return true;
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (networkErrorCodes.has(code)) return true;
      // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now),
      // 53300 (too many connections), class 28 (the role or its password not there yet: one
      // `kubectl apply -k` starts the functions beside the Job that creates their roles): all
      // transient from the caller's point of view.
      if (/^(08|28)/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true;
    }
    if (typeof message === 'string' && unavailableMessage.test(message)) return true;
    if (current instanceof AggregateError && current.errors.some(isDatabaseUnavailable)) return true;
  }
  return false;
}

/** `error` and its causes, outermost first: Drizzle and the driver wrap what went wrong. */
function* causeChain(error: unknown): Generator<object> {
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 8; depth += 1) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

/**
 * SQLSTATEs of a statement naming a table, column or schema the database does not have:
 * undefined_table, undefined_column, invalid_schema_name. Deployed, that is a release's functions
 * answering before its migration Job finished (one `kubectl apply -k` starts both), so the caller
 * is told to retry, not that the server broke.
 */
const schemaBehindCodes = new Set(['42P01', '42703', '3F000']);

/** True when an error (or its cause chain) says the schema lacks what the statement names. */
export function isSchemaBehind(error: unknown): boolean {
  for (const current of causeChain(error)) {
    const { code } = current as { code?: unknown };
    if (typeof code === 'string' && schemaBehindCodes.has(code)) return true;
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

/**
 * What went wrong, in one line fit for a log or a readiness answer: the database's SQLSTATE and
 * message (`28000 role "x" does not exist`) or the socket's errno and address
 * (`ECONNREFUSED 127.0.0.1:5499`). Never the statement or its parameters: Drizzle's
 * DrizzleQueryError puts both in its message (users' text among them), so it is unwrapped to its
 * cause. The driver can reject with a WebSocket error event rather than an Error, and a dual-stack
 * connect with an AggregateError whose message is empty; both are described by what they carry.
 */
export function describeCause(error: unknown, depth = 0): string {
  if (depth > 8) return 'unknown error';
  if (error === null || error === undefined) return 'unknown error';
  if (typeof error !== 'object') return String(error);
  const { code, message, cause, errors, address, port } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
    address?: unknown;
    port?: unknown;
  };
  if (isQueryWrapper(error)) return cause === undefined ? 'query failed' : describeCause(cause, depth + 1);
  if (Array.isArray(errors) && errors.length > 0) {
    return [...new Set(errors.map((inner) => describeCause(inner, depth + 1)))].join('; ');
  }
  const text = typeof message === 'string' ? message.trim() : '';
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `${code} ${sqlstateMessage(code, text)}`;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) {
    if (typeof address === 'string') return `${code} ${address}${port === undefined ? '' : `:${String(port)}`}`;
    // Node puts the errno first (`connect ECONNREFUSED 127.0.0.1:5432`); said once is enough.
    const rest = text.replace(/^\w+ /, '').replace(code, '').trim();
    return rest ? `${code} ${rest}` : code;
  }
  // A wrapper with nothing of its own to say (an error event, a pool timeout) says its cause's.
  if (cause !== undefined && cause !== error) {
    const inner = describeCause(cause, depth + 1);
    if (!text) return inner;
    return text.includes(inner) ? text : `${text}: ${inner}`;
  }
  const wrapped = (error as { error?: unknown }).error;
  if (!text && wrapped !== undefined && wrapped !== error) return describeCause(wrapped, depth + 1);
  return text || (error instanceof Error ? error.name : 'unknown error');
}

/** Drizzle's wrapper of a failed statement: its message is the SQL text and the parameters. */
function isQueryWrapper(error: object): boolean {
  return (
    (error as { name?: unknown }).name === 'DrizzleQueryError' ||
    ('query' in error && 'params' in error) ||
    (typeof (error as { message?: unknown }).message === 'string' && (error as { message: string }).message.startsWith('Failed query:'))
  );
}

/**
 * Data exceptions (class 22) quote the offending value (`invalid input syntax for type integer:
 * "abc"`), which is a user's input; the rest of the message names the problem well enough.
 */
function sqlstateMessage(code: string, message: string): string {
  return code.startsWith('22') ? message.replace(/"(?:[^"]|"")*"/g, '"…"') : message;
}
