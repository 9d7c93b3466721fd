import type { BenchBundles } from './bundles.ts';
import { freshDatabase } from './database.ts';
import type { TestDatabase } from './database.ts';
import { startIsolated } from './isolated.ts';
import type { PipelineShapeId } from './labels.ts';
import type { Plan } from './plan.ts';
import { cpuUsedBetween, cpuUsedByRole, startProcess, treeCpuMicros } from './processes.ts';
import type { BenchProcess } from './processes.ts';
import type { Runtime } from './runtimes.ts';
import { runWrk } from './wrk.ts';
import type { WrkOptions } from './wrk.ts';

export interface PipelineResult {
  /** Saves answered 202 per second while saving. */
  acceptedPerSecond: number;
  p99Ms: number;
  /** Saves answered 202 over the whole measurement, warm-up included. */
  accepted: number;
  /** Rows in `messages` at the end: equal to `accepted` when each reached the table exactly once. */
  stored: number;
  /** Saves refused (4xx/5xx: not accepted, so not owed a row). */
  refused: number;
  /** Socket errors and unanswered saves: their fate is unknown to the client. */
  errors: number;
  /** Saves answered after more than 2 s (wrk's timeout): accepted, but slowly. */
  slow: number;
  /** The last answer of the measured run to the last row stored; null when they never all were. */
  drainMs: number | null;
  /** CPU of every process involved (gateway, functions, broker) per accepted save, stored included. */
  cpuMicrosPerSave: number;
  /** The same by process: in the gateway topology, nginx, the runner and each function's process. */
  cpuMicrosPerSaveByProcess: Record<string, number>;
}

/** Which part of the topology a process is, from its command line. */
function processRole(commandLine: string): string {
  if (commandLine.startsWith('nginx')) return 'nginx';
  const bundle = /\/functions\/([a-z0-9-]+)\/main\.js/.exec(commandLine);
  if (bundle?.[1]) return bundle[1];
  // `npm start -- --isolated`: the activators in front of each function, the local broker, and
  // the relay of every child's log lines.
  if (commandLine.includes('runtime/main.ts')) return 'runner';
  if (commandLine.includes('dist/main.js')) return 'all functions';
  // The runner keeps esbuild's service process from building the bundles.
  if (commandLine.includes('esbuild')) return 'esbuild';
  return 'other';
}

type StartShape = (runtime: Runtime, bundles: BenchBundles, database: TestDatabase) => Promise<BenchProcess>;

const pipelineShapes: Record<PipelineShapeId, StartShape> = {
  oneProcess: (runtime, bundles, database) =>
    startProcess([bundles.all], { DATABASE_URL: database.url, MIGRATE_ON_START: 'false' }, { node: runtime.node }),
  gateway: (runtime, _bundles, database) => startIsolated(runtime.node, { DATABASE_URL: database.url, MIGRATE_ON_START: 'false' }),
};

const storedRows = async (database: TestDatabase) =>
  Number((await database.query<{ n: string }>('select count(*) as n from messages')).rows[0]?.n ?? 0);

/**
 * Counts `messages` every 50 ms from now on, so the moment the last accepted save became a row is
 * known even when it happened before the bench learnt how many saves were accepted.
 */
function watchRows(database: TestDatabase) {
  const samples: { at: number; rows: number }[] = [];
  let stopped = false;
  const watching = (async () => {
    while (!stopped) {
      samples.push({ at: performance.now(), rows: await storedRows(database) });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    /** Resolves with when `rows` rows were first seen, or undefined after two minutes without. */
    reached: async (rows: number): Promise<number | undefined> => {
      const deadline = performance.now() + 120_000;
      for (;;) {
        const hit = samples.find((sample) => sample.rows >= rows);
        if (hit) return hit.at;
        if (performance.now() > deadline) return undefined;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop: async () => {
      stopped = true;
      await watching;
    },
  };
}

/**
 * save -> event -> worker -> PostgreSQL in one shape on one runtime: wrk POSTs distinct messages
 * to /save for `plan.seconds` (after a warm-up that also starts the functions), then the bench
 * waits until every accepted save is a row, and a moment longer to see that none is stored twice.
 */
export async function measurePipeline(shape: PipelineShapeId, runtime: Runtime, bundles: BenchBundles, plan: Plan): Promise<PipelineResult> {
  const database = await freshDatabase();
  try {
    const server = await pipelineShapes[shape](runtime, bundles, database);
    try {
      const load: WrkOptions = {
        connections: plan.connections,
        threads: plan.threads,
        seconds: plan.seconds,
        graceSeconds: 3,
        post: { path: '/save', contentType: 'application/json', body: '{"data":"bench message %s"}' },
      };
      const url = `${server.url}/save`;
      const rows = watchRows(database);
      try {
        // One save first: in the gateway topology it starts save and message-worker, which would
        // otherwise keep the warm-up's first answers waiting past wrk's grace.
        const headers = { 'content-type': 'application/json' };
        const first = await fetch(url, { method: 'POST', headers, body: '{"data":"bench first message"}' });
        await first.arrayBuffer();
        const firstAccepted = first.status === 202 ? 1 : 0;
        await rows.reached(firstAccepted);
        const warm = await runWrk(url, { ...load, seconds: plan.warmupSeconds });
        // The measured run starts with the warm-up's events stored, so its CPU is its own saves'.
        await rows.reached(firstAccepted + warm.ok);
        const pid = server.child.pid ?? 0;
        const cpuBefore = await treeCpuMicros(pid);
        const started = performance.now();
        const run = await runWrk(url, load);
        // wrk's span runs from its first request to its last answer; it starts a few ms after the spawn.
        const lastAnswerAt = started + run.seconds * 1000;
        const accepted = firstAccepted + warm.ok + run.ok;
        const storedAt = await rows.reached(accepted);
        const cpuAfter = await treeCpuMicros(pid);
        const cpu = cpuUsedBetween(cpuBefore, cpuAfter);
        const byRole = await cpuUsedByRole(cpuBefore, cpuAfter, processRole);
        // A moment longer: a message stored twice would show as more rows than accepted saves.
        await new Promise((resolve) => setTimeout(resolve, 500));
        return {
          acceptedPerSecond: run.rps,
          p99Ms: run.p99Ms,
          accepted,
          stored: await storedRows(database),
          refused: 1 - firstAccepted + warm.non2xx + run.non2xx,
          errors: warm.socketErrors + warm.unanswered + run.socketErrors + run.unanswered,
          slow: warm.slow + run.slow,
          drainMs: storedAt === undefined ? null : Math.max(0, storedAt - lastAnswerAt),
          cpuMicrosPerSave: cpu / Math.max(1, run.ok),
          cpuMicrosPerSaveByProcess: Object.fromEntries(Object.entries(byRole).map(([role, micros]) => [role, micros / Math.max(1, run.ok)])),
        };
      } finally {
        await rows.stop();
      }
    } finally {
      await server.stop();
    }
  } finally {
    await database.drop();
  }
}
