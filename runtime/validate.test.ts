import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { describeError } from './errors.ts';
import { parseInput, readJsonBody } from './validate.ts';
import * as z from './zod.ts';

describe('parseInput', () => {
  it('returns parsed data', () => {
    expect(parseInput(z.object({ limit: z.coerce.number() }), { limit: '5' }, 'query')).toEqual({ limit: 5 });
  });

  it('throws a 400 naming each bad field', () => {
    const schema = z.object({ name: z.string().check(z.minLength(1)), limit: z.coerce.number().check(z.maximum(100)) });
    try {
      parseInput(schema, { name: '', limit: '500' }, 'query');
      expect.unreachable();
    } catch (error) {
      const { status, body } = describeError(error);
      expect(status).toBe(400);
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.message).toMatch(/^query\.name: .+; query\.limit: .+100/);
    }
  });
});

describe('NUL characters', () => {
  it('are rejected with a 400 naming the field, at any depth', () => {
    const schema = z.object({ note: z.object({ text: z.string() }) });
    try {
      parseInput(schema, { note: { text: 'a\u0000b' } }, 'body');
      expect.unreachable();
    } catch (error) {
      const { status, body } = describeError(error);
      expect(status).toBe(400);
      expect(body.error.message).toBe('body.note.text: must not contain NUL (U+0000) characters');
    }
  });
});

describe('readJsonBody', () => {
  const app = new Hono().post('/', async (c) => c.json({ got: await readJsonBody(c) }));
  app.onError((error, c) => {
    const { status, body } = describeError(error);
    return c.json(body, status);
  });

  it('answers 400 for malformed JSON and 415 for another type', async () => {
    const malformed = await app.request('/', { method: 'POST', body: '{"a":', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: { code: 'invalid_json', message: 'body is not valid JSON' } });
    const text = await app.request('/', { method: 'POST', body: 'a', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    const ok = await app.request('/', { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json; charset=utf-8' } });
    expect(await ok.json()).toEqual({ got: { a: 1 } });
  });
});
