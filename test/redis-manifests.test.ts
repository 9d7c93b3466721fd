import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IService } from 'kubernetes-models/v1/Service';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allFunctions } from '../functions/index.ts';
import pingpong from '../functions/pingpong/index.ts';
import { expandReferences } from '../runtime/isolated/env-references.ts';
import { cluster } from '../scripts/cluster.ts';
import { sha256 } from '../scripts/gateway-manifests.ts';
import { functionService } from '../scripts/manifests.ts';
import { redisAuthFile, redisConfChecksumAnnotation, redisDir, redisImage, redisSettings } from '../scripts/redis-manifests.ts';
import { defaultRelease, imageProblem } from '../scripts/release.ts';
import { renderKustomization } from './support/kustomize.ts';
import { strictSchemaErrors } from './support/strict-schema.ts';

const root = new URL('../', import.meta.url).pathname;
const rendered = renderKustomization<{ kind: string; metadata: { name: string } }>(join(root, redisDir));
function find<T>(kind: string): T {
  const matches = rendered.filter((object) => object.kind === kind && object.metadata.name === 'redis');
  expect(matches, `${kind}/redis`).toHaveLength(1);
  return matches[0] as T;
}
const statefulSet = find<IStatefulSet>('StatefulSet');
const service = find<IService>('Service');
const configMap = find<IConfigMap>('ConfigMap');
const podSpec = statefulSet.spec?.template.spec;
const container = podSpec?.containers[0] as IContainer;
const redisConf = configMap.data?.['redis.conf'] ?? '';
const startScript = container.command?.[2] ?? '';

/** `1Gi`, `512Mi`, `192mb` in bytes. */
function bytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|kb|mb|gb)?$/.exec(quantity);
  if (!match) throw new Error(`not a quantity: ${quantity}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

describe('the Redis objects', () => {
  it('run the pinned official image as its own non-root user, read-only, with nothing extra', () => {
    expect(container.image).toBe(redisImage);
    expect(imageProblem(redisImage, defaultRelease())).toBeUndefined();
    expect(podSpec?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(podSpec?.automountServiceAccountToken).toBe(false);
    // The only writable places: the data volume and the memory volume holding the password file.
    expect(container.volumeMounts?.filter((mount) => !mount.readOnly).map((mount) => mount.mountPath).sort()).toEqual(['/data', '/run/redis']);
    expect(podSpec?.volumes?.find((volume) => volume.name === 'run')?.emptyDir?.medium).toBe('Memory');
  });

  it('keep their volume when the StatefulSet is deleted or scaled, and roll the pod when redis.conf changes', () => {
    expect(statefulSet.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(statefulSet.spec?.replicas).toBe(1);
    expect(statefulSet.spec?.template.metadata?.annotations?.[redisConfChecksumAnnotation]).toBe(sha256(redisConf));
  });

  it('take the password from the Secret, never from an argument or the manifest', () => {
    expect(container.env).toEqual([{ name: 'REDISCLI_AUTH', valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: cluster.redis.passwordKey } } }]);
    expect(container.args).toBeUndefined();
    expect(startScript).toContain(`--include ${redisAuthFile}`);
    expect(startScript).not.toMatch(/--requirepass|-a /);
    expect(redisConf).not.toMatch(/^requirepass/m);
    for (const probe of [container.startupProbe, container.readinessProbe, container.livenessProbe]) expect(probe?.exec?.command?.join(' ')).not.toMatch(/ -a |--pass/);
  });

  it('are the only reader of the Redis password besides the functions', () => {
    interface Workload {
      kind: string;
      metadata: { name: string };
      spec?: { template?: { spec?: { containers?: IContainer[] } }; jobTemplate?: { spec?: { template?: { spec?: { containers?: IContainer[] } } } } };
    }
    const tree = renderKustomization<Workload>(join(root, 'knative'));
    const readers = tree.filter((object) => {
      const spec = object.spec?.template?.spec ?? object.spec?.jobTemplate?.spec?.template?.spec;
      return (spec?.containers ?? []).some((each) => (each.env ?? []).some((variable) => variable.valueFrom?.secretKeyRef?.key === cluster.redis.passwordKey));
    });
    expect(readers.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual(
      ['StatefulSet/redis', ...allFunctions.map((definition) => `Service/${definition.name}`)].sort(),
    );
  });

  it('persist every write to an append-only file fsynced each second, and evict by nearest expiry', () => {
    const settings = new Map(redisConf.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)]));
    expect(Object.fromEntries(settings)).toMatchObject({
      appendonly: 'yes',
      appendfsync: 'everysec',
      dir: '/data',
      port: String(cluster.redis.port),
      'maxmemory-policy': 'volatile-ttl',
      maxclients: '10000',
    });
    // The AOF rewrite forks, and its copy-on-write pages count against the limit too.
    const limit = bytes(String(container.resources?.limits?.['memory']));
    expect(limit).toBeGreaterThanOrEqual(2 * bytes(settings.get('maxmemory') ?? ''));
    expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
  });

  it('serve the functions on a ClusterIP Service at the address and port of their REDIS_URL', () => {
    expect(service.spec?.type).toBe('ClusterIP');
    expect(service.spec?.ports).toEqual([{ name: 'redis', port: cluster.redis.port, targetPort: 'redis' }]);
    expect(container.ports).toEqual([{ name: 'redis', containerPort: cluster.redis.port }]);
    expect(statefulSet.spec?.template.metadata?.labels).toMatchObject(service.spec?.selector ?? { none: 'selector' });
    const url = functionService(pingpong).spec?.template?.spec?.containers?.[0]?.env?.find((variable) => variable.name === 'REDIS_URL')?.value ?? '';
    expect(new URL(url).host).toBe(`${service.metadata?.name}.${cluster.namespace}.svc.cluster.local:${cluster.redis.port}`);
  });

  it('hold one connection per function process, canaries doubled, far below maxclients (as knative/README.md says)', () => {
    const processes = allFunctions.reduce((sum, definition) => sum + definition.scale.max, 0);
    const readme = readFileSync(join(root, 'knative/README.md'), 'utf8');
    expect(readme).toContain(`every function at max-scale is ${processes} connections`);
    expect(2 * processes).toBeLessThan(redisSettings.maxclients / 10);
  });

  it('declare no field their schemas lack, and a misspelt one is named', () => {
    expect(strictSchemaErrors(rendered)).toEqual([]);
    const typo = structuredClone(statefulSet) as unknown as { spec: { persistentVolumeClaimRetentionPolicy: Record<string, unknown> } };
    typo.spec.persistentVolumeClaimRetentionPolicy = { whenDeletd: 'Retain', whenScaled: 'Retain' };
    // The model's own validation lets the typo through; the API server would drop it, and the
    // volume would then go with the StatefulSet.
    expect(() => new StatefulSet(typo as unknown as IStatefulSet).validate()).not.toThrow();
    expect(strictSchemaErrors([typo])).toEqual([
      expect.stringMatching(/^StatefulSet redis: spec\.persistentVolumeClaimRetentionPolicy\.whenDeletd: Object literal may only specify known properties/),
    ]);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs a command to its end; its exit code and both streams. */
function run(command: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const [file, ...args] = command;
  const child = spawn(file as string, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/**
 * The container's start, on this machine: its script and redis.conf as rendered, with the
 * container's paths and port moved into a directory of the test's own.
 */
class LocalRedisContainer {
  readonly dir = mkdtempSync(join(tmpdir(), 'knfn-redis-'));
  process: ChildProcess | undefined;
  output = '';

  constructor(readonly port: number) {
    for (const sub of ['etc', 'run', 'data']) mkdirSync(join(this.dir, sub));
    expect(redisConf).toContain('\nport 6379\n');
    expect(redisConf).toContain('\ndir /data\n');
    writeFileSync(join(this.dir, 'etc', 'redis.conf'), redisConf.replace('\nport 6379\n', `\nport ${port}\n`).replace('\ndir /data\n', `\ndir ${join(this.dir, 'data')}\n`));
  }

  get authFile(): string {
    return join(this.dir, 'run', 'auth.conf');
  }

  script(): string {
    expect(startScript).toContain('/etc/redis/redis.conf');
    expect(startScript).toContain(redisAuthFile);
    return startScript.replaceAll('/etc/redis/', `${this.dir}/etc/`).replaceAll('/run/redis/', `${this.dir}/run/`);
  }

  start(password: string): ChildProcess {
    this.output = '';
    const child = spawn('sh', ['-c', this.script()], { env: { PATH: process.env['PATH'] ?? '', REDISCLI_AUTH: password }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.process = child;
    return child;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A probe's command as the kubelet runs it in the container: its env, the port moved to `port`. */
function probePasses(probe: IProbe | undefined, port: number, password: string): Promise<boolean> {
  const command = probe?.exec?.command ?? [];
  expect(command.join(' ')).toContain(`-p ${cluster.redis.port} `);
  return run(command.map((part) => part.replace(`-p ${cluster.redis.port} `, `-p ${port} `)), { REDISCLI_AUTH: password }).then(({ code }) => code === 0);
}

async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('a real Redis started as the container starts it (this machine\'s redis-server)', () => {
  const password = 'e2f1c0ffee-0123456789abcdef';
  let redis: LocalRedisContainer;
  let client: Redis;

  const started = async () => {
    redis.start(password);
    await waitUntil(() => probePasses(container.readinessProbe, redis.port, password), `Redis to be ready:\n${redis.output}`);
  };

  beforeAll(async () => {
    redis = new LocalRedisContainer(await freePort());
    await started();
    client = new Redis({ host: '127.0.0.1', port: redis.port, password, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
  });

  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
    redis?.remove();
  });

  it('refuses a client without the password and admits the functions\' REDIS_URL once the kubelet expanded it', async () => {
    const anonymous = await run(['redis-cli', '-h', '127.0.0.1', '-p', String(redis.port), 'set', 'knfn-test:anonymous', '1'], {});
    expect(anonymous.output).toMatch(/NOAUTH Authentication required/);
    expect(await client.exists('knfn-test:anonymous')).toBe(0);
    const env = functionService(pingpong).spec?.template?.spec?.containers?.[0]?.env ?? [];
    const template = env.find((variable) => variable.name === 'REDIS_URL')?.value ?? '';
    const expanded = expandReferences(template, new Map([['REDIS_PASSWORD', password]]));
    expect(expanded).toBe(`redis://:${password}@${cluster.redis.host}:${cluster.redis.port}/0`);
    const functionClient = new Redis(expanded.replace(`${cluster.redis.host}:${cluster.redis.port}`, `127.0.0.1:${redis.port}`), { lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await functionClient.connect();
      expect(await functionClient.ping()).toBe('PONG');
    } finally {
      functionClient.disconnect();
    }
  });

  it('runs with the settings of redis.conf', async () => {
    const setting = async (name: string) => ((await client.call('CONFIG', 'GET', name)) as string[])[1];
    expect(await setting('appendonly')).toBe('yes');
    expect(await setting('appendfsync')).toBe('everysec');
    expect(await setting('save')).toBe('');
    expect(await setting('maxmemory-policy')).toBe('volatile-ttl');
    expect(await setting('maxmemory')).toBe(String(bytes(redisSettings.maxmemory)));
    expect(await setting('maxclients')).toBe('10000');
  });

  it('keeps the password out of the process arguments, in a file only its user reads', () => {
    const cmdline = readFileSync(`/proc/${redis.process?.pid ?? -1}/cmdline`, 'utf8');
    expect(cmdline).toMatch(/redis-server/);
    expect(cmdline).not.toContain(password);
    expect(statSync(redis.authFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(redis.authFile, 'utf8')).toBe(`requirepass ${password}\n`);
  });

  it('keeps what was written a second before it was killed: the append-only file is fsynced every second', async () => {
    await client.set('knfn-test:counter', '7', 'EX', 600);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.stop('SIGKILL');
    client.disconnect();
    await started();
    client = new Redis({ host: '127.0.0.1', port: redis.port, password, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    expect(await client.get('knfn-test:counter')).toBe('7');
    expect(await client.ttl('knfn-test:counter')).toBeGreaterThan(500);
  });

  it('when full, evicts the entries nearest their expiry first: rate-limit counters outlive cache entries', async () => {
    const previous = ((await client.call('CONFIG', 'GET', 'maxmemory')) as string[])[1] ?? '0';
    await client.flushall();
    try {
      await client.call('CONFIG', 'SET', 'maxmemory', String(4 * 1024 ** 2));
      const counters = Array.from({ length: 20 }, (_, index) => `knfn-test:rl:client-${index}`);
      for (const key of counters) await client.set(key, '3', 'EX', 60);
      // 6 MiB of cache entries living seconds: about half of them cannot fit.
      const entry = 'x'.repeat(10 * 1024);
      for (let index = 0; index < 600; index++) await client.set(`knfn-test:cache:${index}`, entry, 'EX', 5);
      const evicted = Number(/evicted_keys:(\d+)/.exec(await client.info('stats'))?.[1]);
      expect(evicted).toBeGreaterThan(100);
      expect(await client.exists(...counters)).toBe(counters.length);
    } finally {
      await client.call('CONFIG', 'SET', 'maxmemory', previous);
      await client.flushall();
    }
  });

  describe('probe commands, run against a server in each state', () => {
    let loading: Server;
    beforeAll(async () => {
      // Answers as Redis does while it replays its AOF: AUTH goes through, every command gets LOADING.
      loading = createServer((socket) => {
        socket.on('data', (chunk) => socket.write(/AUTH/i.test(chunk.toString()) ? '+OK\r\n' : '-LOADING Redis is loading the dataset in memory\r\n'));
      });
      await new Promise<void>((resolve) => loading.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => loading.close(() => resolve())));

    const probes = () => [container.startupProbe, container.readinessProbe, container.livenessProbe];

    it('all pass on a server that answers', async () => {
      expect(await Promise.all(probes().map((probe) => probePasses(probe, redis.port, password)))).toEqual([true, true, true]);
    });

    it('while loading: not started, not ready, but alive (the replay is not killed)', async () => {
      const port = (loading.address() as AddressInfo).port;
      const [startup, ready, alive] = await Promise.all(probes().map((probe) => probePasses(probe, port, password)));
      expect({ startup, ready, alive }).toEqual({ startup: false, ready: false, alive: true });
    });

    it('with another password or nothing listening: not ready', async () => {
      expect(await probePasses(container.readinessProbe, redis.port, 'another-password-0123456789')).toBe(false);
      const closed = await freePort();
      expect(await Promise.all(probes().map((probe) => probePasses(probe, closed, password)))).toEqual([false, false, false]);
    });
  });

  it('refuses to start with a password REDIS_URL could not carry, saying why, and writes no file', async () => {
    const other = new LocalRedisContainer(await freePort());
    try {
      for (const bad of ['', 'p@ss word/0123456789']) {
        const { code, output } = await run(['sh', '-c', other.script()], { REDISCLI_AUTH: bad });
        expect(code).toBe(1);
        expect(output).toContain('redis: the Secret knfn-database key redis-password is empty or holds a character other than A-Z a-z 0-9 . _ ~ -');
        expect(existsSync(other.authFile)).toBe(false);
      }
    } finally {
      other.remove();
    }
  });
});
