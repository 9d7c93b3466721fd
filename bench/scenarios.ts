import type { BenchBundles } from './bundles.ts';
import { freshDatabase, readCounter } from './database.ts';
import type { TestDatabase } from './database.ts';
import { runLoad } from './load.ts';
import type { LoadResult } from './load.ts';
import { cpuMicros, startProcess } from './processes.ts';
import type { BenchProcess } from './processes.ts';

export interface Scenario {
  name: string;
  /** Whether the scenario increments ping_count, so committed == 2xx can be checked. */
  counts: boolean;
  start(database: TestDatabase, bundles: BenchBundles): Promise<BenchProcess>;
}

const product = (statsEnabled: boolean) => (database: TestDatabase, bundles: BenchBundles) =>
  startProcess([bundles.fn('pingpong')], {
    LOG_LEVEL: 'warn',
    FUNCTION: 'pingpong',
    DATABASE_URL: database.url,
    MIGRATE_ON_START: 'false',
    STATS_ENABLED: String(statsEnabled),
  });

export const scenarios = {
  product: { name: 'product /pingpong (coalesced)', counts: true, start: product(true) },
  naive: {
    name: 'naive: one UPDATE per request',
    counts: true,
    start: (database, bundles) => startProcess([bundles.naive], { DATABASE_URL: database.url }),
  },
  ceiling: { name: 'ceiling: hello world', counts: false, start: (_database, bundles) => startProcess([bundles.ceiling], {}) },
  productNoStats: { name: 'product, STATS_ENABLED=false', counts: true, start: product(false) },
} satisfies Record<string, Scenario>;

export interface ScenarioResult {
  name: string;
  rps: number;
  p99Ms: number;
  /** The server process's CPU time per answered request (median of runs): cost, less luck-bound than rps. */
  cpuMicrosPerRequest: number;
  errors: number;
  ok: number;
  /** Committed increments minus 2xx answers over the measured runs; 0 when every answer was real. */
  counterMismatch: number | undefined;
  runs: LoadResult[];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** A scenario's server, warmed up, measured run by run so scenarios can take turns. */
export interface RunningScenario {
  runOnce(connections: number, seconds: number): Promise<void>;
  result(): ScenarioResult;
  stop(): Promise<void>;
}

/**
 * Fresh database, server process, and a warm-up run by time. Measured runs use a fixed request
 * count sized from the previous run's rate to last about `seconds`.
 */
export async function prepare(scenario: Scenario, bundles: BenchBundles, connections: number): Promise<RunningScenario> {
  const database = await freshDatabase();
  const server = await scenario.start(database, bundles).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  const url = `${server.url}/pingpong`;
  let lastRps = (await runLoad(url, { connections, limit: { seconds: 2 } })).rps;
  const runs: LoadResult[] = [];
  const cpuPerRequest: number[] = [];
  let mismatch = 0;
  const pid = server.child.pid ?? 0;
  return {
    runOnce: async (runConnections, seconds) => {
      // Lets requests abandoned by a timed warm-up finish before the counter is read.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const before = scenario.counts ? await readCounter(database) : 0;
      const requests = Math.max(1000, Math.round(lastRps * seconds));
      const cpuBefore = await cpuMicros(pid);
      const run = await runLoad(url, { connections: runConnections, limit: { requests } });
      cpuPerRequest.push(((await cpuMicros(pid)) - cpuBefore) / Math.max(1, run.ok + run.errors));
      if (scenario.counts) mismatch += (await readCounter(database)) - before - run.ok;
      lastRps = run.rps;
      runs.push(run);
    },
    result: () => ({
      name: scenario.name,
      rps: median(runs.map((run) => run.rps)),
      p99Ms: median(runs.map((run) => run.p99Ms)),
      cpuMicrosPerRequest: median(cpuPerRequest),
      errors: runs.reduce((sum, run) => sum + run.errors, 0),
      ok: runs.reduce((sum, run) => sum + run.ok, 0),
      counterMismatch: scenario.counts ? mismatch : undefined,
      runs,
    }),
    stop: async () => {
      await server.stop();
      await database.drop();
    },
  };
}
