import { ApiError } from '../../runtime/errors.ts';

/** A dead-lettered CloudEvent as the `dead_letters` table keeps it. */
export interface DeadLetter {
  eventId: string;
  type: string;
  source: string;
  /** Every context attribute and extension, as sent (datacontenttype included, data excluded). */
  attributes: Record<string, string>;
  /** The payload as received (binary mode: the body), null when the event had none. */
  data: string | null;
  errorCode: number | null;
  errorData: string | null;
}

/** The extensions Knative Eventing adds to an event it dead-letters; a replay leaves them off. */
export const knativeErrorExtensions = ['knativeerrordest', 'knativeerrorcode', 'knativeerrordata'] as const;

const structuredType = /^application\/cloudevents\+json\b/i;

/**
 * Reads a dead-lettered CloudEvent in binary or structured mode. Unlike the worker it accepts any
 * type and any payload, malformed JSON included (the reason it was dead-lettered may be its data):
 * only the attributes that identify an event (id, type, source, specversion) are required.
 */
export function readDeadLetter(headers: Record<string, string>, body: string): DeadLetter {
  const attributes = structuredType.test(headers['content-type'] ?? '') ? structuredAttributes(body) : binaryAttributes(headers, body);
  const { data, ...context } = attributes;
  for (const name of ['id', 'type', 'source', 'specversion'] as const) {
    const value = context[name];
    if (value === undefined || value === '') throw new ApiError(400, 'invalid_event', `not a CloudEvent: the ${name} attribute is missing`);
  }
  const id = context['id'] ?? '';
  if (id.length > 256) throw new ApiError(400, 'invalid_event', 'the id attribute is longer than 256 characters');
  const code = Number.parseInt(context['knativeerrorcode'] ?? '', 10);
  const errorData = context['knativeerrordata'];
  return {
    eventId: id,
    type: context['type'] ?? '',
    source: context['source'] ?? '',
    attributes: context,
    data: data ?? null,
    errorCode: Number.isInteger(code) ? code : null,
    // Knative base64-encodes the subscriber's answer body.
    errorData: errorData === undefined ? null : Buffer.from(errorData, 'base64').toString('utf8'),
  };
}

function binaryAttributes(headers: Record<string, string>, body: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('ce-')) attributes[lower.slice(3)] = value;
  }
  const contentType = headers['content-type'];
  if (contentType !== undefined) attributes['datacontenttype'] = contentType;
  if (body !== '') attributes['data'] = body;
  return attributes;
}

function structuredAttributes(body: string): Record<string, string> {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch {
    throw new ApiError(400, 'invalid_event', 'a structured CloudEvent must be a JSON object');
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new ApiError(400, 'invalid_event', 'a structured CloudEvent must be a JSON object');
  }
  const attributes: Record<string, string> = {};
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined || value === null) continue;
    attributes[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return attributes;
}

/**
 * The HTTP request (binary mode) that re-publishes a stored dead letter as the original event:
 * same id, attributes and payload, without Knative's error extensions.
 */
export function replayRequest(letter: Pick<DeadLetter, 'attributes' | 'data'>): { headers: Record<string, string>; body: string | Buffer } {
  const headers: Record<string, string> = {};
  const { datacontenttype, data_base64: base64, ...context } = letter.attributes;
  for (const [name, value] of Object.entries(context)) {
    if (!(knativeErrorExtensions as readonly string[]).includes(name)) headers[`ce-${name}`] = value;
  }
  if (datacontenttype !== undefined) headers['content-type'] = datacontenttype;
  const body = letter.data ?? (base64 === undefined ? '' : Buffer.from(base64, 'base64'));
  return { headers, body };
}
