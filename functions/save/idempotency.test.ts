import { describe, expect, it } from 'vitest';
import { ApiError } from '../../runtime/errors.ts';
import { messageIdForKey, readIdempotencyKey, uuidV5 } from './idempotency.ts';

describe('messageIdForKey', () => {
  it('derives a stable UUIDv5 from the key', () => {
    const id = messageIdForKey('order-42');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(messageIdForKey('order-42')).toBe(id);
    expect(messageIdForKey('order-43')).not.toBe(id);
  });

  it('is the RFC 9562 UUIDv5 (checked on a known vector of the DNS namespace)', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'www.example.com')
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
});

describe('readIdempotencyKey', () => {
  it('accepts printable keys up to 128 characters and no key at all', () => {
    expect(readIdempotencyKey(undefined)).toBeUndefined();
    expect(readIdempotencyKey('a')).toBe('a');
    expect(readIdempotencyKey('k'.repeat(128))).toBe('k'.repeat(128));
    expect(readIdempotencyKey('order 42/retry:1')).toBe('order 42/retry:1');
  });

  it('refuses empty, too long, non-printable and padded keys with a 400', () => {
    for (const bad of ['', 'k'.repeat(129), 'tab\there', 'naïve', ' padded', 'padded ', '\u0000']) {
      const error = (() => {
        try {
          readIdempotencyKey(bad);
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error, JSON.stringify(bad)).toBeInstanceOf(ApiError);
      expect((error as ApiError).status).toBe(400);
      expect((error as ApiError).code).toBe('invalid_idempotency_key');
    }
  });
});
