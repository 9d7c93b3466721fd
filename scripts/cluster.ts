/** Everything the generated manifests share with each other and with the hand-written ones under knative/. */
export const cluster = {
  namespace: 'knfn',
  /**
   * One image serves every function (FUNCTION picks one) and the migration Job; which tag or
   * digest of it runs is the release (scripts/release.ts), never `latest`.
   */
  imageRepository: 'ghcr.io/knfn/knfn',
  databaseSecret: { name: 'knfn-database', urlKey: 'url' },
  /** The in-cluster neondatabase/wsproxy (200-postgres.yaml), in the form DATABASE_WS_PROXY takes. */
  wsProxy: 'wsproxy.knfn.svc.cluster.local:80/v1',
  partOf: 'knfn',
} as const;

/**
 * A function revision's request timeout (Knative `timeoutSeconds`). Whatever calls a function
 * (the gateway, another function) must wait longer than this plus a cold start.
 */
export const functionTimeoutSeconds = 30;

/** A function's cluster-local Knative route: every function is reached only through this name. */
export function functionHost(name: string): string {
  return `${name}.${cluster.namespace}.svc.cluster.local`;
}
