import type { BenchBundles } from './bundles.ts';
import { freshDatabase } from './database.ts';
import type { TestDatabase } from './database.ts';
import { readinessPath } from './container-env.ts';
import { coldStartLabels } from './labels.ts';
import type { ColdStartProbeId } from './labels.ts';
import { residentKib, startProcess } from './processes.ts';
import type { BenchProcess } from './processes.ts';
import type { Runtime } from './runtimes.ts';
import { startPeerHello, startPingpong } from './scenarios.ts';
import { median } from './stats.ts';

export interface ColdStart {
  /** Spawn to the answer of the first request after the readiness probe passed, median of the tries. */
  firstOkMs: number;
  /** VmRSS 0.3 s after that first request, median of the tries: start-up's garbage still resident. */
  idleRssMib: number;
  /** VmRSS once the process has sat idle for `settleMs` after its first request, median of the tries. */
  settledRssMib: number;
}

/**
 * How long a process sits idle before its settled RSS is read. V8's memory reducer first looks 8 s
 * after the last full GC and, when the process allocates little, collects with the young
 * generation shrunk back to its initial size, then again at most twice, half a second apart; the
 * pages start-up's garbage grew are returned then (seen here: 69 -> 58 MiB for pingpong on
 * Node 20, between the 8 s and 10 s readings). An idle pod sits at this figure until it scales to zero.
 */
export const settleMs = 15_000;

/** Memory settles the same way every time: three tries give a median without 15 s each of five. */
export const settledTries = (tries: number) => Math.min(tries, 3);

interface Probe {
  start(runtime: Runtime, bundles: BenchBundles, database: TestDatabase): Promise<BenchProcess & { startedInMs: number }>;
}

/**
 * Each server started as Knative starts a pod scaled from zero: the queue-proxy polls its readiness
 * probe, and the activator lets the waiting request through once it passes. The time runs from the
 * spawn to that request's answer: work a server does after its first probe answer but before the
 * user's (the product loads its metrics and Redis clients late) shows here. The baselines have no
 * probe of their own: their first request to `/` is their readiness. The peer answers the probe
 * path `func` deploys it with.
 */
const coldStartProbes: Record<ColdStartProbeId, Probe> = {
  bare: { start: (runtime, bundles) => startProcess([bundles.bare], {}, { node: runtime.node, readyPath: '/', firstRequestPath: '/' }) },
  honoHello: { start: (runtime, bundles) => startProcess([bundles.honoHello], {}, { node: runtime.node, readyPath: '/', firstRequestPath: '/' }) },
  peerHello: {
    start: (runtime, bundles) => startPeerHello({ runtime, bundles, database: undefined }, { readyPath: '/health/readiness', firstRequestPath: '/' }),
  },
  // The first pong includes committing the first statement. The database is migrated beforehand,
  // as the migration Job would.
  pingpong: {
    start: (runtime, bundles, database) =>
      startPingpong({ runtime, bundles, database }, { readyPath: readinessPath('pingpong'), firstRequestPath: '/pingpong' }),
  },
};

const rssMib = async (server: BenchProcess) => ((await residentKib(server.child.pid ?? 0)) ?? Number.NaN) / 1024;

/** Spawn to first 200, then RSS once the first request's garbage had a moment to settle. */
async function probeOnce(start: () => Promise<BenchProcess & { startedInMs: number }>): Promise<{ ms: number; rssMib: number }> {
  const server = await start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { ms: server.startedInMs, rssMib: await rssMib(server) };
  } finally {
    await server.stop();
  }
}

/**
 * Every probe on every runtime started one after another and left idle together, read `settleMs`
 * after the last one answered: a try costs one wait, not one per probe. They start after the
 * timed tries, so no idle process's GC lands in a timed start.
 */
async function settledOnce(
  starts: { key: string; start: () => Promise<BenchProcess> }[],
): Promise<Map<string, number>> {
  const servers: { key: string; server: BenchProcess }[] = [];
  try {
    for (const { key, start } of starts) servers.push({ key, server: await start() });
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return new Map(await Promise.all(servers.map(async ({ key, server }) => [key, await rssMib(server)] as const)));
  } finally {
    await Promise.all(servers.map(({ server }) => server.stop()));
  }
}

/**
 * Every probe on every runtime, taking turns try by try, so a busy moment of the shared machine
 * hits them alike. Each process starts without NODE_EXTRA_CA_CERTS (bench/processes.ts).
 */
export async function measureColdStarts(
  runtimes: readonly Runtime[],
  bundles: BenchBundles,
  tries: number,
): Promise<Record<ColdStartProbeId, Record<Runtime['id'], ColdStart>>> {
  const database = await freshDatabase();
  const ids = Object.keys(coldStartLabels) as ColdStartProbeId[];
  const samples = new Map<string, { ms: number[]; rss: number[]; settled: number[] }>();
  const sampleOf = (key: string) => {
    const sample = samples.get(key) ?? { ms: [], rss: [], settled: [] };
    samples.set(key, sample);
    return sample;
  };
  const probes = ids.flatMap((id) =>
    runtimes.map((runtime) => ({ key: `${id} ${runtime.id}`, start: () => coldStartProbes[id].start(runtime, bundles, database) })),
  );
  try {
    for (let i = 0; i < tries; i += 1) {
      for (const { key, start } of probes) {
        const { ms, rssMib } = await probeOnce(start);
        sampleOf(key).ms.push(ms);
        sampleOf(key).rss.push(rssMib);
      }
    }
    for (let i = 0; i < settledTries(tries); i += 1) {
      for (const [key, settled] of await settledOnce(probes)) sampleOf(key).settled.push(settled);
    }
  } finally {
    await database.drop();
  }
  const result = (id: ColdStartProbeId, runtime: Runtime): ColdStart => {
    const sample = sampleOf(`${id} ${runtime.id}`);
    return { firstOkMs: median(sample.ms), idleRssMib: median(sample.rss), settledRssMib: median(sample.settled) };
  };
  return Object.fromEntries(
    ids.map((id) => [id, Object.fromEntries(runtimes.map((runtime) => [runtime.id, result(id, runtime)]))]),
  ) as Record<ColdStartProbeId, Record<Runtime['id'], ColdStart>>;
}
