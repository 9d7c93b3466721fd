import type { BenchBundles } from './bundles.ts';
import { freshDatabase, readCounter } from './database.ts';
import type { Plan } from './plan.ts';
import { pongProblem } from './pong-check.ts';
import { cpuMicros } from './processes.ts';
import type { BenchProcess } from './processes.ts';
import type { Runtime } from './runtimes.ts';
import { startPingpong } from './scenarios.ts';
import { runWrk } from './wrk.ts';

export interface ScaleOutPoint {
  processes: number;
  /** 2xx answers per second over every process together. */
  rps: number;
  /** CPU of the pingpong processes together per answer (PostgreSQL's not included). */
  cpuMicrosPerRequest: number;
  pongs: number;
  /** Every pong number answered once, and together exactly the numbers the counter moved over. */
  uniqueAndGapFree: boolean;
  /** What broke it when it is not (bench/pong-check.ts). */
  problem: string | null;
}

/**
 * `processes` pingpong processes (its production bundle and container environment, each on its
 * own port) against one database, as Knative scales the Service out. One wrk spreads its threads
 * over them; every answer's number is collected, and the numbers must be unique and cover the
 * counter's movement exactly: no number served twice, none committed and not served.
 */
export async function measureScaleOut(processes: number, runtime: Runtime, bundles: BenchBundles, plan: Plan): Promise<ScaleOutPoint> {
  const database = await freshDatabase();
  const servers: BenchProcess[] = [];
  try {
    for (let i = 0; i < processes; i += 1) servers.push(await startPingpong({ runtime, bundles, database }));
    const first = servers[0];
    if (first === undefined) throw new Error('scale-out needs at least one process');
    const load = {
      connections: plan.connections,
      threads: Math.max(plan.threads, processes),
      targets: servers.map((server) => new URL(server.url).host),
    };
    const url = `${first.url}/pingpong`;
    await runWrk(url, { ...load, seconds: plan.warmupSeconds });
    const cpu = async () => (await Promise.all(servers.map((server) => cpuMicros(server.child.pid ?? 0)))).reduce((a, b) => a + b, 0);
    const before = await readCounter(database);
    const cpuBefore = await cpu();
    const run = await runWrk(url, { ...load, seconds: plan.seconds, collectPongs: true });
    const cpuUsed = (await cpu()) - cpuBefore;
    const after = await readCounter(database);
    const problem = pongProblem(run, before, after) ?? null;
    return {
      processes,
      rps: run.rps,
      cpuMicrosPerRequest: cpuUsed / Math.max(1, run.ok),
      pongs: run.pongs?.unique ?? 0,
      uniqueAndGapFree: problem === null,
      problem,
    };
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await database.drop();
  }
}
