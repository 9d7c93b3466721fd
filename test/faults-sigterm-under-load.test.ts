import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pongNumber, sleep, timedRequest } from './support/load-client.ts';
import type { LoadResult } from './support/load-client.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';

const workers = 20;
const shutdownTimeoutMs = 5000;
const signalAfterMs = 1500;

describe('SIGTERM in the middle of concurrent /pingpong load', () => {
  let database: TestDatabase;
  let server: SpawnedProcess & { url: string };

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await spawnServer({ DATABASE_URL: database.url, SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs), STATS_ENABLED: 'false' });
  });
  afterAll(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    await database?.drop();
  });

  it('completes every answered pong, commits it, and exits 0 within the grace period', async () => {
    const results: LoadResult[] = [];
    let exited = false;
    const exit = server.exited.then((code) => {
      exited = true;
      return code;
    });

    const worker = async () => {
      // Keeps going after the signal until the process is gone, so refusals are seen and counted.
      while (!exited) {
        const result = await timedRequest('pingpong', `${server.url}/pingpong`, {}, shutdownTimeoutMs + 2000);
        results.push(result);
        if (result.failure === 'refused') await sleep(20);
      }
    };
    const load = Promise.all(Array.from({ length: workers }, () => worker()));

    await sleep(signalAfterMs);
    const answeredBeforeSignal = results.filter((result) => result.status === 200).length;
    const signalledAt = performance.now();
    server.child.kill('SIGTERM');
    const code = await exit;
    const exitMs = performance.now() - signalledAt;
    await load;

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(shutdownTimeoutMs + 2000);
    expect(answeredBeforeSignal).toBeGreaterThan(0);

    const answered = results.filter((result) => result.status !== undefined);
    const broken = answered.filter((result) => result.status !== 200 || result.failure !== undefined || pongNumber(result.body) === undefined);
    expect(broken.map((result) => `${result.status} ${result.failure} ${result.body.slice(0, 120)}`)).toEqual([]);
    const timedOut = results.filter((result) => result.failure === 'timeout');
    expect(timedOut).toEqual([]);
    const refused = results.filter((result) => result.failure === 'refused').length;

    const numbers = answered.map((result) => pongNumber(result.body) ?? -1);
    expect(new Set(numbers).size).toBe(numbers.length);
    const { rows } = await database.query<{ count: string }>('select count from ping_count where id = 1');
    expect(Math.max(...numbers)).toBeLessThanOrEqual(Number(rows[0]?.count));
    expect(server.output()).toContain('"msg":"stopped","forced":false');

    console.log(
      `faults-sigterm-under-load: 1 SIGTERM; ${answered.length} complete pongs (${answeredBeforeSignal} before the signal), ` +
        `${refused} connections refused after it; exit ${code} after ${Math.round(exitMs)} ms; committed count ${rows[0]?.count}`,
    );
  });
});
