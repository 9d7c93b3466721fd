import { createServer } from 'node:net';
import { describeCause } from '../db/errors.ts';
import type { PgliteInUseError } from '../db/pglite-lock.ts';
import type { DatabaseConfig } from './config.ts';
import { redact } from './logger.ts';

/** A start-up failure whose message already says the cause and the fix, in one line. */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/**
 * Fails fast when `host:port` is taken, before the database is opened or migrated: a second
 * `npm start` would otherwise migrate (or hold the embedded database) only to die on EADDRINUSE.
 * The socket is closed again at once; the gap until the server listens is milliseconds.
 */
export async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(portError(error, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

function portError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  if (error.code === 'EADDRINUSE') {
    return new StartupError(
      `port ${port} on ${host} is already in use (another npm start?): stop that process, or choose another port with PORT=${port + 1}`,
      { cause: error },
    );
  }
  if (error.code === 'EACCES') {
    return new StartupError(`port ${port} on ${host} needs privileges this process lacks: choose a port above 1023 with PORT`, { cause: error });
  }
  if (error.code === 'EADDRNOTAVAIL') {
    return new StartupError(`HOST=${host} is not an address of this machine: use 127.0.0.1 or 0.0.0.0`, { cause: error });
  }
  return error;
}

/**
 * The one line `knfn: ...` printed when start-up fails: what went wrong and what to do about it,
 * for the failures a newcomer meets (a server that is down or unresolvable, a missing role or
 * database, a busy port, the embedded database held by another process). Anything else is said by
 * its cause (describeCause: never SQL or parameters). Passwords are redacted.
 */
export function explainStartupFailure(error: unknown, database?: DatabaseConfig): string {
  if (error instanceof StartupError) return redact(error.message);
  // By its code, not instanceof: importing db/pglite-lock.ts would pull the PGlite path into a container's start-up.
  if (isPgliteInUse(error)) {
    return (
      `the embedded database in ${error.dataDir} is in use by process ${error.pid} (another npm start?): ` +
      `stop it (kill ${error.pid}), or give this one its own DATA_DIR, or use a PostgreSQL server with DATABASE_URL`
    );
  }
  const code = firstCode(error);
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    const { address, port } = error as { address?: unknown; port?: unknown };
    if (typeof address === 'string' && typeof port === 'number') {
      return redact(portError(error as NodeJS.ErrnoException, address, port).message);
    }
  }
  const server = database?.kind === 'postgres' ? postgresTarget(database.url) : undefined;
  if (server !== undefined) {
    const explained = explainDatabaseFailure(code, describeCause(error), server);
    if (explained !== undefined) return redact(explained);
  }
  return redact(`start-up failed: ${describeCause(error)} (LOG_LEVEL=debug prints the stack)`);
}

function isPgliteInUse(error: unknown): error is PgliteInUseError {
  return error instanceof Error && (error as { code?: unknown }).code === 'pglite_in_use';
}

interface PostgresTarget {
  host: string;
  port: string;
  user: string;
  database: string;
}

function postgresTarget(url: string): PostgresTarget {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: parsed.port || '5432',
    user: decodeURIComponent(parsed.username) || 'postgres',
    database: decodeURIComponent(parsed.pathname.slice(1)) || decodeURIComponent(parsed.username) || 'postgres',
  };
}

function explainDatabaseFailure(code: string | undefined, cause: string, server: PostgresTarget): string | undefined {
  const at = `${server.host}:${server.port}`;
  const client = `-h ${server.host} -p ${server.port}`;
  switch (code) {
    case 'ECONNREFUSED':
      return `PostgreSQL at ${at} refused the connection (is it running?): start it, or correct the host and port in DATABASE_URL`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the database host "${server.host}" in DATABASE_URL does not resolve: correct it (e.g. 127.0.0.1)`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `PostgreSQL at ${at} cannot be reached (${code}): check that it runs and that the network lets you through, or correct DATABASE_URL`;
    case '3D000':
      return `database "${server.database}" does not exist on ${at}: create it (createdb ${client} -U postgres ${server.database}), or name another in DATABASE_URL`;
    case '28P01':
      return `PostgreSQL at ${at} rejected the password of role "${server.user}": correct the password in DATABASE_URL`;
    case '28000':
      return /role .* does not exist/.test(cause)
        ? `role "${server.user}" does not exist on ${at}: create it (createuser ${client} -U postgres ${server.user}), or name another user in DATABASE_URL`
        : `PostgreSQL at ${at} refused the login of role "${server.user}" (${cause}): allow it in pg_hba.conf, or use another role in DATABASE_URL`;
    case '57P03':
      return `PostgreSQL at ${at} is starting up or shutting down: try again in a moment`;
    case '53300':
      return `PostgreSQL at ${at} has no free connection slot (${cause}): stop other clients or raise max_connections`;
    default:
      return undefined;
  }
}

/** The first errno or SQLSTATE down the cause chain (and inside an AggregateError). */
function firstCode(error: unknown, depth = 0): string | undefined {
  if (depth > 8 || typeof error !== 'object' || error === null) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (/^E[A-Z_]+$/.test(code) || /^[0-9A-Z]{5}$/.test(code))) return code;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = firstCode(inner, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return firstCode(cause, depth + 1);
}
