import { randomUUID } from 'node:crypto';
import { ApiError } from '../../runtime/errors.ts';
import { httpPost } from '../../runtime/http-post.ts';
import { inProcessSink } from '../../runtime/local-broker/in-process.ts';
import { messageSavedType } from './message.ts';
import type { Message } from './message.ts';

/** Short enough that a stuck broker answers the user with a 503 rather than a hanging request. */
const sinkTimeoutMs = 3000;

/** An HTTP request carrying one CloudEvent. */
export interface EventMessage {
  headers: Record<string, string>;
  body: string;
}

/**
 * The message as a binary-mode CloudEvent (the HTTP binding of CloudEvents 1.0): its attributes
 * in `ce-` headers, its data as the JSON body. Written out rather than built with the cloudevents
 * SDK, which validated on every save what this function alone sets (every value is plain ASCII);
 * the SDK reads it back whole (publish.test.ts).
 */
export function messageEvent(message: Message, id: string, time = new Date()): EventMessage {
  return {
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/save',
      'ce-type': messageSavedType,
      'ce-time': time.toISOString(),
    },
    body: JSON.stringify(message),
  };
}

/**
 * Publishes the message as a binary-mode CloudEvent and resolves with its id once the sink has
 * accepted it (2xx). Anything else is a 503, which does not mean "not saved": the sink may have
 * taken the event and its answer been lost. `id` (derived from the client's Idempotency-Key) makes
 * the client's retry the same event, which the worker stores once.
 */
export async function publishMessage(sink: string | undefined, message: Message, id: string = randomUUID()): Promise<string> {
  if (!sink) throw unavailable('no event sink is configured (K_SINK)');
  const { headers, body } = messageEvent(message, id);
  let status: number;
  try {
    status = await send(sink, headers, body);
  } catch (error) {
    throw unavailable('the event sink is unreachable; retry shortly', error);
  }
  if (status < 200 || status >= 300) throw unavailable(`the event sink answered ${status}; retry shortly`);
  return id;
}

/** The sink's answer: over HTTP, or straight from the local broker when this process runs it (`npm start`). */
async function send(sink: string, headers: Record<string, string>, body: string): Promise<number> {
  const local = inProcessSink(sink);
  if (!local) return (await httpPost(sink, headers, body, { timeoutMs: sinkTimeoutMs })).status;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${sinkTimeoutMs} ms`)), sinkTimeoutMs);
  });
  try {
    return await Promise.race([local(headers, body), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

function unavailable(message: string, cause?: unknown): ApiError {
  return new ApiError(503, 'sink_unavailable', message, { cause });
}
