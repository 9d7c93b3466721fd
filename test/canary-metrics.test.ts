import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../runtime/logger.ts';
import { spawnFunction } from '../runtime/isolated/function-process.ts';
import type { FunctionProcess } from '../runtime/isolated/function-process.ts';
import { buildAll, functionBundle } from '../scripts/build.ts';
import { canaryChecks, renderFlaggerQuery } from '../scripts/canary-manifests.ts';
import type { CanaryCheck } from '../scripts/canary-manifests.ts';
import { cluster } from '../scripts/cluster.ts';
import { dashboardQueries, podMonitorTargetLabels } from '../scripts/observability-manifests.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { startPrometheus } from './support/prometheus.ts';
import type { RunningPrometheus } from './support/prometheus.ts';

const projectRoot = new URL('../', import.meta.url).pathname;
const fn = 'pingpong';
/** Three Revisions of one function: the primary, a good canary and a canary built to fail 1 in 5. */
const revisions = { primary: `${fn}-v0-1-0`, good: `${fn}-v0-2-0`, broken: `${fn}-v0-3-0` } as const;
const interval = '30s';

interface Verdict {
  passed: boolean;
  value: number | undefined;
  reason: string;
}

/**
 * What Flagger concludes from one check of a Canary's analysis: the MetricTemplate's query rendered
 * for the canary Revision, one sample within the threshold range. No data is a failed check, as in
 * Flagger.
 */
async function analyse(prometheus: RunningPrometheus, check: CanaryCheck, revision: string): Promise<Verdict> {
  const query = renderFlaggerQuery(check.query, { name: fn, namespace: cluster.namespace, target: fn, route: revision, interval });
  const samples = await prometheus.query(query);
  const [sample] = samples;
  if (samples.length !== 1 || sample === undefined) return { passed: false, value: undefined, reason: `${samples.length} samples` };
  const { min, max } = check.thresholdRange;
  if (Number.isNaN(sample.value)) return { passed: false, value: sample.value, reason: 'NaN' };
  if (min !== undefined && sample.value < min) return { passed: false, value: sample.value, reason: `below ${min}` };
  if (max !== undefined && sample.value > max) return { passed: false, value: sample.value, reason: `above ${max}` };
  return { passed: true, value: sample.value, reason: 'within range' };
}

/** Requests to every Revision, spread evenly, for `ms`: the traffic a canary step splits. */
async function load(processes: ReadonlyMap<string, FunctionProcess>, ms: number): Promise<Map<string, number[]>> {
  const statuses = new Map<string, number[]>([...processes.keys()].map((revision) => [revision, []]));
  const until = Date.now() + ms;
  const worker = async (revision: string, port: number) => {
    while (Date.now() < until) {
      const response = await fetch(`http://127.0.0.1:${port}/pingpong`);
      await response.arrayBuffer();
      statuses.get(revision)?.push(response.status);
    }
  };
  await Promise.all([...processes].flatMap(([revision, process]) => [worker(revision, process.port), worker(revision, process.port)]));
  return statuses;
}

describe('canary analysis on the functions own metrics, evaluated by a real Prometheus', () => {
  const outDir = join(projectRoot, '.data', `test-canary-${randomBytes(4).toString('hex')}`);
  const log = createLogger({ level: 'warn' });
  let database: TestDatabase;
  let prometheus: RunningPrometheus;
  const processes = new Map<string, FunctionProcess>();
  let statuses: Map<string, number[]>;

  beforeAll(async () => {
    [database] = await Promise.all([
      createTestDatabase(),
      buildAll([fn], join(outDir, 'good', 'dist')),
      buildAll([fn], join(outDir, 'broken', 'dist'), { failEvery: 5 }),
    ]);
    const start = async (revision: string, build: 'good' | 'broken', migrate: boolean) => {
      const env = {
        PATH: process.env['PATH'] ?? '',
        FUNCTION: fn,
        K_SERVICE: fn,
        K_REVISION: revision,
        DATABASE_URL: database.url,
        MIGRATE_ON_START: String(migrate),
        LOG_LEVEL: 'warn',
        MIGRATIONS_DIR: join(projectRoot, 'migrations'),
      };
      processes.set(revision, await spawnFunction({ name: fn, bundle: join(outDir, build, functionBundle(fn)), env, startTimeoutMs: 15_000, log }));
    };
    // The primary migrates first; the canaries start against the migrated schema, as after the Job.
    await start(revisions.primary, 'good', true);
    await Promise.all([start(revisions.good, 'good', false), start(revisions.broken, 'broken', false)]);

    // The labels the PodMonitor's relabelings give a Revision's pod in the cluster.
    const labels = (revision: string): Record<string, string> => {
      const values: Record<(typeof podMonitorTargetLabels)[number], string> = {
        namespace: cluster.namespace,
        pod: `${revision}-deployment-7d4b9c-x2x9q`,
        service: fn,
        revision,
      };
      return Object.fromEntries(podMonitorTargetLabels.map((label) => [label, values[label]]));
    };
    prometheus = await startPrometheus([...processes].map(([revision, process]) => ({ address: `127.0.0.1:${process.port}`, labels: labels(revision) })));
    statuses = await load(processes, 8000);
    // Two more scrapes after the last request, so every rate sees the whole run.
    await new Promise((resolve) => setTimeout(resolve, 2500));
  }, 90_000);

  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all([...processes.values()].map((process) => process.stop(5000)));
    await database?.drop();
    rmSync(outDir, { recursive: true, force: true });
  });

  it('served the load it is judged on: the broken build failed one request in five', () => {
    const good = statuses.get(revisions.good) ?? [];
    const broken = statuses.get(revisions.broken) ?? [];
    expect(good.length).toBeGreaterThan(100);
    expect(good.every((status) => status === 200)).toBe(true);
    const failed = broken.filter((status) => status === 500).length;
    expect(failed).toBe(Math.floor(broken.length / 5));
  });

  it('passes every check for a healthy canary Revision', async () => {
    expect(canaryChecks().map((check) => check.metric).sort()).toEqual(['latency-p99', 'success-rate']);
    for (const check of canaryChecks()) {
      const verdict = await analyse(prometheus, check, revisions.good);
      expect(verdict, check.metric).toMatchObject({ passed: true });
    }
  });

  it('fails the success-rate check for the build that fails one request in five', async () => {
    const successRate = canaryChecks().find((check) => check.metric === 'success-rate');
    if (!successRate) throw new Error('no success-rate check');
    const verdict = await analyse(prometheus, successRate, revisions.broken);
    expect(verdict.passed).toBe(false);
    expect(verdict.value).toBeGreaterThan(75);
    expect(verdict.value).toBeLessThan(85);
  });

  it('fails every check for a Revision that sent no data, as Flagger does', async () => {
    for (const check of canaryChecks()) {
      const verdict = await analyse(prometheus, check, `${fn}-v9-9-9`);
      expect(verdict, check.metric).toMatchObject({ passed: false, reason: '0 samples' });
    }
  });

  it('answers every dashboard panel query with data', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(6);
    for (const { panel, expr } of queries) {
      const concrete = expr.replaceAll('$__rate_interval', interval).replaceAll('$namespace', cluster.namespace).replaceAll('$function', fn);
      expect(concrete, panel).not.toContain('$');
      const samples = await prometheus.query(concrete);
      expect(samples.length, `${panel}: ${concrete}`).toBeGreaterThan(0);
      expect(samples.some((sample) => Number.isFinite(sample.value)), `${panel}: ${concrete}`).toBe(true);
    }
  });
});
