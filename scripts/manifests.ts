import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { stringify } from 'yaml';
import { allFunctions } from '../functions/index.ts';
import { functionBundle } from './build.ts';
import type { FunctionDefinition } from '../runtime/define-function.ts';

/** Everything a function Service shares with the hand-written manifests under knative/. */
export const cluster = {
  namespace: 'knfn',
  /** One image serves every function (FUNCTION picks one); kustomize `images:` pins the real tag. */
  image: 'ghcr.io/knfn/knfn:latest',
  databaseSecret: { name: 'knfn-database', urlKey: 'url' },
  /** The in-cluster neondatabase/wsproxy (200-postgres.yaml), in the form DATABASE_WS_PROXY takes. */
  wsProxy: 'wsproxy.knfn.svc.cluster.local:80/v1',
  partOf: 'knfn',
} as const;

export const functionsDir = 'knative/functions';

/** Functions only other cluster workloads call (the Trigger), kept off the public ingress. */
const clusterLocal = new Set(['message-worker']);

/** Extra env a function needs to reach another one, always over its Knative route. */
const extraEnv: Record<string, IEnvVar[]> = {
  'log-output': [{ name: 'PINGS_URL', value: `http://pings.${cluster.namespace}.svc.cluster.local/pings` }],
};

/**
 * Knative probes the serving port itself and rejects any other, so the port is left out; the core
 * Probe type (which Knative's schema reuses) insists on one, hence the cast.
 */
function knativeProbe(path: string, periodSeconds: number): IProbe {
  return { httpGet: { path }, periodSeconds, failureThreshold: 3 } as IProbe;
}

/** A fixed uid: runAsNonRoot can only be verified by the kubelet for a numeric user. */
const runAsUser = 10001;

/** The Knative Service for one function, validated against the Knative schema. */
export function functionService(definition: FunctionDefinition): Service {
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
  };
  const serviceLabels = clusterLocal.has(name) ? { ...labels, 'networking.knative.dev/visibility': 'cluster-local' } : labels;
  const service = new Service({
    metadata: {
      name,
      namespace: cluster.namespace,
      labels: serviceLabels,
      annotations: { 'knfn.dev/description': definition.description },
    },
    spec: {
      template: {
        metadata: { labels, annotations },
        spec: {
          // Soft target for the autoscaler, hard cap at twice that so a burst queues in the
          // queue-proxy instead of piling onto one Node event loop.
          containerConcurrency: scale.target * 2,
          timeoutSeconds: 30,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          containers: [
            {
              name: 'function',
              image: cluster.image,
              // Its own bundle: only this function's code is loaded, which shortens cold starts.
              command: ['node', functionBundle(name)],
              ports: [{ name: 'http1', containerPort: 8080 }],
              env: [
                { name: 'FUNCTION', value: name },
                {
                  name: 'DATABASE_URL',
                  valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: cluster.databaseSecret.urlKey } },
                },
                { name: 'DATABASE_WS_PROXY', value: cluster.wsProxy },
                { name: 'MIGRATE_ON_START', value: 'false' },
                ...(extraEnv[name] ?? []),
              ],
              livenessProbe: knativeProbe('/health', 10),
              readinessProbe: knativeProbe('/health/ready', 5),
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
  const copy = structuredClone(data) as { spec?: { template?: { spec?: { containers?: ProbedContainer[] } } } };
  for (const container of copy.spec?.template?.spec?.containers ?? []) {
    const port = container.ports?.[0]?.containerPort ?? 8080;
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      if (probe?.httpGet && probe.httpGet.port === undefined) probe.httpGet.port = port;
    }
  }
  new Service(copy as ConstructorParameters<typeof Service>[0]).validate();
}

interface ProbedContainer {
  ports?: { containerPort?: number }[];
  livenessProbe?: { httpGet?: { port?: number } };
  readinessProbe?: { httpGet?: { port?: number } };
  startupProbe?: { httpGet?: { port?: number } };
}

const header = '# Generated by `npm run manifests` from functions/index.ts: edit the function, not this file.\n';

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, sortMapEntries: false });
}

/** Every generated file, path relative to the project root -> content. */
export function generatedFiles(functions: readonly FunctionDefinition[] = allFunctions): Map<string, string> {
  const files = new Map<string, string>();
  const names = functions.map((definition) => definition.name).sort();
  for (const definition of [...functions].sort((a, b) => a.name.localeCompare(b.name))) {
    files.set(join(functionsDir, `${definition.name}.yaml`), header + toYaml(functionService(definition).toJSON()));
  }
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: names.map((name) => `${name}.yaml`),
  };
  files.set(join(functionsDir, 'kustomization.yaml'), header + toYaml(kustomization));
  return files;
}

/** Writes the generated files and removes those of functions that no longer exist. */
export function writeManifests(root: string): string[] {
  const files = generatedFiles();
  mkdirSync(join(root, functionsDir), { recursive: true });
  for (const stale of readdirSync(join(root, functionsDir))) {
    if (!files.has(join(functionsDir, stale))) rmSync(join(root, functionsDir, stale));
  }
  for (const [path, content] of files) writeFileSync(join(root, path), content);
  return [...files.keys()];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const written = writeManifests(process.cwd());
  process.stdout.write(`wrote ${written.length} files under ${functionsDir}/\n`);
  // Function modules may hold timers or pools; the generator has nothing left to do.
  process.exit(0);
}
