import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { stringify } from 'yaml';
import { allFunctions } from '../functions/index.ts';
import { functionCommand } from './build.ts';
import { readmeFile, withEndpointTable } from './endpoints-doc.ts';
import { cluster, functionHost, functionTimeoutSeconds } from './cluster.ts';
import { gatewayDir, gatewayResources, gatewaySettingsFile, readGatewaySettings } from './gateway-manifests.ts';
import type { GatewaySettings } from './gateway-manifests.ts';
import { canaryDir, canaryResources, canarySettingsFile, readCanarySettings } from './canary-manifests.ts';
import type { CanarySettings } from './canary-manifests.ts';
import { monitoringDir, monitoringHeader, monitoringResources } from './observability-manifests.ts';
import { redisDir, redisResources } from './redis-manifests.ts';
import { migrateDir, migrationJob, releaseLabel, rolesConfigMap, rolesJob } from './migrate-manifests.ts';
import { defaultRelease, type Release } from './release.ts';
import { poolMaxOf } from '../runtime/define-function.ts';
import type { FunctionDefinition } from '../runtime/define-function.ts';

export { cluster } from './cluster.ts';

export const functionsDir = 'knative/functions';

/**
 * Redis, shared by every function (rate limits, requests in flight, caches). The password comes
 * from the Secret into REDIS_PASSWORD, and the kubelet expands `$(REDIS_PASSWORD)` in REDIS_URL
 * (a variable defined earlier in the same list; Knative passes the value through untouched), so
 * the manifest never holds it. The deploy accepts only URL-safe passwords, as none is encoded.
 */
export const redisEnv: IEnvVar[] = [
  { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: cluster.redis.passwordKey } } },
  { name: 'REDIS_URL', value: `redis://:$(REDIS_PASSWORD)@${cluster.redis.host}:${cluster.redis.port}/${cluster.redis.database}` },
];

/**
 * The proxies whose X-Forwarded-For a function believes: queue-proxy, its TCP peer in the same pod
 * (it dials 127.0.0.1), which passes on the address the gateway wrote.
 */
export const trustedProxies = '127.0.0.1,::1';

/** Extra env a function needs to reach another one, always over its Knative route. */
const extraEnv: Record<string, IEnvVar[]> = {
  'log-output': [{ name: 'PINGS_URL', value: `http://${functionHost('pings')}/pings` }],
};

/**
 * Knative probes the serving port itself and rejects any other, so the port is left out; the core
 * Probe type (which Knative's schema reuses) insists on one, hence the cast. A readiness probe
 * gets no periodSeconds (and then must have no failureThreshold): queue-proxy then probes it
 * aggressively at start-up instead of every period, so a cold start serves as soon as it can.
 */
function knativeProbe(path: string, periodSeconds?: number): IProbe {
  return (periodSeconds === undefined ? { httpGet: { path } } : { httpGet: { path }, periodSeconds, failureThreshold: 3 }) as IProbe;
}

/**
 * The database credentials a function gets: the app role's with database work, the stats role's
 * (INSERT/UPDATE on request_stats only) when its one database work is recording its requests.
 */
export function databaseRoleOf(definition: Pick<FunctionDefinition, 'usesDatabase'>) {
  return definition.usesDatabase ? cluster.databaseRoles.app : cluster.databaseRoles.stats;
}

/** A fixed uid: runAsNonRoot can only be verified by the kubelet for a numeric user. */
const runAsUser = 10001;

/** A function's revision name in a release: Knative's own names would not say which image runs. */
export function revisionName(functionName: string, release: Release): string {
  const name = `${functionName}-${release.name}`;
  if (name.length > 63) throw new Error(`revision name ${name} is longer than 63 characters`);
  return name;
}

/** The Knative Service for one function in one release, validated against the Knative schema. */
export function functionService(definition: FunctionDefinition, release: Release = defaultRelease()): Service {
  const { name, scale } = definition;
  const annotations: Record<string, string> = {
    'autoscaling.knative.dev/min-scale': String(scale.min),
    'autoscaling.knative.dev/max-scale': String(scale.max),
    'autoscaling.knative.dev/target': String(scale.target),
  };
  if (scale.scaleToZeroRetention !== undefined) {
    annotations['autoscaling.knative.dev/scale-to-zero-pod-retention-period'] = scale.scaleToZeroRetention;
  }
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/part-of': cluster.partOf,
    'app.kubernetes.io/component': 'function',
    [releaseLabel]: release.name,
  };
  const service = new Service({
    metadata: {
      name,
      namespace: cluster.namespace,
      // Cluster-local, every one: the gateway (knative/gateway/) is the only public entry.
      labels: { ...labels, 'networking.knative.dev/visibility': 'cluster-local' },
      annotations: { 'knfn.dev/description': definition.description },
    },
    spec: {
      template: {
        // Named after the release: re-applying it creates no Revision, a new image always does,
        // and Knative refuses a changed template under a name it already used.
        metadata: { name: revisionName(name, release), labels, annotations },
        spec: {
          // Soft target for the autoscaler, hard cap at twice that so a burst queues in the
          // queue-proxy instead of piling onto one Node event loop.
          containerConcurrency: scale.target * 2,
          timeoutSeconds: functionTimeoutSeconds,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          containers: [
            {
              name: 'function',
              image: release.image,
              // Its own bundle: only this function's code is loaded, which shortens cold starts.
              command: functionCommand(name),
              ports: [{ name: 'http1', containerPort: 8080 }],
              env: [
                { name: 'FUNCTION', value: name },
                {
                  name: 'DATABASE_URL',
                  valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: databaseRoleOf(definition).urlKey } },
                },
                { name: 'DATABASE_WS_PROXY', value: cluster.wsProxy },
                // Its share of max_connections (scripts/cluster.ts connectionBudget): one WebSocket
                // through the wsproxy and one PostgreSQL backend per connection.
                { name: 'DATABASE_POOL_MAX', value: String(poolMaxOf(definition)) },
                { name: 'MIGRATE_ON_START', value: 'false' },
                ...redisEnv,
                { name: 'TRUSTED_PROXIES', value: trustedProxies },
                ...(extraEnv[name] ?? []),
              ],
              livenessProbe: knativeProbe('/health', 10),
              readinessProbe: knativeProbe('/health/ready'),
              resources: {
                requests: { cpu: '50m', memory: '96Mi' },
                limits: { cpu: '1', memory: '256Mi' },
              },
              securityContext: {
                runAsNonRoot: true,
                runAsUser,
                runAsGroup: runAsUser,
                readOnlyRootFilesystem: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  });
  validateKnativeService(service.toJSON());
  return service;
}

/**
 * Validates against the Knative schema. That schema reuses the core Probe, which requires
 * `httpGet.port`; Knative instead fills in the serving port itself (and rejects any other), so the
 * check runs on a copy with that port filled in while the manifest leaves it out.
 */
export function validateKnativeService(data: unknown): void {
  new Service(withServingPort(data) as ConstructorParameters<typeof Service>[0]).validate();
}

/** A copy of a Knative Service whose port-less httpGet probes name the serving port, as Knative does. */
export function withServingPort(data: unknown): unknown {
  const copy = structuredClone(data) as { spec?: { template?: { spec?: { containers?: ProbedContainer[] } } } };
  for (const container of copy.spec?.template?.spec?.containers ?? []) {
    const port = container.ports?.[0]?.containerPort ?? 8080;
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      if (probe?.httpGet && probe.httpGet.port === undefined) probe.httpGet.port = port;
    }
  }
  return copy;
}

interface ProbedContainer {
  ports?: { containerPort?: number }[];
  livenessProbe?: { httpGet?: { port?: number } };
  readinessProbe?: { httpGet?: { port?: number } };
  startupProbe?: { httpGet?: { port?: number } };
}

const header = '# Generated by `npm run manifests` from functions/index.ts: edit the function, not this file.\n';
const releaseHeader =
  '# Generated by `npm run manifests` for the release of package.json\'s version; `npm run deploy -- --image ...` renders its own.\n';
const rolesHeader = '# Generated by `npm run manifests` from db/roles.sql: edit that, not this file.\n';
const gatewayHeader = `# Generated by \`npm run manifests\` from functions/index.ts and ${gatewaySettingsFile}: edit those, not this file.\n`;

const canaryHeader = `# Generated by \`npm run manifests\` from functions/index.ts and ${canarySettingsFile}: edit those, not this file.\n`;
const redisHeader = '# Generated by `npm run manifests` from scripts/redis-manifests.ts: edit that, not this file.\n';

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, sortMapEntries: false });
}

function kustomization(resources: string[]): string {
  return toYaml({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources });
}

/** Every generated file, path relative to the project root -> content. */
export function generatedFiles(
  functions: readonly FunctionDefinition[] = allFunctions,
  gatewaySettings: GatewaySettings = readGatewaySettings(),
  release: Release = defaultRelease(),
  canarySettings: CanarySettings = readCanarySettings(),
): Map<string, string> {
  const files = new Map<string, string>();
  const names = functions.map((definition) => definition.name).sort();
  for (const definition of [...functions].sort((a, b) => a.name.localeCompare(b.name))) {
    files.set(join(functionsDir, `${definition.name}.yaml`), header + toYaml(functionService(definition, release).toJSON()));
  }
  files.set(join(functionsDir, 'kustomization.yaml'), header + kustomization(names.map((name) => `${name}.yaml`)));
  files.set(join(migrateDir, 'job.yaml'), releaseHeader + toYaml(migrationJob(release).toJSON()));
  // db/roles.sql before the migration (the owner must exist) and after it (grants on its tables).
  files.set(join(migrateDir, 'roles-configmap.yaml'), rolesHeader + toYaml(rolesConfigMap().toJSON()));
  files.set(join(migrateDir, 'roles-job.yaml'), releaseHeader + toYaml(rolesJob(release, 'roles').toJSON()));
  files.set(join(migrateDir, 'grants-job.yaml'), releaseHeader + toYaml(rolesJob(release, 'grants').toJSON()));
  files.set(join(migrateDir, 'kustomization.yaml'), releaseHeader + kustomization(['roles-configmap.yaml', 'roles-job.yaml', 'job.yaml', 'grants-job.yaml']));
  const gateway = gatewayResources(functions, gatewaySettings);
  for (const { file, object } of gateway) files.set(join(gatewayDir, file), gatewayHeader + toYaml(object.toJSON()));
  files.set(join(gatewayDir, 'kustomization.yaml'), gatewayHeader + kustomization(gateway.map(({ file }) => file)));
  const redis = redisResources();
  for (const { file, object } of redis) files.set(join(redisDir, file), redisHeader + toYaml(object.toJSON()));
  files.set(join(redisDir, 'kustomization.yaml'), redisHeader + kustomization(redis.map(({ file }) => file)));
  // Opt-in layers, outside knative/kustomization.yaml: they need Flagger's and the Prometheus
  // operator's CRDs, which a cluster without them would refuse (see knative/README.md).
  const canary = canaryResources(functions, canarySettings);
  for (const { file, object } of canary) files.set(join(canaryDir, file), canaryHeader + toYaml(object));
  files.set(join(canaryDir, 'kustomization.yaml'), canaryHeader + kustomization(canary.map(({ file }) => file)));
  const monitoring = monitoringResources();
  for (const { file, object, applied } of monitoring) {
    files.set(join(monitoringDir, file), applied ? monitoringHeader + toYaml(object) : `${JSON.stringify(object, null, 2)}\n`);
  }
  files.set(join(monitoringDir, 'kustomization.yaml'), monitoringHeader + kustomization(monitoring.filter(({ applied }) => applied).map(({ file }) => file)));
  return files;
}

/** Files under the generated directories that people edit: never removed as stale. */
const handEdited = new Set([gatewaySettingsFile, canarySettingsFile]);

/** Writes the generated files and removes stale ones (a deleted function's, a renamed gateway file). */
export function writeManifests(root: string, release: Release = defaultRelease()): string[] {
  const files = generatedFiles(allFunctions, readGatewaySettings(join(root, gatewaySettingsFile)), release, readCanarySettings(join(root, canarySettingsFile)));
  for (const directory of [functionsDir, gatewayDir, migrateDir, redisDir, canaryDir, monitoringDir]) {
    mkdirSync(join(root, directory), { recursive: true });
    for (const entry of readdirSync(join(root, directory))) {
      const path = join(directory, entry);
      if (!files.has(path) && !handEdited.has(path)) rmSync(join(root, path));
    }
  }
  for (const [path, content] of files) writeFileSync(join(root, path), content);
  return [...files.keys()];
}

/** Rewrites the README's endpoint table from the function declarations. */
export function writeEndpointTable(root: string): void {
  const readme = join(root, readmeFile);
  writeFileSync(readme, withEndpointTable(readFileSync(readme, 'utf8'), allFunctions));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let written: string[];
  try {
    written = writeManifests(process.cwd());
    writeEndpointTable(process.cwd());
  } catch (error) {
    // A bad gateway/settings.json: its field errors are the whole story, the stack is noise.
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`wrote ${written.length} files under ${functionsDir}/, ${gatewayDir}/, ${migrateDir}/ and ${redisDir}/, and the endpoint table of ${readmeFile}\n`);
  // Function modules may hold timers or pools; the generator has nothing left to do.
  process.exit(0);
}
