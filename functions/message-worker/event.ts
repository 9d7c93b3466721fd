import { HTTP } from 'cloudevents';
import type { CloudEventV1 } from 'cloudevents';
import { ApiError } from '../../runtime/errors.ts';
import { parseInput } from '../../runtime/validate.ts';
import * as z from '../../runtime/zod.ts';
import { messageSavedType, messageSchema } from '../save/message.ts';
import type { Message } from '../save/message.ts';

const eventIdSchema = z.object({ id: z.string().check(z.minLength(1), z.maxLength(256)) });

export interface SavedMessageEvent {
  id: string;
  message: Message;
}

/** What the worker reads of an event, whichever way it was decoded. */
export interface DecodedEvent {
  id: string;
  type: string | undefined;
  data: unknown;
}

/**
 * Reads a `message.saved` CloudEvent in binary or structured mode. Every problem is a 400, which
 * brokers treat as final: redelivering a malformed event would only fail again.
 */
export function readMessageEvent(headers: Record<string, string>, body: string): SavedMessageEvent {
  const event = readBinaryJson(headers, body) ?? readWithSdk(headers, body);
  if (event.type !== messageSavedType) {
    throw new ApiError(400, 'invalid_event', `event type must be ${messageSavedType}, got ${event.type}`);
  }
  const { id } = parseInput(eventIdSchema, { id: event.id }, 'header');
  return { id, message: parseInput(messageSchema, event.data, 'body') };
}

// The JSON types the SDK parses a binary event's body as; other types leave the body a string.
const jsonTypes = new Set(['application/json', 'application/json; charset=utf-8']);
// Extensions the SDK would read as attributes of the event itself: they change how it decodes.
const attributeNames = new Set(['data', 'data_base64', 'datacontenttype', 'datacontentencoding', 'schemaurl']);

/**
 * The event as the SDK decodes it, for the one shape every delivery has (binary mode, CloudEvents
 * 1.0, a JSON object body): the id, type and parsed body the SDK would return, without its cost
 * (two error objects with stack traces and an environment lookup per JSON body, about half the
 * worker's own CPU per event). Undefined for anything else, which the SDK reads as before.
 */
export function readBinaryJson(headers: Readonly<Record<string, string>>, body: string): DecodedEvent | undefined {
  const id = headers['ce-id'];
  if (!id || headers['ce-specversion'] !== '1.0' || !jsonTypes.has(headers['content-type'] ?? '') || !body.startsWith('{')) return undefined;
  for (const name of Object.keys(headers)) {
    if (name.startsWith('ce-') && attributeNames.has(name.slice(3))) return undefined;
  }
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    // The SDK words the error; let it.
    return undefined;
  }
  return { id, type: headers['ce-type'], data };
}

function readWithSdk(headers: Record<string, string>, body: string): DecodedEvent {
  let event: CloudEventV1<unknown> | CloudEventV1<unknown>[];
  try {
    event = HTTP.toEvent<unknown>({ headers, body });
  } catch (error) {
    throw new ApiError(400, 'invalid_event', `not a valid CloudEvent: ${describe(error)}`);
  }
  if (Array.isArray(event)) throw new ApiError(400, 'invalid_event', 'batched CloudEvents are not accepted');
  return { id: event.id, type: event.type, data: event.data };
}

function describe(error: unknown): string {
  // The SDK's validation message lists its schema errors on separate lines.
  return error instanceof Error ? error.message.replace(/\s+/g, ' ').trim() : String(error);
}
