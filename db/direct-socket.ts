import { connect } from 'node:net';
import type { Socket } from 'node:net';

/** What the driver reads of WebSocket events; an error event's `cause` keeps the socket's errno. */
interface SocketEvent {
  type: string;
  data?: Buffer;
  error?: Error;
  message?: string;
  cause?: unknown;
}
type Listener = (event: SocketEvent) => void;

/** The wsProxy setting that routes the driver's connections through DirectSocket. */
export const directProxy = (host: string, port: string | number): string => `direct/v1?address=${encodeURIComponent(`${host}:${port}`)}`;

/**
 * Stands in for the WebSocket the Neon driver opens to its proxy, speaking plain TCP straight to
 * PostgreSQL instead. For a server on this machine or network (DATABASE_URL without
 * DATABASE_WS_PROXY) a WebSocket hop adds nothing but framing, masking and a relay: measured on
 * GET /pingpong, an in-process bridge cost more node CPU than the HTTP handling itself. The
 * driver's protocol code, pool and errors are the same ones that run against a wsproxy or Neon.
 *
 * Implements only what the driver uses: `binaryType`, `addEventListener` for open, message,
 * error and close, `send` and `close`.
 */
export class DirectSocket {
  binaryType = 'arraybuffer';
  readonly #socket: Socket;
  readonly #listeners = new Map<string, Listener[]>();
  #corked = false;

  constructor(url: string) {
    const address = new URL(url).searchParams.get('address') ?? '';
    const separator = address.lastIndexOf(':');
    const host = address.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
    const port = Number(address.slice(separator + 1));
    this.#socket = connect({ host, port, noDelay: true });
    this.#socket.on('connect', () => this.#emit({ type: 'open' }));
    this.#socket.on('data', (data: Buffer) => this.#emit({ type: 'message', data }));
    // The driver rejects pending statements with this event itself, so it is an Error (not a bare
    // event object, which logs and readiness would print as `[object Object]`) that keeps the
    // socket's code (ECONNREFUSED...): that code tells a 503 from a bug.
    this.#socket.on('error', (error: Error) => this.#emit(socketErrorEvent(error)));
    this.#socket.on('close', () => this.#emit({ type: 'close' }));
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  send(data: Uint8Array): void {
    // The driver writes a statement's protocol messages one by one in the same run; corked until
    // that run ends, they leave in one packet.
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      queueMicrotask(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(data);
  }

  /**
   * The driver closes a socket when it gives up on it (connect or query timeout) and then waits for
   * the close event before failing the statement. A half-close (`end()`) waits for the peer's FIN,
   * which a server or proxy that has gone silent never sends: the statement then hung and the
   * sockets piled up. Destroying closes at once; what the driver wrote last (its Terminate message)
   * is flushed to the kernel first, so a live server still sees a clean goodbye.
   */
  close(): void {
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
    this.#socket.destroy();
  }

  #emit(event: SocketEvent | (Error & SocketEvent)): void {
    for (const listener of this.#listeners.get(event.type) ?? []) listener(event);
  }
}

/** The socket's error as the error event the driver reads: an Error of its own with the errno kept. */
function socketErrorEvent(error: Error): Error & SocketEvent {
  const { code, address, port } = error as { code?: unknown; address?: unknown; port?: unknown };
  return Object.assign(new Error(error.message || String(code ?? 'socket error'), { cause: error }), {
    type: 'error',
    error,
    code,
    address,
    port,
    ...('errors' in error ? { errors: (error as AggregateError).errors } : {}),
  });
}
