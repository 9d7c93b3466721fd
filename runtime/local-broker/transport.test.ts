import { describe, expect, it } from 'vitest';
import { appTransport } from './transport.ts';

describe('appTransport', () => {
  it('hands the event to the app as a POST and answers its status and text', async () => {
    const seen: Array<{ method: string; url: string; type: string | null; body: string }> = [];
    const send = appTransport(async (request) => {
      seen.push({ method: request.method, url: request.url, type: request.headers.get('content-type'), body: await request.text() });
      return new Response('{"error":"no"}', { status: 400 });
    });
    expect(await send('http://127.0.0.1:1/_events/message', { 'content-type': 'application/json' }, '{"data":"x"}', { timeoutMs: 1000 })).toEqual({
      status: 400,
      text: '{"error":"no"}',
    });
    expect(seen).toEqual([{ method: 'POST', url: 'http://127.0.0.1:1/_events/message', type: 'application/json', body: '{"data":"x"}' }]);
  });

  it('rejects, as a request without an answer would, when the app throws, hangs or the broker stops', async () => {
    const failing = appTransport(() => {
      throw new Error('bug');
    });
    await expect(failing('http://x/', {}, '', { timeoutMs: 1000 })).rejects.toThrow('bug');

    const hanging = appTransport(() => new Promise<Response>(() => {}));
    await expect(hanging('http://x/', {}, '', { timeoutMs: 50 })).rejects.toThrow('no answer within 50 ms');

    const stop = new AbortController();
    const pending = hanging('http://x/', {}, '', { timeoutMs: 5000, signal: stop.signal });
    stop.abort(new Error('stopping'));
    await expect(pending).rejects.toThrow('stopping');
  });
});
