import type { BenchBundles } from './bundles.ts';
import { containerEnv } from './container-env.ts';
import { freshDatabase, readCounter } from './database.ts';
import type { LoadScenarioId } from './labels.ts';
import type { TestDatabase } from './database.ts';
import type { Plan } from './plan.ts';
import { cpuMicros, startProcess } from './processes.ts';
import type { BenchProcess, ProbePaths } from './processes.ts';
import { peerCli, peerDir, peerHello } from './runtimes.ts';
import type { Runtime } from './runtimes.ts';
import { median } from './stats.ts';
import { runWrk } from './wrk.ts';
import type { WrkRun } from './wrk.ts';

export const redisUrl = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379/0';

export interface StartContext {
  runtime: Runtime;
  bundles: BenchBundles;
  /** A fresh, migrated database with the counter row seeded; undefined for servers without one. */
  database: TestDatabase | undefined;
}

interface LoadScenario {
  path: string;
  /** Uses PostgreSQL: gets a fresh database of its own. */
  database: boolean;
  /** Increments ping_count, so committed == 2xx answers is checked. */
  counts: boolean;
  start(context: StartContext): Promise<BenchProcess>;
}

const databaseOf = ({ database }: StartContext) => {
  if (database === undefined) throw new Error('this scenario needs a database');
  return database;
};

/**
 * pingpong's production bundle with its container's command and environment (the image's compile
 * cache included), at the default log level.
 */
export const startPingpong = (context: StartContext, paths: ProbePaths = {}) =>
  startProcess([context.bundles.fn('pingpong')], containerEnv('pingpong', { databaseUrl: databaseOf(context).url, redisUrl }), {
    node: context.runtime.node,
    ...paths,
    compileCache: context.bundles.compileCache,
  });

/**
 * The peer: a hello-world function module served by faas-js-runtime's CLI, with the log level the
 * `start` script of `func create -l node`'s template sets (info: it logs each request, as the
 * product's access log does).
 */
export const startPeerHello = ({ runtime }: StartContext, paths: ProbePaths = { readyPath: '/' }) =>
  startProcess([peerCli, peerHello], { FUNC_LOG_LEVEL: 'info' }, { node: runtime.node, ...paths, portVariable: 'FUNC_PORT', cwd: peerDir });

export const loadScenarios: Record<LoadScenarioId, LoadScenario> = {
  bare: {
    path: '/',
    database: false,
    counts: false,
    start: ({ runtime, bundles }) => startProcess([bundles.bare], {}, { node: runtime.node, readyPath: '/' }),
  },
  honoHello: {
    path: '/',
    database: false,
    counts: false,
    start: ({ runtime, bundles }) => startProcess([bundles.honoHello], {}, { node: runtime.node, readyPath: '/' }),
  },
  peerHello: { path: '/', database: false, counts: false, start: startPeerHello },
  productHealth: { path: '/health', database: true, counts: false, start: (context) => startPingpong(context) },
  pingpong: { path: '/pingpong', database: true, counts: true, start: (context) => startPingpong(context) },
  naive: {
    path: '/pingpong',
    database: true,
    counts: true,
    start: (context) => startProcess([context.bundles.naive], { DATABASE_URL: databaseOf(context).url }, { node: context.runtime.node }),
  },
};

export interface LoadResult {
  /** 2xx answers per second, median of the runs. */
  rps: number;
  /** Each run's rps, to show the spread. */
  runs: number[];
  p99Ms: number;
  /** The server process's CPU time per answered request (median of runs): cost, less luck-bound than rps. */
  cpuMicrosPerRequest: number;
  ok: number;
  /** Non-2xx answers, socket errors and unanswered requests over every measured run. */
  errors: number;
  /** Answers slower than wrk's 2 s timeout (arrived, so not errors). */
  slow: number;
  /** Committed increments minus 2xx answers over the measured runs; 0 when every answer was real. */
  counterMismatch: number | null;
}

/** A scenario's server on one runtime, warmed up, measured run by run so everything takes turns. */
export interface RunningScenario {
  runOnce(): Promise<void>;
  result(): LoadResult;
  stop(): Promise<void>;
}

export async function prepareScenario(
  scenario: LoadScenario,
  runtime: Runtime,
  bundles: BenchBundles,
  plan: Plan,
): Promise<RunningScenario> {
  const database = scenario.database ? await freshDatabase() : undefined;
  const server = await scenario.start({ runtime, bundles, database }).catch(async (error: unknown) => {
    await database?.drop();
    throw error;
  });
  const url = `${server.url}${scenario.path}`;
  const load = { connections: plan.connections, threads: plan.threads };
  await runWrk(url, { ...load, seconds: plan.warmupSeconds });
  const runs: WrkRun[] = [];
  const cpuPerRequest: number[] = [];
  let mismatch = 0;
  const pid = server.child.pid ?? 0;
  return {
    runOnce: async () => {
      const before = database && scenario.counts ? await readCounter(database) : 0;
      const cpuBefore = await cpuMicros(pid);
      const run = await runWrk(url, { ...load, seconds: plan.seconds });
      cpuPerRequest.push(((await cpuMicros(pid)) - cpuBefore) / Math.max(1, run.ok + run.non2xx));
      if (database && scenario.counts) mismatch += (await readCounter(database)) - before - run.ok;
      runs.push(run);
    },
    result: () => ({
      rps: median(runs.map((run) => run.rps)),
      runs: runs.map((run) => Math.round(run.rps)),
      p99Ms: median(runs.map((run) => run.p99Ms)),
      cpuMicrosPerRequest: median(cpuPerRequest),
      ok: runs.reduce((sum, run) => sum + run.ok, 0),
      errors: runs.reduce((sum, run) => sum + run.non2xx + run.socketErrors + run.unanswered, 0),
      slow: runs.reduce((sum, run) => sum + run.slow, 0),
      counterMismatch: scenario.counts ? mismatch : null,
    }),
    stop: async () => {
      await server.stop();
      await database?.drop();
    },
  };
}
