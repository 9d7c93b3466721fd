import WebSocket from 'ws';

/**
 * A `ws` client that sends everything written in one synchronous run as one binary frame.
 *
 * The Neon driver writes each PostgreSQL protocol message of a statement (Parse, Bind, Describe,
 * Execute, Sync) separately. Its own coalescing waits for setTimeout(0), which delays every
 * statement by at least a millisecond; sending each message as its own frame costs two socket
 * writes per message on the way to the server. A microtask ends the same run without a timer.
 */
export class CoalescingWebSocket extends WebSocket {
  #pending: Buffer[] = [];

  override send(data: WebSocket.Data, callbackOrOptions?: unknown, callback?: (error?: Error) => void): void {
    // Only the driver's plain `send(bytes)` is coalesced; anything with options or a callback
    // goes out as it came.
    if (callbackOrOptions !== undefined || callback !== undefined || !(data instanceof Uint8Array)) {
      super.send(data, callbackOrOptions as never, callback);
      return;
    }
    this.#pending.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    if (this.#pending.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const chunks = this.#pending;
    this.#pending = [];
    try {
      super.send(Buffer.concat(chunks));
    } catch (error) {
      // Thrown inside a microtask it would crash the process; as a socket error the driver fails
      // the statement.
      this.emit('error', error);
    }
  }
}
