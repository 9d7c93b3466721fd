import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnEntry, spawnServer } from './support/process.ts';
import { freePort } from '../runtime/isolated/free-port.ts';
import type { SpawnedProcess } from './support/process.ts';

type Server = SpawnedProcess & { url: string };
type Page = { items: Array<{ eventId: string; data: string; template: string }>; nextCursor: string | null };

async function stop(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return;
  server.child.kill('SIGTERM');
  await server.exited;
}

describe('save -> worker -> view in real server processes', () => {
  let database: TestDatabase;
  const servers: Server[] = [];
  const start = async (env: Record<string, string>) => {
    const server = await spawnServer({ DATABASE_URL: database.url, ...env });
    servers.push(server);
    return server;
  };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(servers.map(stop));
    await database?.drop();
  });

  it('under npm start (every function, no K_SINK) a saved message shows on /view', async () => {
    const server = await start({});
    const saved = await fetch(`${server.url}/save`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'text/html' },
      body: new URLSearchParams({ data: 'hello from the form', template: 'space' }).toString(),
      redirect: 'manual',
    });
    expect(saved.status).toBe(303);
    expect(saved.headers.get('location')).toBe('/view?template=space');
    const page = await (await fetch(`${server.url}/view?template=space`)).text();
    expect(page).toContain('hello from the form');

    const api = await fetch(`${server.url}/save`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ data: 'hello from json' }),
    });
    expect(api.status).toBe(202);
    const { id } = (await api.json()) as { id: string };
    const list = (await (await fetch(`${server.url}/view`, { headers: { Accept: 'application/json' } })).json()) as Page;
    expect(list.items.map((item) => [item.eventId === id, item.data])).toEqual([
      [true, 'hello from json'],
      [false, 'hello from the form'],
    ]);
  });

  it('as separate containers: save publishes to K_SINK, the worker takes deliveries on its event path', async () => {
    const worker = await start({ FUNCTION: 'message-worker', MIGRATE_ON_START: 'true' });
    const saver = await start({ FUNCTION: 'save', K_SINK: `${worker.url}/_events/message` });
    const response = await fetch(`${saver.url}/save?data=${encodeURIComponent('across containers')}`);
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const { rows } = await database.query<{ data: string }>('select data from messages where event_id = $1', [id]);
    expect(rows).toEqual([{ data: 'across containers' }]);
  });

  it('under npm start, accepts the very first save the port answers: requests wait for the local broker', async () => {
    const port = await freePort();
    const spawned = spawnEntry('runtime/main.ts', { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: database.url, DATA_DIR: `.data/test-first-save-${port}` });
    try {
      let first: Response | undefined;
      const deadline = Date.now() + 30_000;
      // As soon as the port accepts: before the process has logged that it listens.
      while (first === undefined && Date.now() < deadline) {
        first = await fetch(`http://127.0.0.1:${port}/save`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"data":"first"}' }).catch(() => undefined);
        if (first === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(first?.status).toBe(202);
    } finally {
      spawned.child.kill('SIGTERM');
      await spawned.exited;
      rmSync(`.data/test-first-save-${port}`, { recursive: true, force: true });
    }
  });

  it('a save container without K_SINK answers 503 sink_unavailable, and a bad K_SINK stops start-up', async () => {
    const saver = await start({ FUNCTION: 'save' });
    const response = await fetch(`${saver.url}/save?data=x`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'sink_unavailable' } });
    await expect(start({ FUNCTION: 'save', K_SINK: 'ftp://broker' })).rejects.toThrow(/K_SINK/);
  });
});
