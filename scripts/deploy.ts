import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { canaryDir } from './canary-manifests.ts';
import { monitoringDir } from './observability-manifests.ts';
import { cluster, writeManifests } from './manifests.ts';
import { postgresImage } from './cluster.ts';
import { migrateDir, migrationJobName, rolesJobName } from './migrate-manifests.ts';
import { redisDir } from './redis-manifests.ts';
import { parseRelease, ReleaseError } from './release.ts';
import type { Release } from './release.ts';

/** What one kubectl call answered. */
export interface Answer {
  status: number;
  stdout: string;
  stderr: string;
}

/** A kubectl call run for diagnosis when a step fails, then one line saying what it means. */
export interface FollowUp {
  args: string[];
  message: string;
}

/**
 * One step of a plan: data, printed as a runbook by --dry-run and executed otherwise. `why` is
 * printed above its command.
 * - run: must exit 0; on failure the follow-up is shown and the deploy stops.
 * - check: reads the answer and refuses (one line) or lets the deploy go on; changes nothing.
 * - once: applies only when `probe` prints nothing; what it prints otherwise is judged by `existing`.
 * - poll: repeats a read until `state` says done or failed, or the time runs out.
 */
export type Step =
  | { kind: 'run'; why: string; args: string[]; onFailure?: FollowUp }
  | { kind: 'check'; why: string; args: string[]; refusal: (answer: Answer) => string | undefined }
  | { kind: 'once'; why: string; probe: string[]; args: string[]; existing: (printed: string) => string | undefined }
  | {
      kind: 'poll';
      why: string;
      args: string[];
      everySeconds: number;
      timeoutSeconds: number;
      state: (answer: Answer) => 'done' | 'failed' | 'pending';
      onFailure: FollowUp;
    };

const ns = ['-n', cluster.namespace];
const knativeDir = fileURLToPath(new URL('../knative/', import.meta.url));
const exampleSecretFile = join(knativeDir, 'secrets', 'database.example.yaml');

/** A release's manifests, rendered by the generator into a directory of their own. */
export interface ReleaseTree {
  release: Release;
  /** The kustomization root: knative/ with the generated files for this release. */
  dir: string;
  /** Every object the kustomization lists. */
  objects: KubeObject[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
}

/**
 * Copies knative/ (without secrets/) under `root` and renders the generated files for the release
 * there: the committed tree, which holds package.json's release, is never edited.
 */
export function renderRelease(
  release: Release,
  { canary = false }: { canary?: boolean } = {},
  root = mkdtempSync(join(tmpdir(), `knfn-${release.name}-`)),
): ReleaseTree {
  const dir = join(root, 'knative');
  cpSync(knativeDir, dir, { recursive: true, filter: (source) => relative(knativeDir, source).split(sep)[0] !== 'secrets' });
  writeManifests(root, release);
  if (canary) {
    // The opt-in layers join this release's kustomization, so their CRDs are checked up front.
    const kustomizationFile = join(dir, 'kustomization.yaml');
    const kustomization = parse(readFileSync(kustomizationFile, 'utf8')) as { resources?: string[] };
    kustomization.resources = [...(kustomization.resources ?? []), ...canaryLayers];
    writeFileSync(kustomizationFile, stringify(kustomization));
  }
  return { release, dir, objects: kustomizationObjects(dir) };
}

/** The layers `--canary` adds: Flagger's Canaries and MetricTemplates, and the PodMonitors they read. */
export const canaryLayers = [relative('knative', canaryDir), relative('knative', monitoringDir)];

function hasCanaryLayers(dir: string): boolean {
  const { resources = [] } = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  return canaryLayers.every((layer) => resources.includes(layer));
}

/** The objects a kustomization lists, following resources into directories (no transformers here). */
export function kustomizationObjects(dir: string): KubeObject[] {
  const { resources = [] } = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  return resources.flatMap((resource) => {
    const path = join(dir, resource);
    if (statSync(path).isDirectory()) return kustomizationObjects(path);
    return parseAllDocuments(readFileSync(path, 'utf8')).map((document) => document.toJSON() as KubeObject);
  });
}

/** What provides each custom kind a release may hold: its CRDs, and where to get it. */
const crdProviders = [
  {
    name: 'Knative Serving',
    install: 'https://knative.dev/docs/install/',
    kinds: { 'serving.knative.dev/Service': 'services.serving.knative.dev' },
  },
  {
    name: 'Knative Eventing',
    install: 'https://knative.dev/docs/install/',
    kinds: {
      'eventing.knative.dev/Broker': 'brokers.eventing.knative.dev',
      'eventing.knative.dev/Trigger': 'triggers.eventing.knative.dev',
      'sources.knative.dev/SinkBinding': 'sinkbindings.sources.knative.dev',
    },
  },
  {
    name: 'the RabbitMQ Cluster Operator',
    install: 'https://www.rabbitmq.com/kubernetes/operator/install-operator (and the Messaging Topology Operator)',
    kinds: { 'rabbitmq.com/RabbitmqCluster': 'rabbitmqclusters.rabbitmq.com' },
  },
  {
    name: "Knative Eventing's RabbitMQ broker (eventing-rabbitmq)",
    install: 'https://knative.dev/docs/eventing/brokers/broker-types/rabbitmq-broker/',
    kinds: { 'eventing.knative.dev/RabbitmqBrokerConfig': 'rabbitmqbrokerconfigs.eventing.knative.dev' },
  },
  {
    name: 'Flagger',
    install: 'https://docs.flagger.app/install/flagger-install-on-kubernetes',
    kinds: { 'flagger.app/Canary': 'canaries.flagger.app', 'flagger.app/MetricTemplate': 'metrictemplates.flagger.app' },
  },
  {
    name: 'the Prometheus Operator',
    install: 'https://prometheus-operator.dev/docs/getting-started/installation/',
    kinds: {
      'monitoring.coreos.com/PodMonitor': 'podmonitors.monitoring.coreos.com',
      'monitoring.coreos.com/ServiceMonitor': 'servicemonitors.monitoring.coreos.com',
      'monitoring.coreos.com/PrometheusRule': 'prometheusrules.monitoring.coreos.com',
    },
  },
] as const;

const builtInGroups = new Set(['', 'apps', 'batch', 'networking.k8s.io', 'policy', 'rbac.authorization.k8s.io', 'autoscaling']);

/** One check per provider the release needs, with every CRD it installs; throws for an unknown kind. */
export function prerequisiteSteps(objects: readonly KubeObject[]): Step[] {
  const needed = new Set<(typeof crdProviders)[number]>();
  for (const { apiVersion, kind } of objects) {
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    if (builtInGroups.has(group)) continue;
    const provider = crdProviders.find((candidate) => `${group}/${kind}` in candidate.kinds);
    if (!provider) throw new Error(`the release holds a ${kind} (${apiVersion}), whose CRD scripts/deploy.ts does not know: add it to crdProviders`);
    needed.add(provider);
  }
  return crdProviders
    .filter((provider) => needed.has(provider))
    .map((provider) => {
      const crds = Object.values(provider.kinds) as string[];
      return {
        kind: 'check',
        why: `${provider.name} must be installed: its CRDs`,
        args: ['get', 'crd', ...crds, '-o', 'name'],
        refusal: (answer) => {
          if (answer.status === 0) return undefined;
          const missing = crds.filter((crd) => answer.stderr.includes(`"${crd}" not found`));
          if (missing.length === 0) return `could not list CRDs: ${firstLine(answer.stderr)}`;
          return `${provider.name} is not installed (no CRD ${missing.join(', ')}): install it first, ${provider.install}`;
        },
      } satisfies Step;
    });
}

/** The placeholder values of knative/secrets/database.example.yaml, by key. */
export function exampleSecret(path = exampleSecretFile): Record<string, string> {
  const { stringData } = parse(readFileSync(path, 'utf8')) as { stringData: Record<string, string> };
  return stringData;
}

/**
 * Why the database Secret cannot be used, or undefined. `answer` is `kubectl get secret -o
 * jsonpath={.data}`: base64 values by key. A value that still holds the example's placeholder
 * password would become PostgreSQL's password on a first install, so it is refused.
 */
export function secretRefusal(answer: Answer, example = exampleSecret()): string | undefined {
  const { name } = cluster.databaseSecret;
  if (answer.status !== 0) {
    if (/NotFound|not found/.test(answer.stderr)) {
      return `the Secret ${name} is not in namespace ${cluster.namespace}: apply knative/000-namespace.yaml, then create the Secret from knative/secrets/database.example.yaml (knative/README.md)`;
    }
    return `could not read the Secret ${name}: ${firstLine(answer.stderr)}`;
  }
  let data: Record<string, string>;
  try {
    data = JSON.parse(answer.stdout.trim() === '' ? '{}' : answer.stdout) as Record<string, string>;
  } catch {
    return `could not read the Secret ${name}: kubectl printed no JSON`;
  }
  const values = new Map(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
  const missing = Object.keys(example).filter((key) => !values.has(key));
  if (missing.length > 0) return `the Secret ${name} has no ${missing.join(', ')}: see knative/secrets/database.example.yaml`;
  const placeholder = example['password'] ?? '';
  const unchanged = Object.keys(example).filter((key) => placeholder !== '' && (values.get(key) ?? '').includes(placeholder));
  if (unchanged.length > 0) {
    return `the Secret ${name} still holds the placeholder ${placeholder} in ${unchanged.join(', ')}: set a real password in each password and its url (knative/README.md)`;
  }
  const redisProblem = redisPasswordProblem(values.get(cluster.redis.passwordKey) ?? '');
  if (redisProblem !== undefined) return `the Secret ${name}: ${cluster.redis.passwordKey} ${redisProblem}`;
  // Each role's connection string must log in as that role with that role's password: the role
  // bootstrap sets the password from the `*-password` key, the workloads connect with the `*-url`.
  for (const role of Object.values(cluster.databaseRoles)) {
    if (role.urlKey === undefined) continue;
    let url: URL;
    try {
      url = new URL(values.get(role.urlKey) ?? '');
    } catch {
      return `the Secret ${name}: ${role.urlKey} is not a postgres:// URL`;
    }
    if (decodeURIComponent(url.username) !== role.name) {
      return `the Secret ${name}: ${role.urlKey} logs in as ${decodeURIComponent(url.username)}, not ${role.name}`;
    }
    if (decodeURIComponent(url.password) !== values.get(role.passwordKey)) {
      return `the Secret ${name}: the password in ${role.urlKey} differs from ${role.passwordKey}, so ${role.name} could not log in`;
    }
  }
  return undefined;
}

/** Redis answers as fast as it is asked: a short password is guessed quickly. */
export const redisPasswordMinLength = 16;

/**
 * Why a Redis password cannot be used, or undefined. The kubelet puts it unencoded into every
 * function's REDIS_URL, and the Redis container writes it unquoted into its config, so only the
 * characters a URL's userinfo and redis.conf take as they are (RFC 3986 unreserved) are allowed.
 */
export function redisPasswordProblem(password: string): string | undefined {
  if (!/^[A-Za-z0-9._~-]*$/.test(password)) return 'may hold only A-Z a-z 0-9 . _ ~ - (it goes unencoded into REDIS_URL): e.g. openssl rand -hex 32';
  if (password.length < redisPasswordMinLength) return `must be at least ${redisPasswordMinLength} characters long: e.g. openssl rand -hex 32`;
  return undefined;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/**
 * Applies a release's Job unless it exists (a Job is immutable, and each of these is idempotent:
 * a finished one stays as the record that this release ran it), then polls it to Complete; Failed
 * stops the deploy with its log.
 */
function jobSteps(name: string, file: string, image: string, why: string, label: string): Step[] {
  return [
    {
      kind: 'once',
      why: `${why}; applied unless job/${name} exists`,
      probe: ['get', 'job', name, ...ns, '--ignore-not-found', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'],
      args: ['apply', '-f', file],
      existing: (existingImage) =>
        existingImage.trim() === image
          ? undefined
          : `job/${name} exists for another image (${existingImage.trim()}): the release name was given to two images; deploy by digest`,
    },
    {
      kind: 'poll',
      why: `job/${name}: Complete goes on, Failed stops here`,
      args: ['get', 'job', name, ...ns, '-o', 'jsonpath={.status.conditions[?(@.status=="True")].type}'],
      everySeconds: 2,
      timeoutSeconds: migrationTimeoutSeconds,
      state: (answer) => {
        const conditions = answer.status === 0 ? answer.stdout.split(/\s+/) : [];
        if (conditions.includes('Failed') || conditions.includes('FailureTarget')) return 'failed';
        return conditions.includes('Complete') ? 'done' : 'pending';
      },
      onFailure: { args: ['logs', `job/${name}`, ...ns, '--tail=100'], message: `the ${label} ${name} failed (its log is above): no function was rolled out` },
    },
  ];
}

/** Seconds the migration Job may take: its activeDeadlineSeconds plus scheduling and the image pull. */
const migrationTimeoutSeconds = 660;

/**
 * The deploy, in an order Knative cannot express, the same on the first run and the hundredth:
 * every refusal comes before anything is applied; the database and wsproxy are up before the
 * release's migration Job runs; no function moves before that Job completed.
 */
export function deploySteps(tree: ReleaseTree): Step[] {
  const { dir, release } = tree;
  const file = (name: string) => join(dir, name);
  const job = migrationJobName(release);
  return [
    ...prerequisiteSteps(tree.objects),
    {
      kind: 'check',
      why: `the database Secret exists (created by hand, knative/README.md) and holds no placeholder of database.example.yaml`,
      args: ['get', 'secret', cluster.databaseSecret.name, ...ns, '-o', 'jsonpath={.data}'],
      refusal: (answer) => secretRefusal(answer),
    },
    { kind: 'run', why: 'the namespace (it exists with the Secret; this keeps its labels current)', args: ['apply', '-f', file('000-namespace.yaml')] },
    {
      kind: 'run',
      why: 'PostgreSQL, the wsproxy and the policies that admit only the functions and the migration Job',
      args: ['apply', '-f', file('200-postgres.yaml'), '-f', file('250-networkpolicy.yaml')],
    },
    {
      kind: 'run',
      why: 'Redis (rate-limit counters, requests in flight, caches), starting while the database is migrated',
      args: ['apply', '-k', join(dir, relative('knative', redisDir))],
    },
    { kind: 'run', why: 'PostgreSQL accepts connections', args: ['rollout', 'status', 'statefulset/postgres', ...ns, '--timeout=300s'] },
    { kind: 'run', why: 'the wsproxy the migration and the functions connect through', args: ['rollout', 'status', 'deployment/wsproxy', ...ns, '--timeout=120s'] },
    {
      kind: 'run',
      why: 'db/roles.sql for the role bootstrap Jobs',
      args: ['apply', '-f', join(dir, relative('knative', migrateDir), 'roles-configmap.yaml')],
    },
    ...jobSteps(
      rolesJobName(release, 'roles'),
      join(dir, relative('knative', migrateDir), 'roles-job.yaml'),
      postgresImage,
      'the database roles (db/roles.sql as the superuser): the migration connects as the schema owner',
      'role bootstrap Job',
    ),
    ...jobSteps(
      job,
      join(dir, relative('knative', migrateDir), 'job.yaml'),
      release.image,
      "the release's migration Job, as the schema owner",
      'migration Job',
    ),
    ...jobSteps(
      rolesJobName(release, 'grants'),
      join(dir, relative('knative', migrateDir), 'grants-job.yaml'),
      postgresImage,
      'db/roles.sql again: grants on what the migration created (the stats role on request_stats)',
      'role bootstrap Job',
    ),
    {
      kind: 'run',
      why: 'eventing (Broker, Trigger, SinkBinding, dead-letter sink) and the nightly backup',
      args: ['apply', '-f', file('500-eventing.yaml'), '-f', file('600-backup-cronjob.yaml')],
    },
    {
      kind: 'run',
      why: 'Redis answers before the functions that share it start (without it they would only degrade)',
      args: ['rollout', 'status', 'statefulset/redis', ...ns, '--timeout=300s'],
      onFailure: { args: ['logs', 'statefulset/redis', ...ns, '--tail=50'], message: 'Redis did not become ready: its log is above (kubectl describe pod redis-0 -n knfn)' },
    },
    { kind: 'run', why: 'the public gateway: it starts without the functions and answers 502 for one not there yet', args: ['apply', '-k', file('gateway')] },
    ...(hasCanaryLayers(dir)
      ? canaryLayers.map((layer): Step => ({
          kind: 'run',
          why: `${layer}: before the functions, so Flagger analyses the new Revisions step by step instead of moving all traffic at once`,
          args: ['apply', '-k', file(layer)],
        }))
      : []),
    { kind: 'run', why: "every function Service, at the release's revision names", args: ['apply', '-k', file('functions')] },
    {
      kind: 'run',
      why: 'the whole release, as `kubectl apply -k knative/` would: anything not applied above; what was stays unchanged',
      args: ['apply', '-k', dir],
    },
    {
      kind: 'run',
      why: "every function's revision of this release is ready",
      args: ['wait', '--for=condition=Ready', 'ksvc', '--all', ...ns, '--timeout=300s'],
      onFailure: { args: ['get', 'ksvc', ...ns], message: 'a Service did not become ready: READY and REASON are above (kubectl describe ksvc <name> -n knfn)' },
    },
    { kind: 'run', why: 'the public host answers once the gateway pods are ready', args: ['rollout', 'status', 'deployment/gateway', ...ns, '--timeout=120s'] },
  ];
}

/**
 * Deletes what the kustomization created except what holds data: the namespace and the backup
 * volume are labelled knfn.dev/keep, the StatefulSet's volume outlives it (retention: Retain), and
 * the hand-made Secret is not part of the kustomization at all.
 */
export function undeploySteps(): Step[] {
  return [
    {
      kind: 'run',
      why: 'everything but the namespace, the database volume, the backups and the Secret',
      args: ['delete', '-k', 'knative/', '-l', 'knfn.dev/keep!=true', '--ignore-not-found'],
    },
    {
      kind: 'run',
      why: "every release's migration and role Jobs, not only the ones knative/ names",
      args: ['delete', 'job', '-l', 'app.kubernetes.io/name in (migrate,db-roles)', ...ns, '--ignore-not-found'],
    },
  ];
}

export function formatCommand(args: readonly string[]): string {
  return `kubectl ${args.map((arg) => (/^[\w./=:,-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`)).join(' ')}`;
}

/** A step as a runbook entry: what it is for, then the commands. */
export function formatStep(step: Step): string {
  switch (step.kind) {
    case 'run':
    case 'check':
      return `# ${step.why}\n${formatCommand(step.args)}`;
    case 'once':
      return `# ${step.why}\n${formatCommand(step.probe)}\n# only when that printed nothing:\n${formatCommand(step.args)}`;
    case 'poll':
      return `# ${step.why} (every ${step.everySeconds}s, at most ${step.timeoutSeconds}s)\n${formatCommand(step.args)}\n# when it failed:\n${formatCommand(step.onFailure.args)}`;
  }
}

export interface Io {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  /** Let kubectl write to the terminal itself (rollout progress as it happens). */
  inheritOutput: boolean;
}

class Stop extends Error {}

/** Runs the steps in order; the exit code of the first that fails or refuses, else 0. */
export async function runSteps(steps: readonly Step[], io: Io): Promise<number> {
  const kubectl = (args: readonly string[], show: boolean): Answer => {
    const inherit = show && io.inheritOutput;
    const result = spawnSync('kubectl', args, { env: io.env, encoding: 'utf8', stdio: inherit ? ['ignore', 'inherit', 'inherit'] : 'pipe' });
    if (result.error) throw new Stop(`kubectl could not be started: ${result.error.message}`);
    const answer = { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
    if (show && !inherit) {
      io.out(answer.stdout);
      io.err(answer.stderr);
    }
    return answer;
  };
  const followUp = (followUpStep: FollowUp): never => {
    io.out(`${formatCommand(followUpStep.args)}\n`);
    kubectl(followUpStep.args, true);
    throw new Stop(followUpStep.message);
  };

  try {
    for (const step of steps) {
      io.out(`${formatStep(step)}\n`);
      switch (step.kind) {
        case 'run': {
          const { status } = kubectl(step.args, true);
          if (status === 0) break;
          if (step.onFailure) followUp(step.onFailure);
          throw new Stop(`stopped: ${formatCommand(step.args)} exited ${status}`);
        }
        case 'check': {
          const refusal = step.refusal(kubectl(step.args, false));
          if (refusal !== undefined) throw new Stop(`refused: ${refusal}`);
          break;
        }
        case 'once': {
          const probe = kubectl(step.probe, false);
          if (probe.status !== 0) throw new Stop(`stopped: ${formatCommand(step.probe)} exited ${probe.status}: ${firstLine(probe.stderr)}`);
          if (probe.stdout.trim() !== '') {
            const refusal = step.existing(probe.stdout);
            if (refusal !== undefined) throw new Stop(`refused: ${refusal}`);
            io.out('# exists: left alone\n');
            break;
          }
          if (kubectl(step.args, true).status !== 0) throw new Stop(`stopped: ${formatCommand(step.args)} failed`);
          break;
        }
        case 'poll': {
          const deadline = io.now() + step.timeoutSeconds * 1000;
          for (;;) {
            const state = step.state(kubectl(step.args, false));
            if (state === 'done') break;
            if (state === 'failed') followUp(step.onFailure);
            if (io.now() >= deadline) followUp({ ...step.onFailure, message: `timed out after ${step.timeoutSeconds}s: ${step.onFailure.message}` });
            await io.sleep(step.everySeconds * 1000);
          }
          break;
        }
      }
    }
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
    io.err(`npm run deploy: ${error.message}\n`);
    return 1;
  }
  return 0;
}

const usage = 'usage: npm run deploy -- --image <repository>@sha256:<digest> [--canary] [--dry-run]   |   npm run undeploy [-- --dry-run]';

/** The command line: `deploy --image <ref> [--dry-run]` or `undeploy [--dry-run]`; returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [action, ...rest] = argv;
  let image: string | undefined;
  let dryRun = false;
  let canary = false;
  for (let index = 0; index < rest.length; index++) {
    const flag = rest[index] ?? '';
    if (flag === '--dry-run') dryRun = true;
    else if (flag === '--canary') canary = true;
    else if (flag === '--image') image = rest[++index] ?? '';
    else if (flag.startsWith('--image=')) image = flag.slice('--image='.length);
    else {
      io.err(`npm run deploy: unknown argument ${flag}\n${usage}\n`);
      return 2;
    }
  }
  if (action === 'undeploy') return dryRun ? print(undeploySteps(), io) : runSteps(undeploySteps(), io);
  if (action !== 'deploy') {
    io.err(`${usage}\n`);
    return 2;
  }
  if (image === undefined) {
    io.err('npm run deploy: refused: no --image: deploy a pushed image by digest (npm run image -- --push <registry>/knfn prints the command)\n');
    return 2;
  }
  let release: Release;
  try {
    release = parseRelease(image);
  } catch (error) {
    if (!(error instanceof ReleaseError)) throw error;
    io.err(`npm run deploy: refused: ${error.message}\n`);
    return 2;
  }

  const tree = renderRelease(release, { canary });
  const root = join(tree.dir, '..');
  try {
    const steps = deploySteps(tree);
    io.out(`# release ${release.name}: ${release.image}, manifests rendered into ${tree.dir}\n`);
    if (dryRun) return print(steps, io);
    const status = await runSteps(steps, io);
    if (status === 0) io.out(`# release ${release.name} is out: kubectl get revisions -n ${cluster.namespace} -L knfn.dev/release\n`);
    return status;
  } finally {
    // A dry run keeps the rendered tree: the printed commands point into it.
    if (!dryRun && existsSync(root)) rmSync(root, { recursive: true, force: true });
  }
}

function print(steps: readonly Step[], io: Io): number {
  io.out(`${steps.map(formatStep).join('\n')}\n`);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const io: Io = {
    env: process.env,
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: Date.now,
    inheritOutput: true,
  };
  // Function modules (loaded by the generator) may hold timers or pools: exit when done.
  process.exit(await main(process.argv.slice(2), io));
}
