import type { BenchBundles } from './bundles.ts';
import { freshDatabase } from './database.ts';
import type { TestDatabase } from './database.ts';
import { coldStartLabels } from './labels.ts';
import type { ColdStartProbeId } from './labels.ts';
import { residentKib, startProcess } from './processes.ts';
import type { BenchProcess } from './processes.ts';
import type { Runtime } from './runtimes.ts';
import { startPeerHello, startPingpong } from './scenarios.ts';
import { median } from './stats.ts';

export interface ColdStart {
  /** Spawn to first 200 on the probed path, median of the tries. */
  firstOkMs: number;
  /** VmRSS after that first request, median of the tries. */
  idleRssMib: number;
}

interface Probe {
  start(runtime: Runtime, bundles: BenchBundles, database: TestDatabase): Promise<BenchProcess & { startedInMs: number }>;
}

const coldStartProbes: Record<ColdStartProbeId, Probe> = {
  bare: { start: (runtime, bundles) => startProcess([bundles.bare], {}, { node: runtime.node, readyPath: '/' }) },
  honoHello: { start: (runtime, bundles) => startProcess([bundles.honoHello], {}, { node: runtime.node, readyPath: '/' }) },
  peerHello: { start: (runtime, bundles) => startPeerHello({ runtime, bundles, database: undefined }) },
  // As a scale-from-zero pod sees it: the first pong includes opening the pool and committing the
  // first statement. The database is migrated beforehand, as the migration Job would.
  pingpong: { start: (runtime, bundles, database) => startPingpong({ runtime, bundles, database }, '/pingpong') },
};

/** Spawn to first 200, then RSS once the first request's garbage had a moment to settle. */
async function probeOnce(start: () => Promise<BenchProcess & { startedInMs: number }>): Promise<{ ms: number; rssMib: number }> {
  const server = await start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { ms: server.startedInMs, rssMib: ((await residentKib(server.child.pid ?? 0)) ?? Number.NaN) / 1024 };
  } finally {
    await server.stop();
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
  const samples = new Map<string, { ms: number[]; rss: number[] }>();
  try {
    for (let i = 0; i < tries; i += 1) {
      for (const id of ids) {
        for (const runtime of runtimes) {
          const { ms, rssMib } = await probeOnce(() => coldStartProbes[id].start(runtime, bundles, database));
          const sample = samples.get(`${id} ${runtime.id}`) ?? { ms: [], rss: [] };
          sample.ms.push(ms);
          sample.rss.push(rssMib);
          samples.set(`${id} ${runtime.id}`, sample);
        }
      }
    }
  } finally {
    await database.drop();
  }
  const result = (id: ColdStartProbeId, runtime: Runtime): ColdStart => {
    const sample = samples.get(`${id} ${runtime.id}`);
    return { firstOkMs: median(sample?.ms ?? []), idleRssMib: median(sample?.rss ?? []) };
  };
  return Object.fromEntries(
    ids.map((id) => [id, Object.fromEntries(runtimes.map((runtime) => [runtime.id, result(id, runtime)]))]),
  ) as Record<ColdStartProbeId, Record<Runtime['id'], ColdStart>>;
}
