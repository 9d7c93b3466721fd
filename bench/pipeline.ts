import type { BenchBundles } from './bundles.ts';
import { freshDatabase } from './database.ts';
import { startProcess } from './processes.ts';

export interface PipelineResult {
  saves: number;
  concurrency: number;
  /** Accepted saves (202) per second, while saving. */
  acceptedPerSecond: number;
  /** First save sent to the last one readable on /view. */
  endToEndMs: number;
  /** Stored messages per second over that whole span. */
  storedPerSecond: number;
  /** Saves answered 202. */
  accepted: number;
  /** Rows in `messages` at the end: equal to `accepted` when each reached the table exactly once. */
  stored: number;
}

/**
 * The message pipeline as `npm start` runs it (one process, events posted to its own worker):
 * `saves` POST /save from `concurrency` parallel senders, then wait until every one is stored and
 * the last is readable on GET /view.
 */
export async function measurePipeline(bundles: BenchBundles, saves = 2000, concurrency = 20): Promise<PipelineResult> {
  const database = await freshDatabase();
  const server = await startProcess([bundles.all], { LOG_LEVEL: 'warn', DATABASE_URL: database.url, MIGRATE_ON_START: 'false' });
  try {
    const started = performance.now();
    let next = 0;
    let failedSaves = 0;
    const sender = async () => {
      while (next < saves) {
        const index = next++;
        const response = await fetch(`${server.url}/save`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ data: `bench message ${index}` }),
        });
        await response.arrayBuffer();
        if (response.status !== 202) failedSaves += 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, sender));
    const savedMs = performance.now() - started;
    const accepted = saves - failedSaves;

    let stored = 0;
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      stored = Number((await database.query<{ n: string }>('select count(*) as n from messages')).rows[0]?.n ?? 0);
      if (stored >= accepted && (await newestOnView(server.url)) !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const endToEndMs = performance.now() - started;
    return {
      saves,
      concurrency,
      acceptedPerSecond: accepted / (savedMs / 1000),
      endToEndMs,
      storedPerSecond: stored / (endToEndMs / 1000),
      accepted,
      stored,
    };
  } finally {
    await server.stop();
    await database.drop();
  }
}

async function newestOnView(url: string): Promise<string | undefined> {
  const response = await fetch(`${url}/view?limit=1`, { headers: { accept: 'application/json' } });
  const page = (await response.json()) as { items?: { data: string }[] };
  return page.items?.[0]?.data;
}
