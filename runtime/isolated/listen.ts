import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Resolves with the port `server` listens on (the one picked by the system for port 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/** Stops accepting, lets answers in flight pass for up to a second, then closes what is left. */
export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))]);
  clearInterval(sweep);
  server.closeAllConnections();
}
