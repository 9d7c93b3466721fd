import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import { main, prerequisiteSteps, secretRefusal, undeploySteps } from '../scripts/deploy.ts';
import type { Io } from '../scripts/deploy.ts';
import { imageProblem, parseRelease } from '../scripts/release.ts';
import { fakeCommands } from './support/fake-command.ts';
import type { FakeCommands, FakeRule } from './support/fake-command.ts';
import { renderKustomization } from './support/kustomize.ts';

const root = new URL('../', import.meta.url).pathname;
const digest = `sha256:${'5e'.repeat(32)}`;
const image = `registry.example/team/knfn@${digest}`;
const release = parseRelease(image);

interface Run {
  status: number;
  out: string;
  err: string;
}

async function deploy(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  let out = '';
  let err = '';
  // A clock the polls advance: a Job that never ends times out after its seconds of polls, at once.
  let clock = 0;
  const io: Io = {
    env,
    out: (text) => (out += text),
    err: (text) => (err += text),
    sleep: async (ms) => {
      clock += ms;
    },
    now: () => clock,
    inheritOutput: false,
  };
  const status = await main(args, io);
  return { status, out, err };
}

/** The kubectl lines of a dry run, the rendered directory written as <release>. */
function commands(run: Run): string[] {
  const dir = /manifests rendered into (\S+)/.exec(run.out)?.[1];
  if (dir === undefined) throw new Error(`no rendered directory in:\n${run.out}`);
  return run.out
    .split('\n')
    .filter((line) => line.startsWith('kubectl '))
    .map((line) => line.replaceAll(dir, '<release>'));
}

const dryRunDirs: string[] = [];
afterEach(() => {
  for (const dir of dryRunDirs.splice(0)) rmSync(join(dir, '..'), { recursive: true, force: true });
});

async function dryRun(...flags: string[]): Promise<Run> {
  const run = await deploy(['deploy', '--image', image, '--dry-run', ...flags]);
  const dir = /manifests rendered into (\S+)/.exec(run.out)?.[1];
  if (dir !== undefined) dryRunDirs.push(dir);
  return run;
}

describe('npm run deploy -- --dry-run', () => {
  it('checks, then applies in order: database, migration, platform, functions, then waits', async () => {
    const run = await dryRun();
    expect(run.status).toBe(0);
    const printed = commands(run);
    const order = [
      'kubectl get crd services.serving.knative.dev -o name',
      'kubectl get crd brokers.eventing.knative.dev triggers.eventing.knative.dev sinkbindings.sources.knative.dev -o name',
      "kubectl get secret knfn-database -n knfn -o 'jsonpath={.data}'",
      'kubectl apply -f <release>/000-namespace.yaml',
      'kubectl apply -f <release>/200-postgres.yaml -f <release>/250-networkpolicy.yaml',
      'kubectl apply -k <release>/redis',
      'kubectl rollout status statefulset/postgres -n knfn --timeout=300s',
      'kubectl rollout status deployment/wsproxy -n knfn --timeout=120s',
      'kubectl apply -f <release>/migrate/roles-configmap.yaml',
      "kubectl get job roles-sha-5e5e5e5e5e5e -n knfn --ignore-not-found -o 'jsonpath={.spec.template.spec.containers[0].image}'",
      'kubectl apply -f <release>/migrate/roles-job.yaml',
      `kubectl get job roles-sha-5e5e5e5e5e5e -n knfn -o 'jsonpath={.status.conditions[?(@.status=="True")].type}'`,
      "kubectl get job migrate-sha-5e5e5e5e5e5e -n knfn --ignore-not-found -o 'jsonpath={.spec.template.spec.containers[0].image}'",
      'kubectl apply -f <release>/migrate/job.yaml',
      `kubectl get job migrate-sha-5e5e5e5e5e5e -n knfn -o 'jsonpath={.status.conditions[?(@.status=="True")].type}'`,
      'kubectl logs job/migrate-sha-5e5e5e5e5e5e -n knfn --tail=100',
      'kubectl apply -f <release>/migrate/grants-job.yaml',
      `kubectl get job grants-sha-5e5e5e5e5e5e -n knfn -o 'jsonpath={.status.conditions[?(@.status=="True")].type}'`,
      'kubectl apply -f <release>/500-eventing.yaml -f <release>/600-backup-cronjob.yaml',
      'kubectl rollout status statefulset/redis -n knfn --timeout=300s',
      'kubectl apply -k <release>/gateway',
      'kubectl apply -k <release>/functions',
      'kubectl apply -k <release>',
      'kubectl wait --for=condition=Ready ksvc --all -n knfn --timeout=300s',
      'kubectl rollout status deployment/gateway -n knfn --timeout=120s',
    ];
    // In this order; other checks (Flagger's CRDs when the release holds canaries) may come between.
    const positions = order.map((command) => printed.indexOf(command));
    expect(positions.filter((position) => position < 0).map((_, index) => order[index])).toEqual([]);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(printed.at(-1)).toBe(order.at(-1));
  });

  it('applies nothing but the release: every image is its own or pinned, every name carries it', async () => {
    const run = await dryRun();
    const dir = dryRunDirs.at(-1) as string;
    const objects = renderKustomization<{ kind: string; metadata: { name: string }; spec?: { template?: { metadata?: { name?: string } } } }>(dir);
    const images = JSON.stringify(objects).match(/"image":"[^"]+"/g)?.map((match) => match.slice('"image":"'.length, -1)) ?? [];
    expect(images).toContain(image);
    expect(images.flatMap((candidate) => imageProblem(candidate, release) ?? [])).toEqual([]);
    expect(objects.filter((object) => object.kind === 'Job').map((object) => object.metadata.name).sort()).toEqual(
      ['grants-sha-5e5e5e5e5e5e', 'migrate-sha-5e5e5e5e5e5e', 'roles-sha-5e5e5e5e5e5e'],
    );
    const revisions = objects.flatMap((object) => object.spec?.template?.metadata?.name ?? []);
    for (const { name } of allFunctions) expect(revisions).toContain(`${name}-sha-5e5e5e5e5e5e`);
    // The committed tree stays at package.json's release.
    expect(run.out).not.toContain(join(root, 'knative/functions'));
    expect(renderKustomization<{ kind: string; metadata: { name: string } }>(join(root, 'knative')).filter((object) => object.kind === 'Job').map((object) => object.metadata.name).sort()).toEqual(
      ['grants-v0-1-0', 'migrate-v0-1-0', 'roles-v0-1-0'],
    );
  });

  it('with --canary, checks the canary CRDs first and applies the canary layers before the functions', async () => {
    const plain = commands(await dryRun());
    expect(plain.some((command) => command.includes('flagger') || command.includes('<release>/canary'))).toBe(false);
    const printed = commands(await dryRun('--canary'));
    const flagger = printed.indexOf('kubectl get crd canaries.flagger.app metrictemplates.flagger.app -o name');
    const operator = printed.findIndex((command) => command.startsWith('kubectl get crd podmonitors.monitoring.coreos.com'));
    const firstApply = printed.findIndex((command) => command.startsWith('kubectl apply'));
    expect(flagger).toBeGreaterThanOrEqual(0);
    expect(operator).toBeGreaterThanOrEqual(0);
    expect(Math.max(flagger, operator)).toBeLessThan(firstApply);
    const canaries = printed.indexOf('kubectl apply -k <release>/canary');
    const monitoring = printed.indexOf('kubectl apply -k <release>/monitoring');
    const functions = printed.indexOf('kubectl apply -k <release>/functions');
    const migrated = printed.findIndex((command) => command.includes('jsonpath={.status.conditions'));
    expect(migrated).toBeLessThan(canaries);
    expect(canaries).toBeGreaterThanOrEqual(0);
    expect(monitoring).toBeGreaterThanOrEqual(0);
    expect(Math.max(canaries, monitoring)).toBeLessThan(functions);
  });

  it('renders the same plan twice: one release, the same names', async () => {
    expect(commands(await dryRun())).toEqual(commands(await dryRun()));
  });
});

describe('npm run deploy refuses before anything is applied', () => {
  let fake: FakeCommands | undefined;
  afterEach(() => fake?.remove());

  it.each([
    ['no --image', [], /no --image/],
    ['latest', ['--image', 'ghcr.io/knfn/knfn:latest'], /"latest" moves/],
    ['an untagged repository', ['--image', 'ghcr.io/knfn/knfn'], /no tag or digest/],
    ['an invalid reference', ['--image', 'ghcr.io/knfn/knfn@sha256:123'], /64 lowercase hex/],
  ])('%s, in one line, without calling kubectl', async (_what, args, message) => {
    fake = fakeCommands({ kubectl: [] });
    const run = await deploy(['deploy', ...args], { ...process.env, PATH: `${fake.dir}:${process.env['PATH'] ?? ''}` });
    expect(run.status).toBe(2);
    expect(run.err).toMatch(message);
    expect(run.err.trim().split('\n')).toHaveLength(1);
    expect(fake.calls('kubectl')).toEqual([]);
  });

  it('says so from the command line too', () => {
    const result = spawnSync(join(root, 'node_modules/.bin/tsx'), ['scripts/deploy.ts', 'deploy', '--image', 'ghcr.io/knfn/knfn:latest'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toMatch(/^npm run deploy: refused: ghcr\.io\/knfn\/knfn:latest: "latest" moves/);
  });
});

describe('the prerequisite checks', () => {
  const object = (apiVersion: string, kind: string) => ({ apiVersion, kind, metadata: { name: 'x' } });

  it('ask for Flagger\'s CRDs only when the release holds a Canary, and refuse a kind they cannot check', () => {
    const args = (objects: ReturnType<typeof object>[]) => prerequisiteSteps(objects).map((step) => (step.kind === 'check' ? step.args.join(' ') : ''));
    expect(args([object('apps/v1', 'Deployment'), object('serving.knative.dev/v1', 'Service')])).toEqual(['get crd services.serving.knative.dev -o name']);
    expect(args([object('flagger.app/v1beta1', 'Canary')])).toEqual(['get crd canaries.flagger.app metrictemplates.flagger.app -o name']);
    expect(() => prerequisiteSteps([object('example.com/v1', 'Widget')])).toThrow(/Widget \(example\.com\/v1\), whose CRD scripts\/deploy\.ts does not know/);
  });
});

/** A Secret with every key of the example, each role's url logging in as that role with its password. */
const realSecretValues: Record<string, string> = {
  username: 'knfn',
  password: 'p4ss',
  database: 'knfn',
  'owner-password': 'owner-p4ss',
  'owner-url': 'postgres://knfn_owner:owner-p4ss@postgres.knfn.svc.cluster.local:5432/knfn',
  'app-password': 'app-p4ss',
  'app-url': 'postgres://knfn_app:app-p4ss@postgres.knfn.svc.cluster.local:5432/knfn',
  'stats-password': 'stats-p4ss',
  'stats-url': 'postgres://knfn_stats:stats-p4ss@postgres.knfn.svc.cluster.local:5432/knfn',
  'backup-password': 'backup-p4ss',
  'redis-password': '0123456789abcdef0123456789abcdef',
};

describe('the database Secret check', () => {
  const encode = (values: Record<string, string>) => ({
    status: 0,
    stderr: '',
    stdout: JSON.stringify(Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString('base64')]))),
  });
  const real = realSecretValues;

  it('accepts real values and refuses the placeholders, a missing key, a url with another password or user, no Secret', () => {
    expect(secretRefusal(encode(real))).toBeUndefined();
    expect(secretRefusal(encode({ ...real, password: 'CHANGE_ME' }))).toMatch(/placeholder CHANGE_ME in password/);
    expect(secretRefusal(encode({ ...real, 'app-url': 'postgres://knfn_app:CHANGE_ME@postgres:5432/knfn' }))).toMatch(/placeholder CHANGE_ME in app-url/);
    const { 'stats-url': _, ...withoutStatsUrl } = real;
    expect(secretRefusal(encode(withoutStatsUrl))).toMatch(/has no stats-url/);
    expect(secretRefusal(encode({ ...real, 'app-password': 'other' }))).toMatch(/the password in app-url differs from app-password/);
    expect(secretRefusal(encode({ ...real, 'app-url': 'postgres://knfn:app-p4ss@postgres:5432/knfn' }))).toMatch(/app-url logs in as knfn, not knfn_app/);
    expect(secretRefusal({ status: 1, stdout: '', stderr: 'Error from server (NotFound): secrets "knfn-database" not found' })).toMatch(
      /apply knative\/000-namespace\.yaml, then create the Secret/,
    );
  });

  it('refuses a Redis password that is missing, the placeholder, short, or not URL-safe', () => {
    const { 'redis-password': _, ...withoutRedis } = real;
    expect(secretRefusal(encode(withoutRedis))).toMatch(/has no redis-password/);
    expect(secretRefusal(encode({ ...real, 'redis-password': 'CHANGE_ME' }))).toMatch(/placeholder CHANGE_ME in redis-password/);
    expect(secretRefusal(encode({ ...real, 'redis-password': 'abc123' }))).toMatch(/redis-password must be at least 16 characters long/);
    // `@` and `/` would end the URL's userinfo early, `%` start an escape: REDIS_URL would break.
    for (const password of ['p@ssword-p@ssword', 'pass/word/pass/word', 'pass%20word-12345', 'with space 0123456789']) {
      expect(secretRefusal(encode({ ...real, 'redis-password': password })), password).toMatch(/redis-password may hold only A-Z a-z 0-9 \. _ ~ -/);
    }
    expect(secretRefusal(encode({ ...real, 'redis-password': 'Abc.def_ghi~jkl-0123' }))).toBeUndefined();
  });
});

describe('npm run deploy against a fake kubectl', () => {
  let fake: FakeCommands | undefined;
  afterEach(() => fake?.remove());

  const secret = (values: Record<string, string>): FakeRule => ({
    match: /^get secret knfn-database /,
    answers: [{ stdout: JSON.stringify(Object.fromEntries(Object.entries(values).map(([key, value]) => [key, Buffer.from(value).toString('base64')]))) }],
  });
  const realSecret = secret(realSecretValues);
  const crds: FakeRule = { match: /^get crd /, answers: [{ stdout: 'customresourcedefinition.apiextensions.k8s.io/present\n' }] };
  const jobStatus = /^get job migrate-sha-5e5e5e5e5e5e -n knfn -o jsonpath=\{\.status/;

  /** A cluster with Knative, a real Secret, and a migration Job that ends as `outcome`. */
  function cluster(options: { jobExists?: string; outcome?: string; crds?: FakeRule; secret?: FakeRule } = {}): FakeRule[] {
    return [
      options.crds ?? crds,
      options.secret ?? realSecret,
      { match: /^get job migrate-\S+ -n knfn --ignore-not-found /, answers: [{ stdout: options.jobExists ?? '' }] },
      { match: /^get job (roles|grants)-\S+ -n knfn --ignore-not-found /, answers: [{ stdout: '' }] },
      { match: /^get job (roles|grants)-\S+ -n knfn -o jsonpath=\{\.status/, answers: [{ stdout: 'SuccessCriteriaMet Complete' }] },
      // Running at first: the deploy must poll until the Job ends.
      { match: jobStatus, answers: [{ stdout: '' }, { stdout: '' }, { stdout: options.outcome ?? 'SuccessCriteriaMet Complete' }] },
      { match: /^logs job\/migrate-sha-5e5e5e5e5e5e -n knfn --tail=100$/, answers: [{ stdout: 'error: relation "pings" already exists\n' }] },
      { match: /^(apply|rollout|wait) /, answers: [{ stdout: 'ok\n' }] },
    ];
  }

  async function deployWith(rules: FakeRule[]): Promise<Run & { calls: string[] }> {
    fake = fakeCommands({ kubectl: rules });
    const run = await deploy(['deploy', '--image', image], { ...process.env, PATH: `${fake.dir}:${process.env['PATH'] ?? ''}` });
    return { ...run, calls: fake.calls('kubectl').map((args) => args.join(' ')) };
  }

  const applies = (calls: string[]) => calls.filter((call) => call.startsWith('apply '));

  it('refuses a cluster without Knative Serving, naming what to install, and applies nothing', async () => {
    const missing: FakeRule = {
      match: /^get crd services\.serving\.knative\.dev/,
      answers: [{ status: 1, stderr: 'Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io "services.serving.knative.dev" not found\n' }],
    };
    const run = await deployWith([missing, ...cluster()]);
    expect(run.status).toBe(1);
    expect(run.err).toContain('Knative Serving is not installed (no CRD services.serving.knative.dev): install it first, https://knative.dev/docs/install/');
    expect(applies(run.calls)).toEqual([]);
  });

  it('refuses the placeholder Secret before any apply', async () => {
    const run = await deployWith(cluster({ secret: secret({ ...realSecretValues, password: 'CHANGE_ME', 'owner-password': 'CHANGE_ME', 'owner-url': 'postgres://knfn_owner:CHANGE_ME@postgres:5432/knfn' }) }));
    expect(run.status).toBe(1);
    expect(run.err).toMatch(/refused: the Secret knfn-database still holds the placeholder CHANGE_ME in password, owner-password, owner-url/);
    expect(run.calls.some((call) => call.startsWith('get secret'))).toBe(true);
    expect(applies(run.calls)).toEqual([]);
  });

  it('stops at a failed migration: prints its log, exits 1, never applies a function', async () => {
    const run = await deployWith(cluster({ outcome: 'FailureTarget Failed' }));
    expect(run.status).toBe(1);
    expect(run.out).toContain('error: relation "pings" already exists');
    expect(run.err).toContain('the migration Job migrate-sha-5e5e5e5e5e5e failed');
    // At once: the poll that first saw Failed was the last one, no waiting out the timeout.
    expect(run.calls.filter((call) => jobStatus.test(call))).toHaveLength(3);
    expect(run.err).not.toContain('timed out');
    expect(run.calls.at(-1)).toBe('logs job/migrate-sha-5e5e5e5e5e5e -n knfn --tail=100');
    expect(applies(run.calls).map((call) => call.replace(/\/tmp\/\S+\/knative/g, '<release>'))).toEqual([
      'apply -f <release>/000-namespace.yaml',
      'apply -f <release>/200-postgres.yaml -f <release>/250-networkpolicy.yaml',
      'apply -k <release>/redis',
      'apply -f <release>/migrate/roles-configmap.yaml',
      'apply -f <release>/migrate/roles-job.yaml',
      'apply -f <release>/migrate/job.yaml',
    ]);
  });

  it('stops before any function when Redis does not become ready, showing its log', async () => {
    const redisFails: FakeRule = { match: /^rollout status statefulset\/redis /, answers: [{ status: 1, stderr: 'error: timed out waiting for the condition\n' }] };
    const redisLog: FakeRule = { match: /^logs statefulset\/redis /, answers: [{ stdout: 'redis: the Secret knfn-database key redis-password is empty\n' }] };
    const run = await deployWith([redisFails, redisLog, ...cluster()]);
    expect(run.status).toBe(1);
    expect(run.out).toContain('redis: the Secret knfn-database key redis-password is empty');
    expect(run.err).toContain('Redis did not become ready');
    expect(run.calls.some((call) => /^apply -k \S+\/functions$/.test(call))).toBe(false);
    expect(run.calls.at(-1)).toBe('logs statefulset/redis -n knfn --tail=50');
  });

  it('applies the functions only after the Job completed, and waits for them and the gateway', async () => {
    const run = await deployWith(cluster());
    expect(run.err).toBe('');
    expect(run.status).toBe(0);
    const polls = run.calls.flatMap((call, index) => (jobStatus.test(call) ? [index] : []));
    expect(polls).toHaveLength(3);
    const functions = run.calls.findIndex((call) => /^apply -k \S+\/functions$/.test(call));
    expect(functions).toBeGreaterThan(polls.at(-1) as number);
    expect(run.calls.findIndex((call) => call.startsWith('rollout status statefulset/postgres'))).toBeLessThan(
      run.calls.findIndex((call) => call.endsWith('/migrate/job.yaml')),
    );
    expect(run.calls.findIndex((call) => call.startsWith('rollout status statefulset/redis'))).toBeLessThan(functions);
    expect(run.calls.slice(-2)).toEqual(['wait --for=condition=Ready ksvc --all -n knfn --timeout=300s', 'rollout status deployment/gateway -n knfn --timeout=120s']);
    // The rendered tree is gone; the committed one was never touched.
    const dir = /manifests rendered into (\S+)/.exec(run.out)?.[1] as string;
    expect(existsSync(dir)).toBe(false);
  });

  it('leaves the Job of a release already deployed alone, and still rolls the rest out', async () => {
    const run = await deployWith(cluster({ jobExists: image }));
    expect(run.status).toBe(0);
    expect(run.calls.filter((call) => call.includes('migrate/job.yaml'))).toEqual([]);
    expect(run.out).toContain('# exists: left alone');
    expect(run.calls.some((call) => /^apply -k \S+\/functions$/.test(call))).toBe(true);
  });

  it('refuses a release name already taken by another image', async () => {
    const run = await deployWith(cluster({ jobExists: `registry.example/other@${digest}` }));
    expect(run.status).toBe(1);
    expect(run.err).toMatch(/job\/migrate-sha-5e5e5e5e5e5e exists for another image/);
    expect(run.calls.some((call) => /^apply -k \S+\/functions$/.test(call))).toBe(false);
  });
});

describe('npm run undeploy', () => {
  it('never deletes the namespace or the volumes labelled keep, and removes every release\'s Job', () => {
    expect(undeploySteps().map((step) => (step.kind === 'run' ? step.args.join(' ') : step.kind))).toEqual([
      'delete -k knative/ -l knfn.dev/keep!=true --ignore-not-found',
      'delete job -l app.kubernetes.io/name in (migrate,db-roles) -n knfn --ignore-not-found',
    ]);
  });
});
