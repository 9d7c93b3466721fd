import { createHash } from 'node:crypto';
import { ApiError } from '../../runtime/errors.ts';

/** The header a client sends so that retrying a save never stores the message twice. */
export const idempotencyKeyHeader = 'Idempotency-Key';

/**
 * The namespace of message event ids derived from an idempotency key (a fixed random UUID: keys
 * of other systems hashed with another namespace never collide with ours).
 */
export const messageIdNamespace = '6d1f4f6e-3c55-4b8e-9a51-2f0f3e7b9c1d';

const maxKeyLength = 128;
// Printable ASCII without leading or trailing space: what a header carries unmangled everywhere.
const keyPattern = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/;

/** The request's idempotency key, undefined when absent; a 400 for a key that is not printable or too long. */
export function readIdempotencyKey(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.length > maxKeyLength || !keyPattern.test(value)) {
    throw new ApiError(
      400,
      'invalid_idempotency_key',
      `${idempotencyKeyHeader} must be 1-${maxKeyLength} printable ASCII characters, e.g. a UUID`,
    );
  }
  return value;
}

/**
 * The CloudEvent id of the message saved under `key`: a UUIDv5 (RFC 9562) of the key. Every retry
 * of one save publishes the same id, and the worker stores each id once (`ON CONFLICT (event_id)
 * DO NOTHING`), whatever the earlier answers were.
 *
 * @example
 * messageIdForKey('order-42') // the same UUID on every call, in every process
 */
export function messageIdForKey(key: string): string {
  return uuidV5(key, messageIdNamespace);
}

/** The name-based UUID version 5 (SHA-1) of `name` in `namespace`, as RFC 9562 defines it. */
export function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1').update(Buffer.from(namespace.replaceAll('-', ''), 'hex')).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
