import { createConnection } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { DatabaseLog } from './settings.ts';

export interface WsBridgeOptions {
  /** The only TCP endpoint the bridge will open: the PostgreSQL server from DATABASE_URL. */
  target: { host: string; port: number };
  log: DatabaseLog;
  /** 0 picks a free port. */
  port?: number;
}

export interface WsBridge {
  /** `host:port/v1`, the form `neonConfig.wsProxy` takes (no protocol). */
  readonly proxyAddress: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A WebSocket-to-TCP bridge speaking the neondatabase/wsproxy protocol
 * (`ws://host/v1?address=db:5432`, then raw PostgreSQL bytes in binary frames), so the
 * @neondatabase/serverless driver can reach a plain PostgreSQL in development and tests.
 * It listens on loopback only and forwards to the one configured target, never to an address
 * named by the client: an open relay on a developer machine would be a hole.
 */
export async function startWsBridge({ target, log, port = 0 }: WsBridgeOptions): Promise<WsBridge> {
  const server = new WebSocketServer({ host: '127.0.0.1', port, path: '/v1', perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.on('error', (error) => log.error('database bridge error', { error }));

  server.on('connection', function bridgeConnection(socket, request) {
    const requested = new URL(request.url ?? '/', 'ws://bridge').searchParams.get('address');
    if (requested !== null && requested !== `${target.host}:${target.port}`) {
      log.warn('database bridge refused a connection to another address', { requested });
      socket.close(1008, 'address not allowed');
      return;
    }
    const tcp = createConnection({ host: target.host, port: target.port, noDelay: true });
    const stream = createWebSocketStream(socket);
    const onEnd = (error: Error | null | undefined) => {
      if (error) log.debug('database bridge connection ended', { error });
      tcp.destroy();
      socket.terminate();
    };
    pipeline(stream, tcp, onEnd);
    pipeline(tcp, stream, onEnd);
  });

  const listeningPort = (server.address() as AddressInfo).port;
  return {
    proxyAddress: `127.0.0.1:${listeningPort}/v1`,
    port: listeningPort,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
