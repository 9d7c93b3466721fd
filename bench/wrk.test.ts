import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runWrk } from './wrk.ts';

/** A counter server: GET answers `pong N` (one shared counter), POST records its body. */
function counterServer(shared: { count: number; bodies: string[] }): Promise<{ server: Server; address: string }> {
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      shared.count += 1;
      if (request.method === 'POST') shared.bodies.push(body);
      response.end(request.method === 'POST' ? 'saved' : `pong ${shared.count}`);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

describe('runWrk', () => {
  it('leaves no request unanswered: what the servers counted equals the 2xx answers, and the pongs are unique and gap-free', async () => {
    const shared = { count: 0, bodies: [] };
    const [one, two] = await Promise.all([counterServer(shared), counterServer(shared)]);
    if (!one || !two) throw new Error('servers did not start');
    servers.push(one.server, two.server);

    const run = await runWrk(`http://${one.address}/pingpong`, {
      connections: 8,
      threads: 2,
      seconds: 1,
      targets: [one.address, two.address],
      collectPongs: true,
    });

    expect(run.ok).toBeGreaterThan(100);
    expect(shared.count).toBe(run.ok);
    expect(run.sent).toBe(run.ok);
    expect(run.unanswered).toBe(0);
    expect(run.socketErrors + run.non2xx).toBe(0);
    expect(run.pongs).toEqual({ unique: run.ok, duplicates: 0, lowest: 1, highest: run.ok, malformed: 0 });
    expect(run.seconds).toBeGreaterThan(0.95);
    expect(run.seconds).toBeLessThan(1.5);
    expect(run.rps).toBeCloseTo(run.ok / run.seconds, 6);
  });

  it('posts a distinct body per request from its template', async () => {
    const shared = { count: 0, bodies: [] as string[] };
    const target = await counterServer(shared);
    servers.push(target.server);

    const run = await runWrk(`http://${target.address}/`, {
      connections: 4,
      threads: 2,
      seconds: 1,
      post: { path: '/save', contentType: 'application/json', body: '{"data":"bench %s"}' },
    });

    expect(shared.bodies).toHaveLength(run.ok);
    expect(new Set(shared.bodies).size).toBe(run.ok);
    expect(shared.bodies.every((body) => /^\{"data":"bench \d+-\d+"\}$/.test(body))).toBe(true);
  });
});
