import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/**
 * What the proxy does with traffic. `forward`: relays both ways. `silent`: a database that has
 * gone quiet without closing anything (a hung server, a partition that drops packets): new
 * connections are accepted and never answered, connections already open stop relaying in the
 * middle of whatever they were doing, and none is ever closed from this side, not even after the
 * client's FIN.
 */
export type ProxyMode = 'forward' | 'silent';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  silent: boolean;
}

/**
 * A TCP forwarder the tests can cut: `stop()` closes the port and resets every open connection,
 * as a database restart or network partition would; `start()` brings it back on the same port.
 * `setMode('silent')` keeps the port open but stops answering; `setLatency(ms)` delays every
 * answer, as a slow or distant database would.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private mode: ProxyMode = 'forward';
  private latencyMs = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    // allowHalfOpen: a client's FIN alone does not close the connection, as with a peer that
    // never reads or answers again.
    const server = createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const pair of this.pairs) {
      pair.client.resetAndDestroy();
      pair.upstream?.destroy();
    }
    this.pairs.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Switches what new and already open connections get (see ProxyMode). */
  setMode(mode: ProxyMode): void {
    this.mode = mode;
    // Back to forwarding, connections silenced meanwhile stay silent: whoever still holds one
    // must notice on its own, as it would after a real partition.
    if (mode === 'silent') for (const pair of this.pairs) pair.silent = true;
  }

  /** Delays every chunk from the server by `ms` (0: none). */
  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Connections accepted and not yet closed by the client, silent ones included. */
  openConnections(): number {
    return [...this.pairs].filter((pair) => !pair.client.destroyed && !pair.client.readableEnded).length;
  }

  private accept(client: Socket): void {
    const pair: Pair = { client, upstream: undefined, silent: this.mode === 'silent' };
    this.pairs.add(pair);
    client.on('close', () => this.pairs.delete(pair));
    client.on('error', () => {
      client.destroy();
      pair.upstream?.destroy();
    });
    if (pair.silent) {
      client.resume();
      return;
    }
    const upstream = createConnection(this.target);
    pair.upstream = upstream;
    upstream.on('error', () => {
      if (pair.silent) return;
      client.destroy();
      upstream.destroy();
    });
    client.on('data', (chunk: Buffer) => {
      if (!pair.silent) upstream.write(chunk);
    });
    client.on('end', () => {
      if (!pair.silent) upstream.end();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (pair.silent) return;
      if (this.latencyMs === 0) client.write(chunk);
      else setTimeout(() => pair.silent || client.destroyed || client.write(chunk), this.latencyMs);
    });
    upstream.on('end', () => {
      if (pair.silent) return;
      if (this.latencyMs === 0) client.end();
      else setTimeout(() => client.end(), this.latencyMs);
    });
  }
}

/** Starts a cuttable proxy in front of the server of `databaseUrl`; returns it and the URL through it. */
export async function startDatabaseProxy(databaseUrl: string): Promise<{ proxy: TcpProxy; url: string }> {
  const url = new URL(databaseUrl);
  const proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  await proxy.start();
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}
