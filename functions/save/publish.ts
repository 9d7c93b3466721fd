import { CloudEvent, HTTP } from 'cloudevents';
import { ApiError } from '../../runtime/errors.ts';
import { messageSavedType } from './message.ts';
import type { Message } from './message.ts';

/** Short enough that a stuck broker answers the user with a 503 rather than a hanging request. */
const sinkTimeoutMs = 3000;

/**
 * Publishes the message as a binary-mode CloudEvent and resolves with its id once the sink has
 * accepted it (2xx). Anything else is a 503, which does not mean "not saved": the sink may have
 * taken the event and its answer been lost. `id` (derived from the client's Idempotency-Key) makes
 * the client's retry the same event, which the worker stores once.
 */
export async function publishMessage(sink: string | undefined, message: Message, id?: string): Promise<string> {
  if (!sink) throw unavailable('no event sink is configured (K_SINK)');
  const event = new CloudEvent({ type: messageSavedType, source: '/save', data: message, ...(id === undefined ? {} : { id }) });
  const { headers, body } = HTTP.binary(event);
  let response: Response;
  try {
    response = await fetch(sink, {
      method: 'POST',
      headers: stringHeaders(headers),
      body: String(body),
      signal: AbortSignal.timeout(sinkTimeoutMs),
    });
  } catch (error) {
    throw unavailable('the event sink is unreachable; retry shortly', error);
  }
  // Release the connection: the sink's answer body carries nothing we use.
  await response.body?.cancel();
  if (!response.ok) throw unavailable(`the event sink answered ${response.status}; retry shortly`);
  return event.id;
}

function unavailable(message: string, cause?: unknown): ApiError {
  return new ApiError(503, 'sink_unavailable', message, { cause });
}

function stringHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) result[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return result;
}
