import type { IncomingMessage } from 'node:http';

export interface LingerLimits {
  /** The longest the rest of an upload is read after the refusal. */
  ms: number;
  /** The most bytes of it read and thrown away. */
  bytes: number;
}

export const defaultLingerLimits: LingerLimits = { ms: 10_000, bytes: 64 * 1024 * 1024 };

/**
 * After a request is refused before its body was read (a 413), reads and discards the rest of the
 * upload, within `limits`, before the connection closes: nginx's lingering close. Closing a socket
 * that still receives data makes the kernel answer with a reset, which can reach the client
 * before it has read the refusal; it then reports a broken connection instead of the 413.
 */
export function lingerAfterRefusal(incoming: IncomingMessage, limits: LingerLimits = defaultLingerLimits): void {
  if (incoming.complete) return;
  const socket = incoming.socket;
  const closeNow = () => socket.destroy();
  const timer = setTimeout(closeNow, limits.ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));

  let discarded = 0;
  // The request's body stream pauses the upload once its buffer is full; nobody reads it any more.
  incoming.removeAllListeners('data');
  incoming.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.bytes) closeNow();
  });
  incoming.resume();

  // Node closes the socket with destroySoon once the answer is written (`Connection: close`), and
  // so does node-server after its own short drain: both now only end the writing side, and the
  // socket closes when the upload has arrived or a limit is reached.
  const closeSoon = socket.destroySoon.bind(socket);
  let lingering = false;
  socket.destroySoon = function lingeringClose() {
    if (incoming.complete) return closeSoon();
    if (lingering) return;
    lingering = true;
    socket.end();
    incoming.once('end', closeSoon);
  };
}
