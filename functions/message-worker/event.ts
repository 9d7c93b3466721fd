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

/**
 * Reads a `message.saved` CloudEvent in binary or structured mode. Every problem is a 400, which
 * brokers treat as final: redelivering a malformed event would only fail again.
 */
export function readMessageEvent(headers: Record<string, string>, body: string): SavedMessageEvent {
  let event: CloudEventV1<unknown> | CloudEventV1<unknown>[];
  try {
    event = HTTP.toEvent<unknown>({ headers, body });
  } catch (error) {
    throw new ApiError(400, 'invalid_event', `not a valid CloudEvent: ${describe(error)}`);
  }
  if (Array.isArray(event)) throw new ApiError(400, 'invalid_event', 'batched CloudEvents are not accepted');
  if (event.type !== messageSavedType) {
    throw new ApiError(400, 'invalid_event', `event type must be ${messageSavedType}, got ${event.type}`);
  }
  const { id } = parseInput(eventIdSchema, { id: event.id }, 'header');
  return { id, message: parseInput(messageSchema, event.data, 'body') };
}

function describe(error: unknown): string {
  // The SDK's validation message lists its schema errors on separate lines.
  return error instanceof Error ? error.message.replace(/\s+/g, ' ').trim() : String(error);
}
