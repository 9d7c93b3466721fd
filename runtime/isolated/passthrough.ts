import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import { activate, createHttpServer } from './activator.ts';
import type { Instance, Lease } from './instance.ts';
import { closeServer, listen } from './listen.ts';

export interface ActivatorPort {
  /** `127.0.0.1:port`: the function's cluster-local address here. */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * A function's cluster-local address, as Knative serves it: while the function runs, a connection
 * is passed straight to its process, bytes copied both ways without parsing HTTP (as the cluster's
 * activator steps out of the path of a warm revision); while it is at zero, starting or stopping,
 * the connection goes to the HTTP activator (`activate`), which cold-starts the process and marks
 * the answer with `x-knfn-cold-start`. Parsing and re-sending every request and answer was a third
 * of the runner's CPU per save behind nginx (measured on Node 20: about 0.85 -> 0.6 ms a save).
 *
 * A passed connection keeps the process from idling out while a request on it waits for its
 * answer: from the client's bytes to the first bytes back (the clients here, nginx and Node's
 * fetch, send one request at a time on a connection). When the process is about to be stopped,
 * every passed connection between requests is handed to the HTTP activator, so a request that
 * arrives during the scale-down waits for the next start rather than meeting a closed socket.
 */
export async function startActivatorPort(instance: Instance, requestTimeoutMs: number, log: Logger): Promise<ActivatorPort> {
  const http = createHttpServer(activate(instance), requestTimeoutMs, log);
  // Listening (on a port nobody is told of) is what starts Node's request and header timeouts,
  // which the connections handed over below need as much as any.
  await listen(http, 0, '127.0.0.1');
  const toHttp = (socket: Socket) => {
    http.emit('connection', socket);
    socket.resume();
  };
  const passed = new Set<Socket>();
  // Half-open as nginx and Node's HTTP server are: a client's FIN must not cut the answer short.
  const server = createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, (socket) => {
    const lease = instance.leaseIfRunning();
    if (lease === undefined) return toHttp(socket);
    passed.add(socket);
    socket.once('close', () => passed.delete(socket));
    pass(socket, lease, instance, (detached) => {
      passed.delete(detached);
      toHttp(detached);
    });
  });
  server.on('error', (error) => log.error('activator error', { function: instance.name, error }));
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of passed) socket.destroy();
      await closeServer(http);
      await closed;
    },
  };
}

/**
 * Copies `client` to the process at `first.port` and back until either side closes, or until the
 * process is about to be stopped while no request is waiting on this connection: then `handOver`
 * gets the client's socket, paused, with nothing of it read. A request holds a lease from its
 * first bytes (the first request: from the connection) to the first bytes of its answer.
 */
function pass(client: Socket, first: Lease, instance: Instance, handOver: (socket: Socket) => void): void {
  let lease: Lease | undefined = first;
  let detached = false;
  let connected = false;
  const upstream = connect({ host: '127.0.0.1', port: first.port, noDelay: true, allowHalfOpen: true });
  const release = () => {
    lease?.release();
    lease = undefined;
  };

  const onClientData = (chunk: Buffer) => {
    lease ??= instance.leaseIfRunning();
    if (!upstream.write(chunk)) client.pause();
  };
  const onUpstreamData = (chunk: Buffer) => {
    if (lease !== undefined) release();
    // More of a long answer: the process is still busy, so its idle time starts again.
    else instance.leaseIfRunning()?.release();
    if (!client.write(chunk)) upstream.pause();
  };
  const onClientDrain = () => upstream.resume();
  const onUpstreamDrain = () => client.resume();
  const onClientEnd = () => upstream.end();
  const onUpstreamEnd = () => client.end();
  const onClientClose = () => {
    unsubscribe();
    release();
    upstream.destroy();
  };
  const onUpstreamClose = () => {
    if (detached) return;
    unsubscribe();
    release();
    // The process went away or closed the connection: so does the client's connection, and
    // nginx answers a request in flight on it as for any upstream that vanished (502).
    client.destroy();
  };
  const ignore = () => {};

  client.on('data', onClientData).on('drain', onClientDrain).once('end', onClientEnd).once('close', onClientClose).on('error', ignore);
  upstream.on('data', onUpstreamData).on('drain', onUpstreamDrain).once('end', onUpstreamEnd).once('close', onUpstreamClose).on('error', ignore);

  const detach = () => {
    if (detached || lease !== undefined || client.destroyed) return;
    // An answer still being copied out is finished first (the process drains on SIGTERM).
    if (client.writableLength > 0 || upstream.isPaused()) return;
    detached = true;
    unsubscribe();
    client.pause();
    client.off('data', onClientData).off('drain', onClientDrain).off('end', onClientEnd).off('close', onClientClose).off('error', ignore);
    upstream.destroy();
    handOver(client);
  };
  const unsubscribe = instance.onStopping(detach);

  upstream.once('connect', () => {
    connected = true;
    if (!detached) client.resume();
  });
  // The process exited a moment ago, before the connection was made: nothing was read from the
  // client yet, so its request goes to the HTTP activator, which starts a new process.
  upstream.once('error', () => {
    if (connected) return;
    release();
    detach();
  });
}
