import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Broker } from '@kubernetes-models/knative/eventing.knative.dev/v1/Broker';
import { Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger';
import { SinkBinding } from '@kubernetes-models/knative/sources.knative.dev/v1/SinkBinding';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service as CoreService } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { canaryDir, canarySettingsFile } from '../scripts/canary-manifests.ts';
import { functionTimeoutSeconds } from '../scripts/cluster.ts';
import { gatewayDir, gatewaySettingsFile, readGatewaySettings } from '../scripts/gateway-manifests.ts';
import { cluster, functionService, functionsDir, generatedFiles, validateKnativeService, withServingPort } from '../scripts/manifests.ts';
import { migrateDir, migrationJobName } from '../scripts/migrate-manifests.ts';
import { monitoringDir } from '../scripts/observability-manifests.ts';
import { redisDir } from '../scripts/redis-manifests.ts';
import { defaultRelease, imageProblem, parseRelease } from '../scripts/release.ts';
import { defaultPoolMax } from '../runtime/define-function.ts';
import { renderKustomization as render } from './support/kustomize.ts';
import { validateRabbitmqBrokerConfig, validateRabbitmqCluster } from './support/rabbitmq-models.ts';
import { strictSchemaErrors } from './support/strict-schema.ts';

const root = new URL('../', import.meta.url).pathname;

interface Container {
  name: string;
  image?: string;
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  livenessProbe?: { httpGet?: { path?: string; port?: unknown } };
  readinessProbe?: { httpGet?: { path?: string; port?: unknown } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
}

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    type?: string;
    rules?: { host?: string }[];
    template?: {
      metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: { containers?: Container[]; automountServiceAccountToken?: boolean; containerConcurrency?: number; timeoutSeconds?: number };
    };
  };
}

/** Renders the kustomization as `kubectl apply -k knative/` would, without a cluster. */
function renderKustomization(directory = join(root, 'knative')): KubeObject[] {
  return render<KubeObject>(directory);
}

const validators: Record<string, (data: unknown) => void> = {
  'v1/Namespace': (data) => new Namespace(data as Namespace).validate(),
  'v1/Service': (data) => new CoreService(data as CoreService).validate(),
  'v1/ConfigMap': (data) => new ConfigMap(data as ConfigMap).validate(),
  'v1/PersistentVolumeClaim': (data) => new PersistentVolumeClaim(data as PersistentVolumeClaim).validate(),
  'apps/v1/StatefulSet': (data) => new StatefulSet(data as StatefulSet).validate(),
  'apps/v1/Deployment': (data) => new Deployment(data as Deployment).validate(),
  'batch/v1/Job': (data) => new Job(data as Job).validate(),
  'batch/v1/CronJob': (data) => new CronJob(data as CronJob).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (data) => new NetworkPolicy(data as NetworkPolicy).validate(),
  'networking.k8s.io/v1/Ingress': (data) => new Ingress(data as Ingress).validate(),
  'policy/v1/PodDisruptionBudget': (data) => new PodDisruptionBudget(data as PodDisruptionBudget).validate(),
  'serving.knative.dev/v1/Service': validateKnativeService,
  'eventing.knative.dev/v1/Broker': (data) => new Broker(data as Broker).validate(),
  'eventing.knative.dev/v1/Trigger': (data) => new Trigger(data as Trigger).validate(),
  // The generated SinkBinding schema marks `status` required (its Go field lacks omitempty); the
  // API server fills it in, so an empty one stands in for it here.
  'sources.knative.dev/v1/SinkBinding': (data) => new SinkBinding({ ...(data as SinkBinding), status: {} }).validate(),
  'rabbitmq.com/v1beta1/RabbitmqCluster': validateRabbitmqCluster,
  'eventing.knative.dev/v1alpha1/RabbitmqBrokerConfig': validateRabbitmqBrokerConfig,
};

const rendered = renderKustomization();
const functionServices = rendered.filter(
  (object) => object.kind === 'Service' && object.apiVersion === 'serving.knative.dev/v1' && object.metadata.labels?.['app.kubernetes.io/component'] === 'function',
);

/** Every container image anywhere in an object: pods, pod templates, a CronJob's job template. */
function containerImages(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(containerImages);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    (key === 'containers' || key === 'initContainers') && Array.isArray(child)
      ? child.map((container: { image?: string }) => container.image ?? '(no image)')
      : containerImages(child),
  );
}

function onlyContainer(object: KubeObject): Container {
  const containers = object.spec?.template?.spec?.containers ?? [];
  expect(containers, `${object.kind} ${object.metadata.name}`).toHaveLength(1);
  return containers[0] as Container;
}

describe('generated function manifests', () => {
  it('match the checked-in files under knative/functions, gateway, migrate, redis, canary and monitoring (run npm run manifests)', () => {
    const expected = generatedFiles();
    const onDisk = [functionsDir, gatewayDir, migrateDir, redisDir, canaryDir, monitoringDir]
      .flatMap((directory) => readdirSync(join(root, directory)).map((file) => join(directory, file)))
      .filter((path) => path !== gatewaySettingsFile && path !== canarySettingsFile)
      .sort();
    expect(onDisk).toEqual([...expected.keys()].sort());
    for (const [path, content] of expected) {
      expect(readFileSync(join(root, path), 'utf8'), `${path} drifted`).toBe(content);
    }
  });

  it('carry a declared scale-to-zero retention, and none when undeclared', () => {
    const [first] = allFunctions;
    if (!first) throw new Error('no functions declared');
    const retained = functionService({ ...first, scale: { ...first.scale, scaleToZeroRetention: '30s' } });
    const key = 'autoscaling.knative.dev/scale-to-zero-pod-retention-period';
    expect(retained.spec?.template?.metadata?.annotations?.[key]).toBe('30s');
    expect(functionService({ ...first, scale: { min: 0, max: 4, target: 7 } }).spec?.template?.metadata?.annotations).toEqual({
      'autoscaling.knative.dev/min-scale': '0',
      'autoscaling.knative.dev/max-scale': '4',
      'autoscaling.knative.dev/target': '7',
    });
  });

  it('are identical from one run to the next', () => {
    expect([...generatedFiles()]).toEqual([...generatedFiles()]);
  });
});

describe('kubectl kustomize knative/', () => {
  it('renders every function plus the database, migration, eventing and backup objects', () => {
    expect(functionServices.map((object) => object.metadata.name).sort()).toEqual(allFunctions.map((definition) => definition.name).sort());
    const kinds = new Set(rendered.map((object) => `${object.kind}/${object.metadata.name}`));
    for (const required of [
      'Namespace/knfn',
      'StatefulSet/postgres',
      'Deployment/wsproxy',
      `Job/${migrationJobName(defaultRelease())}`,
      'Broker/default',
      'Trigger/message-saved',
      'SinkBinding/save-to-broker',
      'RabbitmqCluster/rabbitmq',
      'RabbitmqBrokerConfig/default',
      'CronJob/postgres-backup',
      'NetworkPolicy/postgres-ingress',
      'ConfigMap/gateway',
      'Deployment/gateway',
      'Service/gateway',
      'Ingress/gateway',
      'PodDisruptionBudget/gateway',
      'StatefulSet/redis',
      'Service/redis',
      'ConfigMap/redis',
      'NetworkPolicy/redis-ingress',
    ]) {
      expect(kinds, required).toContain(required);
    }
  });

  it('puts every object in the knfn namespace and validates each against its schema', () => {
    for (const object of rendered) {
      const key = `${object.apiVersion}/${object.kind}`;
      const validate = validators[key];
      expect(validate, `no schema registered for ${key}`).toBeDefined();
      expect(() => validate?.(object), `${key} ${object.metadata.name}`).not.toThrow();
      if (object.kind !== 'Namespace') expect(object.metadata.namespace, `${key} ${object.metadata.name}`).toBe(cluster.namespace);
    }
  });

  it('declares no field its schema lacks (the models\' validate() lets unknown fields through)', () => {
    // Knative fills in a probe's port and the API server a SinkBinding's status, as validators above.
    const objects = rendered.map((object) => {
      if (object.apiVersion === 'serving.knative.dev/v1') return withServingPort(object);
      return object.kind === 'SinkBinding' ? { ...object, status: {} } : object;
    });
    expect(strictSchemaErrors(objects)).toEqual([]);
  });

  it('keeps every function cluster-local: the gateway Ingress is the only public host', () => {
    for (const object of functionServices) {
      expect(object.metadata.labels?.['networking.knative.dev/visibility'], object.metadata.name).toBe('cluster-local');
    }
    const exposing = rendered.filter(
      (object) =>
        ['Ingress', 'HTTPRoute', 'Gateway', 'DomainMapping', 'Route'].includes(object.kind) ||
        (object.apiVersion === 'serving.knative.dev/v1' && object.metadata.labels?.['networking.knative.dev/visibility'] !== 'cluster-local') ||
        (object.kind === 'Service' && object.apiVersion === 'v1' && ['LoadBalancer', 'NodePort'].includes(object.spec?.type ?? 'ClusterIP')),
    );
    expect(exposing.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(['Ingress/gateway']);
    expect(rendered.flatMap((object) => object.spec?.rules ?? []).map((rule) => rule.host)).toEqual([readGatewaySettings().host]);
  });

  it('never holds a Secret, a password or a connection string', () => {
    expect(rendered.filter((object) => object.kind === 'Secret')).toEqual([]);
    const text = JSON.stringify(rendered);
    expect(text).not.toMatch(/postgres(ql)?:\/\//);
    expect(text).not.toContain('CHANGE_ME');
    // A Redis URL carries only the reference the kubelet fills in from the Secret.
    expect((text.match(/rediss?:\/\/[^@"]*@/g) ?? []).filter((prefix) => prefix !== 'redis://:$(REDIS_PASSWORD)@')).toEqual([]);
    for (const object of rendered) {
      for (const container of object.spec?.template?.spec?.containers ?? []) {
        for (const variable of container.env ?? []) {
          if (/PASSWORD|DATABASE_URL|SECRET|TOKEN|AUTH$/.test(variable.name)) {
            expect(variable.value, `${object.metadata.name} ${variable.name} is inline`).toBeUndefined();
            expect(variable.valueFrom?.secretKeyRef?.name).toBe(cluster.databaseSecret.name);
          }
        }
      }
    }
  });

  it("ships one release: package.json's version of our image, in every function and the migration Job, named after it", () => {
    const release = defaultRelease();
    expect(release).toEqual({ image: `ghcr.io/knfn/knfn:${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}`, name: expect.stringMatching(/^v\d/) });
    const released = rendered.filter((object) => object.metadata.labels?.['knfn.dev/release'] !== undefined);
    expect(released.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual(
      [`Job/${migrationJobName(release)}`, ...functionServices.map((object) => `Service/${object.metadata.name}`)].sort(),
    );
    for (const object of released) {
      expect(object.metadata.labels?.['knfn.dev/release'], object.metadata.name).toBe(release.name);
      expect(onlyContainer(object).image, object.metadata.name).toBe(release.image);
    }
    for (const object of functionServices) {
      expect(object.spec?.template?.metadata?.name).toBe(`${object.metadata.name}-${release.name}`);
      expect(object.spec?.template?.metadata?.labels?.['knfn.dev/release']).toBe(release.name);
    }
  });

  it('renders another release with its own image and new revision and Job names, nothing else changed', () => {
    const release = parseRelease(`registry.example/knfn@sha256:${'ab'.repeat(32)}`);
    const files = generatedFiles(allFunctions, readGatewaySettings(), release);
    const objects = [...files]
      .filter(([path]) => !path.endsWith('kustomization.yaml') && path.endsWith('.yaml'))
      .flatMap(([, text]) => parseAllDocuments(text).map((document) => document.toJSON() as KubeObject));
    const job = objects.find((object) => object.kind === 'Job');
    expect(job?.metadata.name).toBe('migrate-sha-abababababab');
    expect(onlyContainer(job as KubeObject).image).toBe(release.image);
    const services = objects.filter((object) => object.apiVersion === 'serving.knative.dev/v1');
    expect(services.map((object) => object.spec?.template?.metadata?.name).sort()).toEqual(
      allFunctions.map((definition) => `${definition.name}-sha-abababababab`).sort(),
    );
    for (const object of services) expect(onlyContainer(object).image).toBe(release.image);
    // The gateway does not name a release: a new image never rolls the public entry.
    const committed = generatedFiles();
    for (const [path, text] of files) {
      if (path.startsWith(gatewayDir)) expect(text, path).toBe(committed.get(path));
    }
  });

  it('pins every image under knative/: none is latest, untagged or a moving major tag, and ours is the release\'s', () => {
    // The whole tree and every layer beside it (canary/, monitoring/ are applied on their own).
    const layers = readdirSync(join(root, 'knative'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, 'knative', entry.name, 'kustomization.yaml')))
      .flatMap((entry) => renderKustomization(join(root, 'knative', entry.name)));
    const images = [...rendered, ...layers].flatMap((object) =>
      containerImages(object).map((image) => ({ image, owner: `${object.kind}/${object.metadata.name}` })),
    );
    expect(images.length).toBeGreaterThan(allFunctions.length + 4);
    expect(images.flatMap(({ image, owner }) => {
      const problem = imageProblem(image, defaultRelease());
      return problem === undefined ? [] : [`${owner}: ${problem}`];
    })).toEqual([]);
  });

  it('routes message.saved events to message-worker with retries and a dead-letter sink', () => {
    const trigger = rendered.find((object) => object.kind === 'Trigger') as unknown as {
      spec: { filter: { attributes: Record<string, string> }; subscriber: { ref: { name: string }; uri: string }; delivery: Record<string, unknown> };
    };
    expect(trigger.spec.filter.attributes).toEqual({ type: 'dev.knfn.message.saved' });
    expect(trigger.spec.subscriber).toMatchObject({ ref: { kind: 'Service', name: 'message-worker' }, uri: '/_events/message' });
    expect(trigger.spec.delivery).toMatchObject({ backoffPolicy: 'exponential' });
    expect(trigger.spec.delivery['deadLetterSink']).toEqual({
      ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dead-letters' },
      uri: '/_events/dead-letter',
    });
  });
});

describe.each(allFunctions.map((definition) => [definition.name, definition] as const))('the %s Service', (name, definition) => {
  const service = () => {
    const found = functionServices.find((object) => object.metadata.name === name);
    if (!found) throw new Error(`no Knative Service ${name} rendered`);
    return found;
  };

  it('scales to zero within its declared bounds', () => {
    const annotations = service().spec?.template?.metadata?.annotations ?? {};
    expect(annotations['autoscaling.knative.dev/min-scale']).toBe('0');
    expect(annotations['autoscaling.knative.dev/max-scale']).toBe(String(definition.scale.max));
    expect(annotations['autoscaling.knative.dev/target']).toBe(String(definition.scale.target));
    expect(service().spec?.template?.spec?.containerConcurrency).toBeGreaterThanOrEqual(definition.scale.target);
  });

  it('probes /health and /health/ready without a port, readiness without a period so Knative probes fast at start-up', () => {
    const container = onlyContainer(service());
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/health' });
    // periodSeconds (and with it failureThreshold) would turn queue-proxy's start-up probing off.
    expect(container.readinessProbe).toEqual({ httpGet: { path: '/health/ready' } });
  });

  it('runs its own bundle with FUNCTION set, its role\'s database URL from the Secret and its pool size', () => {
    const container = onlyContainer(service());
    expect(container.command).toEqual(['node', `dist/functions/${name}/main.js`]);
    const env = new Map((container.env ?? []).map((variable) => [variable.name, variable]));
    expect(env.get('FUNCTION')?.value).toBe(name);
    // Database work: the app role; statistics only: the role that can write request_stats and nothing else.
    const key = definition.usesDatabase ? 'app-url' : 'stats-url';
    expect(env.get('DATABASE_URL')).toEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'knfn-database', key } } });
    expect(env.get('DATABASE_POOL_MAX')?.value).toBe(String(definition.usesDatabase ? (definition.poolMax ?? defaultPoolMax) : 1));
    expect(env.get('DATABASE_WS_PROXY')?.value).toBe(cluster.wsProxy);
    expect(env.get('MIGRATE_ON_START')?.value).toBe('false');
  });

  it('reaches Redis with the Secret\'s password expanded by the kubelet, and trusts only queue-proxy\'s forwarding', () => {
    const env = onlyContainer(service()).env ?? [];
    const names = env.map((variable) => variable.name);
    expect(env.find((variable) => variable.name === 'REDIS_PASSWORD')).toEqual({
      name: 'REDIS_PASSWORD',
      valueFrom: { secretKeyRef: { name: 'knfn-database', key: 'redis-password' } },
    });
    expect(env.find((variable) => variable.name === 'REDIS_URL')?.value).toBe('redis://:$(REDIS_PASSWORD)@redis.knfn.svc.cluster.local:6379/0');
    // The kubelet expands a reference only to a variable defined earlier in the list.
    expect(names.indexOf('REDIS_PASSWORD')).toBeLessThan(names.indexOf('REDIS_URL'));
    expect(env.find((variable) => variable.name === 'TRUSTED_PROXIES')?.value).toBe('127.0.0.1,::1');
  });

  it('answers within the timeout the gateway waits longer than', () => {
    expect(service().spec?.template?.spec?.timeoutSeconds).toBe(functionTimeoutSeconds);
  });

  it('has resource requests and limits', () => {
    const { resources } = onlyContainer(service());
    expect(Object.keys(resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
  });

  it('runs as a fixed non-root uid with a read-only root, no privileges and no API token', () => {
    expect(onlyContainer(service()).securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 10001,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(service().spec?.template?.spec?.automountServiceAccountToken).toBe(false);
    expect(service().spec?.template?.metadata?.labels?.['app.kubernetes.io/part-of']).toBe('knfn');
  });
});

it('points log-output at the pings Service inside the cluster', () => {
  const logOutput = functionServices.find((object) => object.metadata.name === 'log-output');
  const env = logOutput?.spec?.template?.spec?.containers?.[0]?.env ?? [];
  expect(env.find((variable) => variable.name === 'PINGS_URL')?.value).toBe('http://pings.knfn.svc.cluster.local/pings');
});

describe("Node's command lines", () => {
  // A V8 flag on the command line (even --expose-gc) changes the hash V8 checks code caches
  // against: Node's built-in modules would then be compiled from source on every cold start.
  // Each Service's exact command is checked with the rest of its container above.
  it('are a plain `node` in the image and npm start', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd === undefined ? undefined : JSON.parse(cmd)).toEqual(['node', 'dist/main.js']);
    const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts['start']).toBe('exec node --import tsx runtime/main.ts');
  });

  it("warm the image's compile cache as the Services' user and command line, which Node keys the cache by", () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(finalStage).toMatch(/^\s+NODE_COMPILE_CACHE=\/app\/compile-cache$/m);
    const warm = /^RUN node dist\/warm-compile-cache\.js$/m.exec(finalStage);
    const user = /^USER (\d+):(\d+)$/m.exec(finalStage);
    expect(warm).not.toBeNull();
    expect(user?.index).toBeLessThan(warm?.index ?? 0);
    const serviceUsers = new Set(functionServices.map((object) => onlyContainer(object).securityContext?.['runAsUser']));
    expect([...serviceUsers]).toEqual([Number(user?.[1])]);
  });
});
