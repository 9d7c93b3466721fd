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

async function probe(name: string, start: () => ReturnType<typeof startProcess>, tries: number): Promise<ColdStart> {
  const ms: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < tries; i += 1) {
    const server = await start();
    try {
      ms.push(server.startedInMs);
      // Let the first request's garbage settle a little so this is closer to idle than to peak.
      await new Promise((resolve) => setTimeout(resolve, 300));
      rss.push(((await residentKib(server.child.pid ?? 0)) ?? Number.NaN) / 1024);
    } finally {
      await server.stop();
    }
  }
  return { name, firstOkMs: median(ms), idleRssMib: median(rss) };
}

/**
 * Cold start as a scale-from-zero pod sees it, but run from source under tsx, which compiles
 * TypeScript at load and inflates both time and memory; bundled builds are measured elsewhere.
 * The pingpong probe is GET /pingpong, so its first answer includes opening the pool and the
 * first statement; the database is migrated beforehand, as the migration Job would.
 */
export async function measureColdStarts(tries = 3): Promise<ColdStart[]> {
  const database = await freshDatabase();
  try {
    const pingpong = await probe(
      'pingpong (node --import tsx runtime/main.ts)',
      () =>
        startProcess(
          ['--import', 'tsx', 'runtime/main.ts'],
          { LOG_LEVEL: 'warn', FUNCTION: 'pingpong', DATABASE_URL: database.url, MIGRATE_ON_START: 'false' },
          '/pingpong',
        ),
      tries,
    );
    const bare = await probe('bare node:http hello world', () => startProcess(['-e', bareHello], {}, '/'), tries);
    return [pingpong, bare];
  } finally {
    await database.drop();
  }
}
