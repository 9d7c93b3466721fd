import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../runtime/errors.ts';
import { messageEvent } from '../save/publish.ts';
import { readBinaryJson, readMessageEvent } from './event.ts';

const sdkRead = (headers: Record<string, string>, body: string) => {
  const event = HTTP.toEvent<unknown>({ headers, body });
  if (Array.isArray(event)) throw new Error('batch');
  return { id: event.id, type: event.type, data: event.data };
};

describe('readBinaryJson', () => {
  it('reads what save publishes, as the SDK does', () => {
    const { headers, body } = messageEvent({ data: 'hello', template: 'space' }, 'event-1');
    const fast = readBinaryJson(headers, body);
    expect(fast).toEqual({ id: 'event-1', type: 'dev.knfn.message.saved', data: { data: 'hello', template: 'space' } });
    expect(sdkRead(headers, body)).toEqual(fast);
  });

  it('leaves structured mode, other versions, other types and odd extensions to the SDK', () => {
    const binary = HTTP.binary(new CloudEvent({ type: 'dev.knfn.message.saved', source: '/save', data: { data: 'x' } }));
    const headers = binary.headers as Record<string, string>;
    const body = String(binary.body);
    expect(readBinaryJson(headers, body)).toBeDefined();
    const structured = HTTP.structured(new CloudEvent({ type: 'dev.knfn.message.saved', source: '/save', data: { data: 'x' } }));
    expect(readBinaryJson(structured.headers as Record<string, string>, String(structured.body))).toBeUndefined();
    expect(readBinaryJson({ ...headers, 'ce-specversion': '0.3' }, body)).toBeUndefined();
    expect(readBinaryJson({ ...headers, 'content-type': 'text/plain' }, body)).toBeUndefined();
    expect(readBinaryJson({ ...headers, 'ce-datacontenttype': 'text/plain' }, body)).toBeUndefined();
    expect(readBinaryJson({ ...headers, 'ce-schemaurl': 'http://x' }, body)).toBeUndefined();
    expect(readBinaryJson(headers, '{not json')).toBeUndefined();
    expect(readBinaryJson(headers, '"a string"')).toBeUndefined();
  });

  it('returns exactly what the SDK returns whenever it answers', () => {
    const extras = ['ce-time', 'ce-subject', 'ce-data', 'ce-data_base64', 'ce-datacontenttype', 'ce-schemaurl', 'ce-knativearrivaltime', 'datacontenttype'];
    const values = fc.constantFrom('', '1.0', 'application/json', 'text/plain', 'not base64!', 'x', '2026-01-01T00:00:00Z');
    // Mostly the shape deliveries have, so that the fast path answers often, plus anything else.
    const headers = fc
      .record({
        'ce-id': fc.oneof(fc.uuid(), fc.constantFrom('', 'x')),
        'ce-specversion': fc.constantFrom('1.0', '1.0', '0.3', ''),
        'content-type': fc.constantFrom('application/json; charset=utf-8', 'application/json', 'application/cloudevents+json', 'text/plain'),
        'ce-type': fc.constantFrom('dev.knfn.message.saved', 'other', ''),
        'ce-source': fc.constantFrom('/save', ''),
      })
      .chain((base) => fc.dictionary(fc.constantFrom(...extras), values, { maxKeys: 2 }).map((extra) => ({ ...base, ...extra })));
    const bodies = fc.oneof(
      { weight: 3, arbitrary: fc.dictionary(fc.string(), fc.jsonValue()).map((value) => JSON.stringify(value)) },
      { weight: 1, arbitrary: fc.constantFrom('{"data":"x","template":"space"}', '{not json', '[1]', '"s"', 'plain', '') },
    );
    let answered = 0;
    fc.assert(
      fc.property(headers, bodies, (headers, body) => {
        const fast = readBinaryJson(headers, body);
        if (fast === undefined) return;
        answered += 1;
        expect(sdkRead(headers, body)).toEqual(fast);
      }),
      { numRuns: 2000 },
    );
    expect(answered).toBeGreaterThan(100);
  });
});

describe('readMessageEvent', () => {
  it('answers the same 400 on both paths to a wrong type', () => {
    const { headers, body } = messageEvent({ data: 'x', template: 'default' }, 'event-2');
    const refusal = (read: () => unknown) => {
      try {
        read();
      } catch (error) {
        return error instanceof ApiError ? [error.status, error.message] : error;
      }
      return undefined;
    };
    const wrongType = { ...headers, 'ce-type': 'dev.knfn.other' };
    // An extension the fast path leaves alone sends the same event through the SDK.
    const viaSdk = { ...wrongType, 'ce-datacontentencoding': 'identity' };
    expect(refusal(() => readMessageEvent(wrongType, body))).toEqual([400, 'event type must be dev.knfn.message.saved, got dev.knfn.other']);
    expect(refusal(() => readMessageEvent(viaSdk, body))).toEqual(refusal(() => readMessageEvent(wrongType, body)));
  });
});
