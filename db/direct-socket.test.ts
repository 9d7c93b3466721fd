import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeCause } from './errors.ts';
import { DirectSocket, directProxy } from './direct-socket.ts';

describe('DirectSocket', () => {
  it('closes at once when the driver gives up, even on a peer that never closes', async () => {
    const held: Socket[] = [];
    // A peer that accepts, never answers and ignores the client's FIN, as a hung server does.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      held.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const socket = new DirectSocket(`ws://${directProxy('127.0.0.1', port)}`);
      await new Promise<void>((resolve) => socket.addEventListener('open', () => resolve()));
      socket.send(new Uint8Array([0, 0, 0, 8, 4, 210, 22, 47]));
      const closed = new Promise<number>((resolve) => {
        const started = performance.now();
        socket.addEventListener('close', () => resolve(performance.now() - started));
      });
      socket.close();
      const ms = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), 2000))]);
      expect(ms).toBeLessThan(500);
      // What the driver wrote before closing still reached the peer.
      await expect.poll(() => held[0]?.bytesRead).toBe(8);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reports a refused connection as an Error carrying the errno and address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const socket = new DirectSocket(`ws://${directProxy('127.0.0.1', port)}`);
    const event = await new Promise<unknown>((resolve) => socket.addEventListener('error', resolve));
    expect(event).toBeInstanceOf(Error);
    expect(String(event)).not.toContain('[object Object]');
    expect(describeCause(event)).toBe(`ECONNREFUSED 127.0.0.1:${port}`);
  });
});
