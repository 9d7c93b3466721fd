/** Everything the generated manifests share with each other and with the hand-written ones under knative/. */
export const cluster = {
  namespace: 'knfn',
  /**
   * One image serves every function (FUNCTION picks one) and the migration Job; which tag or
   * digest of it runs is the release (scripts/release.ts), never `latest`.
   */
  imageRepository: 'ghcr.io/knfn/knfn',
  /**
   * The hand-made Secret (knative/secrets/database.example.yaml): the superuser's `username`,
   * `password`, `database`, which only PostgreSQL and the role bootstrap read, and one password
   * (and connection string) per role of `databaseRoles`.
   */
  databaseSecret: { name: 'knfn-database' },
  /**
   * The PostgreSQL roles of db/roles.sql and their keys in the database Secret: each workload gets
   * the credentials of the least role that does its work.
   */
  databaseRoles: {
    /** Owns the schema; the migration Job and a restore connect as it. */
    owner: { name: 'knfn_owner', passwordKey: 'owner-password', urlKey: 'owner-url' },
    /** Reads and writes the tables: functions with database work. */
    app: { name: 'knfn_app', passwordKey: 'app-password', urlKey: 'app-url' },
    /** Writes request_stats only: functions whose one database work is recording their requests. */
    stats: { name: 'knfn_stats', passwordKey: 'stats-password', urlKey: 'stats-url' },
    /** Reads everything, writes nothing: the nightly pg_dump. */
    backup: { name: 'knfn_backup', passwordKey: 'backup-password', urlKey: undefined },
  },
  /** The in-cluster neondatabase/wsproxy (200-postgres.yaml), in the form DATABASE_WS_PROXY takes. */
  wsProxy: 'wsproxy.knfn.svc.cluster.local:80/v1',
  partOf: 'knfn',
  /** PostgreSQL's Service (200-postgres.yaml), for what connects without the wsproxy: psql, pg_dump. */
  postgresHost: 'postgres.knfn.svc.cluster.local',
  /**
   * Redis (knative/redis/, scripts/redis-manifests.ts): what the functions share between instances
   * but may lose (rate-limit counters, requests in flight, short-lived caches). Its password is the
   * `redis-password` key of the database Secret, so one Secret and one deploy check cover both.
   */
  redis: { name: 'redis', host: 'redis.knfn.svc.cluster.local', port: 6379, database: 0, passwordKey: 'redis-password' },
} as const;

/**
 * The PostgreSQL image of the StatefulSet (200-postgres.yaml, hand-written: a test keeps them
 * equal), the backup and the role bootstrap: psql and pg_dump must not be older than the server.
 */
export const postgresImage = 'postgres:17.5';

/**
 * A function revision's request timeout (Knative `timeoutSeconds`). Whatever calls a function
 * (the gateway, another function) must wait longer than this plus a cold start.
 */
export const functionTimeoutSeconds = 30;

/** A function's cluster-local Knative route: every function is reached only through this name. */
export function functionHost(name: string): string {
  return `${name}.${cluster.namespace}.svc.cluster.local`;
}

/**
 * PostgreSQL's max_connections (200-postgres.yaml passes it as `-c max_connections=`), and what it
 * must hold besides the functions' pools: a test sums every database function's max-scale x pool
 * size plus this reserve and requires the total to stay below max_connections.
 */
export const connectionBudget = {
  maxConnections: 200,
  reserve: {
    /** PostgreSQL's own default, kept for superuser sessions when everything else is taken. */
    superuserReserved: 3,
    /** The migration Job runs with a pool of 1. */
    migration: 1,
    /** The role bootstrap Jobs (psql), one at a time. */
    roles: 1,
    /** The nightly pg_dump (custom format: one connection). */
    backup: 1,
    /** The restore runbook's pg_restore (knative/README.md). */
    restore: 1,
    /** Someone's psql during an incident, and a pg_dump by hand. */
    admin: 3,
  },
} as const;
