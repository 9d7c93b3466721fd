import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from './support/load-client.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';

/** Sends the head of a request and part of its body, then drops the connection. */
async function abortUpload(base: string, path: string, framing: 'chunked' | 'length'): Promise<void> {
  const { hostname, port } = new URL(base);
  const head =
    framing === 'chunked'
      ? `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"data":"\r\n`
      : `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":"`;
  await new Promise<void>((resolve) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(head);
      setTimeout(() => socket.destroy(), 100);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  });
}

describe('a client that drops its connection in the middle of an upload', () => {
  let database: TestDatabase;
  let server: SpawnedProcess & { url: string };

  beforeAll(async () => {
    database = await createTestDatabase();
    server = await spawnServer({ DATABASE_URL: database.url, STATS_FLUSH_INTERVAL_MS: '200' });
  });
  afterAll(async () => {
    await stopProcess(server);
    await database?.drop();
  });

  it('is recorded as the client closing the request (499), never as a database outage', async () => {
    for (const path of ['/save', '/api/locations']) {
      await abortUpload(server.url, path, 'chunked');
      await abortUpload(server.url, path, 'length');
    }
    await sleep(300);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const requests = metrics.split('\n').filter((line) => /^http_requests_total\{function="(save|locations)"/.test(line));
    const count = (status: string) =>
      requests.filter((line) => line.includes(`status="${status}"`)).reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    expect(count('499'), requests.join('\n')).toBe(4);
    expect(requests.filter((line) => !line.includes('status="499"'))).toEqual([]);

    const lines = server
      .output()
      .split('\n')
      .filter((line) => /"function":"(save|locations)"/.test(line))
      .map((line) => JSON.parse(line) as { level: string; msg: string; status?: number });
    expect(lines.filter((line) => line.msg === 'client closed the request').map((line) => line.level)).toEqual(['info', 'info', 'info', 'info']);
    expect(lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([]);
    expect(server.output()).not.toContain('database_unavailable');

    // The statistics /api/stats reads: client errors, not server errors.
    await expect
      .poll(
        async () => {
          const { rows } = await database.query<{ client: string; server: string }>(
            "select coalesce(sum(client_errors), 0) as client, coalesce(sum(server_errors), 0) as server from request_stats where function in ('save', 'locations')",
          );
          return rows[0];
        },
        { timeout: 5000 },
      )
      .toEqual({ client: '4', server: '0' });
  });
});
