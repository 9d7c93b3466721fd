import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './errors.ts';
import { securityHeaderEntries } from './response-headers.ts';

/** How long a socket answered here stays open for the client to read the answer. */
const lingerMs = 1000;

const answered = new WeakSet<Duplex>();

/**
 * Node's `clientError`: what its HTTP parser refuses before any handler runs (headers or URL too
 * large, a malformed request line or header) and the REQUEST_TIMEOUT_MS timeout. Node's own answer
 * has an empty body; this one has the JSON shape of every other error, then the connection closes.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (answered.has(socket)) return;
  answered.add(socket);
  // Only on a connection whose response has not started: anything else would corrupt it.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (!socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, code, message] = refusalFor(error.code);
  const body = JSON.stringify(errorBody(code, message));
  const headers = [
    ...securityHeaderEntries(),
    ['X-Request-Id', crypto.randomUUID()],
    ['Content-Type', 'application/json'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ['Connection', 'close'],
  ];
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${headers.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`;
  // Half-closed and still read for a moment: closing with unread bytes from the client would
  // reset the connection, and the reset can reach the client before the answer does.
  socket.end(head + body);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function refusalFor(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'request_header_fields_too_large', 'the request line or headers are too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'payload_too_large', 'the chunk extensions are too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'the request did not arrive in full within the request timeout'];
    default:
      return [400, 'bad_request', 'the request is not valid HTTP/1.1'];
  }
}
