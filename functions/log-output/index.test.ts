import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import { createReadiness } from '../../runtime/readiness.ts';
import { createServerApp } from '../../runtime/server-app.ts';
import logOutput from './index.ts';

const app = createServerApp({
  functions: [logOutput],
  database: undefined,
  log: createLogger({ level: 'silent' }),
  metrics: createMetrics(),
  readiness: createReadiness(undefined, 1000),
});

/** The one error shape's message, refusing any other body. */
async function messageOf(response: Response): Promise<string> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('pings_unavailable');
  return body.error.message;
}

const linePattern = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z): ([0-9a-f-]{36})\.\nPing \/ Pongs: (.+)$/;

describe('log-output', () => {
  let peer: Server;
  let peerUrl: string;
  beforeAll(async () => {
    peer = createServer((request, response) => {
      if (request.url === '/pings') {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ pings: 41 }));
      } else if (request.url === '/cold') {
        // As a pings scaled to zero answers through Knative's activator: after its cold start.
        setTimeout(() => {
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify({ pings: 7 }));
        }, 2500);
      } else if (request.url === '/broken') {
        response.statusCode = 503;
        response.end('{}');
      }
      // '/hang' never answers
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    peerUrl = `http://127.0.0.1:${(peer.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    peer.closeAllConnections();
    peer.close();
  });

  it('prints the timestamp, the fixed instance id and the count fetched from pings', async () => {
    const first = await app.request('/log-output', {}, { pingsUrl: `${peerUrl}/pings` });
    expect(first.status).toBe(200);
    const [, timestamp, id, count] = linePattern.exec(await first.text()) ?? [];
    expect(count).toBe('41');
    expect(Math.abs(Date.parse(timestamp ?? '') - Date.now())).toBeLessThan(5000);
    const second = await (await app.request('/log-output', {}, { pingsUrl: `${peerUrl}/pings` })).text();
    expect(linePattern.exec(second)?.[2]).toBe(id);
  });

  it('waits out a cold start of pings with the default budget instead of answering 503', async () => {
    const answer = await app.request('/log-output', {}, { pingsUrl: `${peerUrl}/cold` });
    expect(answer.status).toBe(200);
    expect(linePattern.exec(await answer.text())?.[3]).toBe('7');
  });

  it('answers a JSON 503 within PINGS_TIMEOUT_MS, saying the count is unavailable, when pings times out or fails', async () => {
    const started = performance.now();
    const hung = await app.request('/log-output', {}, { pingsUrl: `${peerUrl}/hang`, pingsTimeoutMs: 300 });
    expect(hung.status).toBe(503);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(hung.headers.get('content-type')).toMatch(/^application\/json/);
    expect(linePattern.exec(await messageOf(hung))?.[3]).toBe('unavailable (pings did not answer within 300 ms)');
    const broken = await app.request('/log-output', {}, { pingsUrl: `${peerUrl}/broken` });
    expect(linePattern.exec(await messageOf(broken))?.[3]).toBe('unavailable (pings answered 503)');
    const refused = await app.request('/log-output', {}, { pingsUrl: 'http://127.0.0.1:1/pings' });
    expect(linePattern.exec(await messageOf(refused))?.[3]).toBe('unavailable (pings is unreachable)');
  });
});
