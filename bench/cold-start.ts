import type { BenchBundles } from './bundles.ts';
import { freshDatabase } from './database.ts';
import { residentKib, startProcess } from './processes.ts';

export interface ColdStart {
  name: string;
  /** Spawn to first 200 on the probed path, median of the tries. */
  firstOkMs: number;
  /** VmRSS after that first request, median of the tries. */
  idleRssMib: number;
}

const bareHello =
  "require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

interface Probe {
  name: string;
  start: () => ReturnType<typeof startProcess>;
}

/** Spawn to first 200, then RSS once the first request's garbage had a moment to settle. */
async function probeOnce(probe: Probe): Promise<{ ms: number; rssMib: number }> {
  const server = await probe.start();
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { ms: server.startedInMs, rssMib: ((await residentKib(server.child.pid ?? 0)) ?? Number.NaN) / 1024 };
  } finally {
    await server.stop();
  }
}

/** The probes take turns try by try, so a busy moment of the machine hits both alike. */
async function probeInTurns(probes: Probe[], tries: number): Promise<ColdStart[]> {
  const samples = probes.map(() => ({ ms: [] as number[], rss: [] as number[] }));
  for (let i = 0; i < tries; i += 1) {
    for (const [index, probe] of probes.entries()) {
      const { ms, rssMib } = await probeOnce(probe);
      samples[index]?.ms.push(ms);
      samples[index]?.rss.push(rssMib);
    }
  }
  return probes.map((probe, index) => ({
    name: probe.name,
    firstOkMs: median(samples[index]?.ms ?? []),
    idleRssMib: median(samples[index]?.rss ?? []),
  }));
}

/**
 * Cold start as a scale-from-zero pod sees it: `node <bundle>` of pingpong's production bundle,
 * database configured, to its first 200 on GET /pingpong, so it includes opening the pool and the
 * first statement. The database is migrated beforehand, as the migration Job would.
 */
export async function measureColdStarts(
  bundles: BenchBundles,
  tries = 5,
): Promise<{ product: ColdStart; framework: ColdStart; bare: ColdStart }> {
  const database = await freshDatabase();
  try {
    const [product, framework, bare] = await probeInTurns(
      [
        {
          name: 'pingpong bundle, first GET /pingpong',
          start: () =>
            startProcess(
              [bundles.fn('pingpong')],
              { LOG_LEVEL: 'warn', FUNCTION: 'pingpong', DATABASE_URL: database.url, MIGRATE_ON_START: 'false' },
              '/pingpong',
            ),
        },
        // The floor of the stack: what Hono on @hono/node-server costs before any of our code.
        { name: 'Hono hello world bundle (the ceiling server)', start: () => startProcess([bundles.ceiling], {}, '/pingpong') },
        { name: 'bare node:http hello world', start: () => startProcess(['-e', bareHello], {}, '/') },
      ],
      tries,
    );
    if (!product || !framework || !bare) throw new Error('cold start probes returned no result');
    return { product, framework, bare };
  } finally {
    await database.drop();
  }
}
