import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPost } from './http-post.ts';

const servers: Server[] = [];

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, server };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe('httpPost', () => {
  it('sends the body with its headers and resolves with any status and the answer text', async () => {
    const received: Array<{ method: string | undefined; url: string | undefined; type: string | undefined; length: string | undefined; body: string }> = [];
    const { url } = await listen((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ method: request.method, url: request.url, type: request.headers['content-type'], length: request.headers['content-length'], body });
        response.writeHead(received.length === 1 ? 202 : 503).end(received.length === 1 ? '' : '{"error":"down"}');
      });
    });
    expect(await httpPost(url, { 'content-type': 'application/json' }, '{"data":"héllo"}', { timeoutMs: 1000 })).toEqual({ status: 202, text: '' });
    expect(await httpPost(url, { 'content-type': 'application/json' }, '{}', { timeoutMs: 1000 })).toEqual({ status: 503, text: '{"error":"down"}' });
    // The length counts bytes, not characters (é is two).
    expect(received[0]).toEqual({ method: 'POST', url: '/events', type: 'application/json', length: '17', body: '{"data":"héllo"}' });
  });

  it('keeps the connection for the next request', async () => {
    const { url, server } = await listen((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    let connections = 0;
    server.on('connection', () => (connections += 1));
    for (let attempt = 0; attempt < 3; attempt++) await httpPost(url, {}, 'x', { timeoutMs: 1000 });
    expect(connections).toBe(1);
  });

  it('rejects when nothing listens, when the answer takes too long, and when aborted', async () => {
    const { url: unused, server } = await listen(() => {});
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(httpPost(unused, {}, 'x', { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const { url: silent } = await listen(() => {});
    const started = performance.now();
    await expect(httpPost(silent, {}, 'x', { timeoutMs: 200 })).rejects.toThrow('no answer within 200 ms');
    expect(performance.now() - started).toBeLessThan(1000);

    const stop = new AbortController();
    const pending = httpPost(silent, {}, 'x', { timeoutMs: 5000, signal: stop.signal });
    stop.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
  });
});
