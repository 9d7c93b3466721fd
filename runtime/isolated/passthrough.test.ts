import { Agent, createServer, request } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.ts';
import type { FunctionProcess } from './function-process.ts';
import { createInstance } from './instance.ts';
import type { Instance } from './instance.ts';
import { startActivatorPort } from './passthrough.ts';
import type { ActivatorPort } from './passthrough.ts';

const log = createLogger({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A function's processes as plain HTTP servers: each start is a new one; records what reached them; `/slow` answers after 400 ms. */
function fakeFunction() {
  const seen: Array<{ process: number; path: string | undefined; headers: IncomingHttpHeaders }> = [];
  let starts = 0;
  let stops = 0;
  const start = async (): Promise<FunctionProcess> => {
    const process = ++starts;
    const server: Server = createServer((incoming, outgoing) => {
      seen.push({ process, path: incoming.url, headers: incoming.headers });
      incoming.resume();
      setTimeout(() => outgoing.writeHead(200, { 'content-type': 'text/plain' }).end(`process ${process}`), incoming.url === '/slow' ? 400 : 0);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    let exit: (value: { code: number | null; signal: NodeJS.Signals | null }) => void = () => {};
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => (exit = resolve));
    const stop = async () => {
      stops += 1;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      exit({ code: 0, signal: null });
    };
    cleanups.push(() => (server.listening ? stop() : undefined));
    return { pid: 1000 + process, port: (server.address() as AddressInfo).port, exited, stop };
  };
  return { start, seen, counts: () => ({ starts, stops }) };
}

async function activatorFor(instance: Instance): Promise<ActivatorPort> {
  const port = await startActivatorPort(instance, 5000, log);
  cleanups.push(() => port.close());
  return port;
}

function keptAlive(): Agent {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => agent.destroy());
  return agent;
}

/** GET `path` at `address` on `agent`; the answer, whether it reused a connection, and which. */
function get(address: string, path: string, agent: Agent, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; coldStart: string | undefined; reused: boolean; localPort: number | undefined }>(
    (resolve, reject) => {
      const [host, port] = address.split(':');
      const outgoing = request({ host, port: Number(port), path, agent, headers }, (answer) => {
        let body = '';
        answer.on('data', (chunk: Buffer) => (body += chunk.toString()));
        answer.once('end', () =>
          resolve({
            status: answer.statusCode ?? 0,
            body,
            coldStart: answer.headers['x-knfn-cold-start'] as string | undefined,
            reused: outgoing.reusedSocket,
            localPort: outgoing.socket?.localPort,
          }),
        );
      });
      outgoing.once('error', reject);
      outgoing.end();
    },
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startActivatorPort', () => {
  it('cold-starts through the HTTP activator, then passes new connections to the running process as they are', async () => {
    const fn = fakeFunction();
    const instance = createInstance({ name: 'fn', start: fn.start, idleMs: 60_000, stopGraceMs: 1000, log });
    cleanups.push(() => instance.close());
    const port = await activatorFor(instance);

    const cold = await get(port.address, '/first', keptAlive());
    expect([cold.status, cold.body, cold.coldStart]).toEqual([200, 'process 1', expect.stringMatching(/^\d+$/)]);

    // Passed as sent: the activator's proxy would have dropped the hop-by-hop `keep-alive` header.
    const warm = await get(port.address, '/second', keptAlive(), { 'keep-alive': 'timeout=9' });
    expect([warm.status, warm.body, warm.coldStart]).toEqual([200, 'process 1', undefined]);
    expect(fn.seen.map(({ path, headers }) => [path, headers['keep-alive']])).toEqual([
      ['/first', undefined],
      ['/second', 'timeout=9'],
    ]);
    expect(fn.counts()).toEqual({ starts: 1, stops: 0 });
  });

  it('keeps the process while a passed request waits for its answer, and lets it idle out after', async () => {
    const fn = fakeFunction();
    const instance = createInstance({ name: 'fn', start: fn.start, idleMs: 100, stopGraceMs: 1000, log });
    cleanups.push(() => instance.close());
    const port = await activatorFor(instance);
    await get(port.address, '/start', keptAlive());

    // The second request of a passed connection, so its hold is taken by its bytes, not the connection.
    const agent = keptAlive();
    await get(port.address, '/fast', agent);
    const slow = await get(port.address, '/slow', agent);
    expect([slow.status, slow.body, slow.coldStart, slow.reused]).toEqual([200, 'process 1', undefined, true]);
    // 400 ms of waiting with an idle limit of 100 ms, and the process was never stopped under it.
    expect(fn.counts()).toEqual({ starts: 1, stops: 0 });
    await sleep(300);
    expect(fn.counts()).toEqual({ starts: 1, stops: 1 });
  });

  it('hands a kept-alive passed connection back to the activator on scale-down: its next request cold-starts', async () => {
    const fn = fakeFunction();
    const instance = createInstance({ name: 'fn', start: fn.start, idleMs: 150, stopGraceMs: 1000, log });
    cleanups.push(() => instance.close());
    const port = await activatorFor(instance);
    await get(port.address, '/start', keptAlive());

    const agent = keptAlive();
    const passed = await get(port.address, '/passed', agent);
    expect([passed.body, passed.coldStart]).toEqual(['process 1', undefined]);
    await sleep(400);
    expect(fn.counts()).toEqual({ starts: 1, stops: 1 });

    const again = await get(port.address, '/again', agent);
    // The same client connection, never closed under it, now served by the activator.
    expect([again.reused, again.localPort]).toEqual([true, passed.localPort]);
    expect([again.status, again.body, again.coldStart]).toEqual([200, 'process 2', expect.stringMatching(/^\d+$/)]);
  });

  it('sends a connection to the activator when the running process cannot be reached', async () => {
    const fn = fakeFunction();
    const real = createInstance({ name: 'fn', start: fn.start, idleMs: 60_000, stopGraceMs: 1000, log });
    cleanups.push(() => real.close());
    // A port nobody listens on: the process exited a moment ago, before its exit was noticed.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const deadPort = (gone.address() as AddressInfo).port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    let released = 0;
    const instance: Instance = {
      ...real,
      leaseIfRunning: () => ({ port: deadPort, agent: new Agent(), coldStartMs: undefined, release: () => (released += 1) }),
    };
    const port = await activatorFor(instance);

    const answer = await get(port.address, '/retry', keptAlive());
    expect([answer.status, answer.body, answer.coldStart]).toEqual([200, 'process 1', expect.stringMatching(/^\d+$/)]);
    expect(released).toBe(1);
  });
});
