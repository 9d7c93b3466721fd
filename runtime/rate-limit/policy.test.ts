import { describe, expect, it } from 'vitest';
import { parseRateLimit, rateLimitHeaders } from './policy.ts';

describe('parseRateLimit', () => {
  it.each([
    ['60/1m', { limit: 60, windowSeconds: 60 }],
    ['5/30s', { limit: 5, windowSeconds: 30 }],
    ['1000/h', { limit: 1000, windowSeconds: 3600 }],
    ['10/24h', { limit: 10, windowSeconds: 86_400 }],
    [' 7/2M ', { limit: 7, windowSeconds: 120 }],
  ])('reads %s', (text, policy) => {
    expect(parseRateLimit(text)).toEqual(policy);
  });

  it.each(['', 'off', '60', '60/', '/1m', '0/1m', '5/0s', '5/25h', '5/1d', '5/1ms', '-1/1m', '1.5/1m', '60 per minute', '60/1m/2'])(
    'refuses %j',
    (text) => {
      expect(parseRateLimit(text)).toBeUndefined();
    },
  );
});

describe('rateLimitHeaders', () => {
  const policy = { limit: 5, windowSeconds: 60 };

  it('names the policy and what is left, with the reset in whole seconds rounded up', () => {
    expect(rateLimitHeaders(policy, { remaining: 3, resetMs: 41_200, refused: false })).toEqual({
      'RateLimit-Policy': '"writes";q=5;w=60',
      RateLimit: '"writes";r=3;t=42',
    });
  });

  it('adds Retry-After to a refusal, never 0 seconds', () => {
    expect(rateLimitHeaders(policy, { remaining: 0, resetMs: 9001, refused: true })).toEqual({
      'RateLimit-Policy': '"writes";q=5;w=60',
      RateLimit: '"writes";r=0;t=10',
      'Retry-After': '10',
    });
    expect(rateLimitHeaders(policy, { remaining: 0, resetMs: 0, refused: true })['Retry-After']).toBe('1');
  });
});
