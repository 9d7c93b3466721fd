import type { FunctionDefinition } from '../define-function.ts';
import { expandReferences } from './env-references.ts';

export type ManifestScript = typeof import('../../scripts/manifests.ts');

/**
 * The manifest generator, loaded on demand. A computed specifier, as in bundles.ts: the function
 * bundles import this runtime, and a literal one would pull the generator and its Kubernetes
 * models into every one of them.
 */
export async function loadManifestScript(): Promise<ManifestScript> {
  const script = new URL('../../scripts/manifests.ts', import.meta.url).href;
  return (await import(script)) as ManifestScript;
}

/** What stands in locally for the cluster around a function's container. */
export interface LocalCluster {
  /** Cluster host (`pings.knfn.svc.cluster.local`, `wsproxy.knfn.svc.cluster.local:80`) -> local `host:port`. */
  hosts: ReadonlyMap<string, string>;
  /**
   * Cluster `host:port` -> the whole local URL that replaces a URL naming it: a local service has
   * its own credentials and database (Redis: none, where the cluster's needs the Secret's password).
   */
  urls: ReadonlyMap<string, string>;
  /** The values behind each `secretKeyRef`: Secret name -> key -> value. */
  secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** What Knative Eventing's SinkBinding injects into the functions it binds (K_SINK), by function. */
  sinks: Readonly<Record<string, string>>;
}

export class ContainerEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerEnvError';
  }
}

const clusterHost = /\b[a-z0-9-]+(\.[a-z0-9-]+)*\.svc\.cluster\.local(:\d+)?/g;

/**
 * The environment of a function's container, read off its generated Knative Service (the very
 * object `npm run manifests` writes): each secret reference resolved, each plain value with its
 * `$(NAME)` references expanded as the kubelet does and then its cluster addresses replaced by
 * their local stand-ins, plus what Knative adds (K_SERVICE, K_REVISION, K_CONFIGURATION, and
 * K_SINK where a SinkBinding applies). PORT is the spawner's to set.
 */
export function containerEnv(manifests: ManifestScript, definition: FunctionDefinition, local: LocalCluster): Record<string, string> {
  const service = manifests.functionService(definition);
  const container = service.spec?.template?.spec?.containers?.[0];
  if (container === undefined) throw new ContainerEnvError(`the Knative Service of ${definition.name} has no container`);

  const env: Record<string, string> = {
    K_SERVICE: definition.name,
    K_CONFIGURATION: definition.name,
    // The release's revision name when the manifest names it, as Knative then does.
    K_REVISION: service.spec?.template?.metadata?.name ?? `${definition.name}-00001`,
  };
  const sink = local.sinks[definition.name];
  if (sink !== undefined) env['K_SINK'] = sink;
  // The container's own variables only: Knative's come after them, and the kubelet expands a
  // reference with the variables defined before it in the list.
  const defined = new Map<string, string>();
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      const expanded = expandReferences(variable.value, defined);
      defined.set(variable.name, expanded);
      env[variable.name] = localise(expanded, local, `${definition.name} ${variable.name}`);
      continue;
    }
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref === undefined) throw new ContainerEnvError(`${definition.name} ${variable.name}: only values and secretKeyRefs have local stand-ins`);
    const value = local.secrets[ref.name ?? '']?.[ref.key];
    if (value === undefined) throw new ContainerEnvError(`${definition.name} ${variable.name}: no local value for Secret ${ref.name}, key ${ref.key}`);
    defined.set(variable.name, value);
    env[variable.name] = value;
  }
  return env;
}

/**
 * The local Redis standing in for the cluster's: the environment's REDIS_URL when set, else the
 * default port on this machine without a password; `password` is what stands in for the
 * Secret's key (the URL's own, or none).
 */
export function localRedis(
  clusterRedis: { host: string; port: number; database: number },
  env: Readonly<Record<string, string | undefined>>,
): { clusterAddress: string; url: string; password: string } {
  const url = env['REDIS_URL'] || `redis://127.0.0.1:6379/${clusterRedis.database}`;
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // An unparseable REDIS_URL is the function's to refuse at start-up, with its own message.
  }
  return { clusterAddress: `${clusterRedis.host}:${clusterRedis.port}`, url, password };
}

/** A URL to a service with a local URL of its own, or the value with every cluster address replaced. */
function localise(value: string, local: Pick<LocalCluster, 'hosts' | 'urls'>, what: string): string {
  const replacement = urlStandIn(value, local.urls);
  if (replacement !== undefined) return replacement;
  return value.replace(clusterHost, (host) => {
    const address = local.hosts.get(host) ?? local.hosts.get(host.replace(/:80$/, ''));
    if (address === undefined) throw new ContainerEnvError(`${what}: nothing runs locally for ${host}`);
    return address;
  });
}

function urlStandIn(value: string, urls: ReadonlyMap<string, string>): string | undefined {
  if (urls.size === 0 || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  try {
    return urls.get(new URL(value).host);
  } catch {
    return undefined;
  }
}
