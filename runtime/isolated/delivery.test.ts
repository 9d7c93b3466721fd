import { Agent, createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { leaseTransport } from './delivery.ts';
import type { Instance, Lease } from './instance.ts';

const servers: Server[] = [];
const agents: Agent[] = [];
afterEach(async () => {
  for (const agent of agents.splice(0)) agent.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A function's process: records what reached it and answers 204. */
async function functionProcess() {
  const received: Array<{ url: string | undefined; host: string | undefined; type: string | undefined; body: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ url: request.url, host: request.headers.host, type: request.headers['content-type'], body });
      response.writeHead(204).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, received };
}

/**
 * An instance whose process is `port`, started after `startMs` (0: running already); counts the
 * leases taken by waiting (`acquired`), taken at once (`leasedAtOnce`) and still held.
 */
function instance(port: number, startMs = 0) {
  const agent = new Agent({ keepAlive: true });
  agents.push(agent);
  const state = { acquired: 0, leasedAtOnce: 0, held: 0 };
  const lease = (): Lease => {
    state.held += 1;
    return { port, agent, coldStartMs: undefined, release: () => (state.held -= 1) };
  };
  const fake: Instance = {
    name: 'message-worker',
    acquire: async (): Promise<Lease> => {
      state.acquired += 1;
      if (startMs > 0) await new Promise((resolve) => setTimeout(resolve, startMs));
      return lease();
    },
    leaseIfRunning: () => {
      if (startMs > 0) return undefined;
      state.leasedAtOnce += 1;
      return lease();
    },
    onStopping: () => () => {},
    close: async () => {},
  };
  return { fake, state };
}

describe('leaseTransport', () => {
  it("posts straight to the function's process under a lease, with the activator's address as Host", async () => {
    const process = await functionProcess();
    const { fake, state } = instance(process.port);
    const send = leaseTransport(new Map([['127.0.0.1:4000', fake]]));
    const answer = await send('http://127.0.0.1:4000/_events/message?x=1', { 'content-type': 'application/json' }, '{"data":"hi"}', { timeoutMs: 2000 });
    expect(answer).toEqual({ status: 204, text: '' });
    expect(process.received).toEqual([{ url: '/_events/message?x=1', host: '127.0.0.1:4000', type: 'application/json', body: '{"data":"hi"}' }]);
    // Leased without waiting (the process runs), released once answered: it may idle out again.
    expect(state).toEqual({ acquired: 0, leasedAtOnce: 1, held: 0 });
  });

  it('posts any other URL as it is', async () => {
    const process = await functionProcess();
    const { fake, state } = instance(1);
    const send = leaseTransport(new Map([['127.0.0.1:4000', fake]]));
    expect((await send(`http://127.0.0.1:${process.port}/dead`, {}, '{}', { timeoutMs: 2000 })).status).toBe(204);
    expect(process.received.map((each) => each.url)).toEqual(['/dead']);
    expect(state).toEqual({ acquired: 0, leasedAtOnce: 0, held: 0 });
  });

  it('gives up on a start slower than the attempt, and releases the lease that comes later', async () => {
    const process = await functionProcess();
    const { fake, state } = instance(process.port, 150);
    const send = leaseTransport(new Map([['127.0.0.1:4000', fake]]));
    await expect(send('http://127.0.0.1:4000/_events/message', {}, '{}', { timeoutMs: 30 })).rejects.toThrow('did not start within 30 ms');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(state).toEqual({ acquired: 1, leasedAtOnce: 0, held: 0 });
    expect(process.received).toEqual([]);
  });

  it('gives up when the broker stops during a start', async () => {
    const { fake } = instance(1, 1000);
    const stop = new AbortController();
    const send = leaseTransport(new Map([['127.0.0.1:4000', fake]]));
    const pending = send('http://127.0.0.1:4000/_events/message', {}, '{}', { timeoutMs: 5000, signal: stop.signal });
    stop.abort(new Error('stopping'));
    await expect(pending).rejects.toThrow('stopping');
  });
});
