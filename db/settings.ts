/**
 * What the database layer needs to know, in its own types: the runtime's configuration (or a
 * script, or a test) hands these in, and db/ never reads the environment or imports runtime/.
 */
export type DatabaseSettings = PgliteSettings | PostgresSettings;

/** The embedded PostgreSQL (PGlite) in a folder, or `memory://` for one that vanishes on close. */
export interface PgliteSettings {
  kind: 'pglite';
  dataDir: string;
}

export interface PostgresSettings {
  kind: 'postgres';
  url: string;
  /** wsproxy address without protocol (e.g. `wsproxy.knfn:80/v1`); undefined: plain TCP to `url`'s server. */
  wsProxy: string | undefined;
  wsSecure: boolean;
  poolMax: number;
  connectTimeoutMs: number;
  queryTimeoutMs: number;
}

type LogFields = Record<string, unknown>;

/** The little of a logger db/ uses; runtime/logger.ts's Logger satisfies it. */
export interface DatabaseLog {
  debug(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}
