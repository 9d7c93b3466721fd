import type { FunctionDefinition } from '../define-function.ts';

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
 * object `npm run manifests` writes): each plain value with cluster addresses replaced by their
 * local stand-ins, each secret reference resolved, plus what Knative adds (K_SERVICE, K_REVISION,
 * K_CONFIGURATION, and K_SINK where a SinkBinding applies). PORT is the spawner's to set.
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
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = localise(variable.value, local.hosts, `${definition.name} ${variable.name}`);
      continue;
    }
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref === undefined) throw new ContainerEnvError(`${definition.name} ${variable.name}: only values and secretKeyRefs have local stand-ins`);
    const value = local.secrets[ref.name ?? '']?.[ref.key];
    if (value === undefined) throw new ContainerEnvError(`${definition.name} ${variable.name}: no local value for Secret ${ref.name}, key ${ref.key}`);
    env[variable.name] = value;
  }
  return env;
}

/** Replaces every cluster address in `value`; one without a local stand-in is an error, not a silent dead link. */
function localise(value: string, hosts: ReadonlyMap<string, string>, what: string): string {
  return value.replace(clusterHost, (host) => {
    const replacement = hosts.get(host) ?? hosts.get(host.replace(/:80$/, ''));
    if (replacement === undefined) throw new ContainerEnvError(`${what}: nothing runs locally for ${host}`);
    return replacement;
  });
}
