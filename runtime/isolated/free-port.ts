import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback port nobody listens on right now. The child binds it a moment later; the gap is a
 * race in theory, but choosing the port here lets readiness be probed without parsing logs that
 * LOG_LEVEL may have silenced.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
