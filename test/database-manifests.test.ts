import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cluster, connectionBudget, postgresImage } from '../scripts/cluster.ts';
import { migrationJobName, rolesJobName } from '../scripts/migrate-manifests.ts';
import { defaultRelease } from '../scripts/release.ts';
import { renderKustomization } from './support/kustomize.ts';

const root = new URL('../', import.meta.url).pathname;

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Probe {
  exec?: { command: string[] };
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; emptyDir?: { medium?: string; sizeLimit?: string } }[];
}
interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: {
    persistentVolumeClaimRetentionPolicy?: unknown;
    template?: { metadata?: { annotations?: Record<string, string> }; spec?: PodSpec };
    jobTemplate?: { spec: { template: { spec: PodSpec } } };
  };
}

const rendered = renderKustomization<KubeObject>(join(root, 'knative'));
const find = (kind: string, name: string) => {
  const found = rendered.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind}/${name} rendered`);
  return found;
};
const podSpec = (object: KubeObject): PodSpec => {
  const spec = object.spec?.template?.spec ?? object.spec?.jobTemplate?.spec.template.spec;
  if (!spec) throw new Error(`${object.kind}/${object.metadata.name} has no pod template`);
  return spec;
};
const container = (object: KubeObject) => podSpec(object).containers[0] as Container;
const envOf = (object: KubeObject) => new Map((container(object).env ?? []).map((variable) => [variable.name, variable]));
const secretKey = (object: KubeObject, name: string) => envOf(object).get(name)?.valueFrom?.secretKeyRef?.key;

const postgres = find('StatefulSet', 'postgres');
const postgresContainer = container(postgres);
/** `-c name=value` settings of the server's command line. */
const serverSetting = (name: string): string | undefined => {
  const args = postgresContainer.args ?? [];
  const index = args.findIndex((arg, i) => args[i - 1] === '-c' && arg.startsWith(`${name}=`));
  return index < 0 ? undefined : args[index]?.slice(name.length + 1);
};

describe('the connection budget', () => {
  const functions = rendered.filter((object) => object.apiVersion === 'serving.knative.dev/v1' && envOf(object).has('DATABASE_URL'));
  const shares = functions.map((object) => {
    const maxScale = Number(object.spec?.template?.metadata?.annotations?.['autoscaling.knative.dev/max-scale']);
    const pool = Number(envOf(object).get('DATABASE_POOL_MAX')?.value);
    return { name: object.metadata.name, maxScale, pool, connections: maxScale * pool };
  });

  it('sets max_connections explicitly, as scripts/cluster.ts counts it', () => {
    expect(serverSetting('max_connections')).toBe(String(connectionBudget.maxConnections));
    expect(serverSetting('superuser_reserved_connections')).toBe(String(connectionBudget.reserve.superuserReserved));
  });

  it('gives every function with a database URL a bounded pool', () => {
    expect(shares.length).toBeGreaterThanOrEqual(8);
    for (const share of shares) {
      expect(Number.isInteger(share.maxScale) && share.maxScale >= 1, share.name).toBe(true);
      expect(Number.isInteger(share.pool) && share.pool >= 1 && share.pool <= 5, `${share.name} pool ${share.pool}`).toBe(true);
    }
    // pingpong's coalescer keeps two statements in flight: a smaller pool would serialise them.
    expect(shares.find((share) => share.name === 'pingpong')?.pool).toBeGreaterThanOrEqual(2);
  });

  it('fits every function at max-scale plus the migration, role Jobs, backup, restore and admin reserve below max_connections', () => {
    const migrationPool = Number(envOf(find('Job', migrationJobName(defaultRelease()))).get('DATABASE_POOL_MAX')?.value);
    expect(migrationPool).toBe(connectionBudget.reserve.migration);
    const reserve = Object.values(connectionBudget.reserve).reduce((sum, value) => sum + value, 0);
    const functionsTotal = shares.reduce((sum, share) => sum + share.connections, 0);
    // Today: 140 for the database functions + 13 for the statistics-only ones, + 10 reserved, of 200.
    expect(functionsTotal + reserve).toBeLessThan(Number(serverSetting('max_connections')));
  });
});

describe('credentials: each workload connects as the least role that does its work', () => {
  it('migrates as the owner, backs up as the read-only role, bootstraps roles as the superuser', () => {
    const release = defaultRelease();
    expect(secretKey(find('Job', migrationJobName(release)), 'DATABASE_URL')).toBe(cluster.databaseRoles.owner.urlKey);
    const backup = find('CronJob', 'postgres-backup');
    expect(envOf(backup).get('PGUSER')?.value).toBe(cluster.databaseRoles.backup.name);
    expect(secretKey(backup, 'PGPASSWORD')).toBe(cluster.databaseRoles.backup.passwordKey);
    for (const phase of ['roles', 'grants'] as const) {
      const job = find('Job', rolesJobName(release, phase));
      expect(secretKey(job, 'PGPASSWORD')).toBe('password');
      expect(secretKey(job, 'KNFN_APP_PASSWORD')).toBe(cluster.databaseRoles.app.passwordKey);
      expect(container(job).command).toContain(`app=${cluster.databaseRoles.app.name}`);
    }
  });

  it('reads only keys the example Secret has, and only PostgreSQL and the role Jobs read the superuser password', () => {
    const example = parse(readFileSync(join(root, 'knative/secrets/database.example.yaml'), 'utf8')) as { stringData: Record<string, string> };
    const readers = new Map<string, string[]>();
    for (const object of rendered) {
      for (const spec of [object.spec?.template?.spec, object.spec?.jobTemplate?.spec.template.spec]) {
        for (const variable of spec?.containers.flatMap((each) => each.env ?? []) ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (!ref) continue;
          expect(ref.name).toBe(cluster.databaseSecret.name);
          expect(Object.keys(example.stringData), `${object.metadata.name} ${variable.name}`).toContain(ref.key);
          readers.set(ref.key, [...(readers.get(ref.key) ?? []), object.metadata.name]);
        }
      }
    }
    const release = defaultRelease();
    expect([...new Set(readers.get('password'))].sort()).toEqual(['postgres', rolesJobName(release, 'grants'), rolesJobName(release, 'roles')].sort());
  });

  it('encrypts the Secret templates\' values with SOPS, and the README applies Secrets without a last-applied copy', () => {
    const sops = parse(readFileSync(join(root, '.sops.yaml'), 'utf8')) as { creation_rules: { path_regex: string; encrypted_regex: string }[] };
    const rule = sops.creation_rules.find((candidate) => new RegExp(candidate.path_regex).test('knative/secrets/database.yaml'));
    expect(rule).toBeDefined();
    const encrypted = new RegExp(rule?.encrypted_regex ?? '$^');
    expect(['data', 'stringData', 'metadata', 'apiVersion', 'kind'].filter((key) => encrypted.test(key))).toEqual(['data', 'stringData']);
    for (const file of ['README.md', 'knative/README.md']) {
      const text = readFileSync(join(root, file), 'utf8');
      // A client-side apply keeps the whole object, values included, in an annotation.
      expect(text.match(/kubectl apply (?!--server-side)[^\n]*secrets?\//g) ?? [], file).toEqual([]);
    }
  });
});

describe('PostgreSQL survives operations', () => {
  it('keeps its volume when the StatefulSet is deleted or scaled, and runs the pinned image', () => {
    expect(postgres.spec?.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(postgresContainer.image).toBe(postgresImage);
    expect(container(find('CronJob', 'postgres-backup')).image).toBe(postgresImage);
  });

  it('has a memory-backed, bounded /dev/shm', () => {
    const mount = postgresContainer.volumeMounts?.find((candidate) => candidate.mountPath === '/dev/shm');
    const volume = podSpec(postgres).volumes?.find((candidate) => candidate.name === mount?.name);
    expect(volume?.emptyDir).toEqual({ medium: 'Memory', sizeLimit: expect.stringMatching(/^\d+Mi$/) });
  });

  it('gives crash recovery an hour before the kubelet may restart it', () => {
    const { startupProbe } = postgresContainer;
    expect((startupProbe?.periodSeconds ?? 10) * (startupProbe?.failureThreshold ?? 3)).toBeGreaterThanOrEqual(3600);
  });

  describe('probe commands, run against a server in each state', () => {
    let rejecting: Server;
    let closedPort: number;
    beforeAll(async () => {
      // Answers every connection as PostgreSQL does while it replays WAL: FATAL 57P03.
      rejecting = createServer((socket) => {
        socket.once('data', () => {
          const fields = Buffer.from('SFATAL\0VFATAL\0C57P03\0Mthe database system is not yet accepting connections\0\0');
          const header = Buffer.alloc(5);
          header.write('E');
          header.writeInt32BE(fields.length + 4, 1);
          socket.end(Buffer.concat([header, fields]));
        });
      });
      await new Promise<void>((resolve) => rejecting.listen(0, '127.0.0.1', resolve));
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      closedPort = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
    });
    afterAll(() => new Promise<void>((resolve) => rejecting.close(() => resolve())));

    /** Runs a probe's command as the kubelet would; asynchronously, as the fake server is in this process. */
    const passes = (probe: Probe | undefined, port: number): Promise<boolean> => {
      const [command, ...args] = probe?.exec?.command ?? [];
      const child = spawn(command as string, args, { stdio: 'ignore', env: { ...process.env, PGPORT: String(port), PGSSLMODE: 'disable', PGGSSENCMODE: 'disable' } });
      return new Promise((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code) => resolve(code === 0));
      });
    };

    it('all pass on a server that accepts connections', async () => {
      const probes = [postgresContainer.startupProbe, postgresContainer.readinessProbe, postgresContainer.livenessProbe];
      expect(await Promise.all(probes.map((probe) => passes(probe, 5432)))).toEqual([true, true, true]);
    });

    it('during recovery: not started, not ready, but alive (the replay is not killed)', async () => {
      const port = (rejecting.address() as AddressInfo).port;
      const [startup, ready, alive] = await Promise.all([postgresContainer.startupProbe, postgresContainer.readinessProbe, postgresContainer.livenessProbe].map((probe) => passes(probe, port)));
      expect({ startup, ready, alive }).toEqual({
        startup: false,
        ready: false,
        alive: true,
      });
    });

    it('a server that does not answer at all is not alive', async () => {
      expect(await passes(postgresContainer.livenessProbe, closedPort)).toBe(false);
      expect(await passes(postgresContainer.readinessProbe, closedPort)).toBe(false);
    });
  });
});
