import { HTTP } from 'cloudevents';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../runtime/errors.ts';
import { serveInProcess } from '../../runtime/local-broker/in-process.ts';
import { messageEvent, publishMessage } from './publish.ts';

describe('messageEvent', () => {
  it('is a binary-mode CloudEvent 1.0 the SDK reads back whole', () => {
    const time = new Date('2026-01-02T03:04:05.678Z');
    const { headers, body } = messageEvent({ data: 'héllo "quoted"', template: 'space' }, 'id-1', time);
    const event = HTTP.toEvent<unknown>({ headers, body });
    expect(event).toMatchObject({
      specversion: '1.0',
      id: 'id-1',
      source: '/save',
      type: 'dev.knfn.message.saved',
      time: '2026-01-02T03:04:05.678Z',
      datacontenttype: 'application/json; charset=utf-8',
      data: { data: 'héllo "quoted"', template: 'space' },
    });
  });
});

describe('publishMessage to a sink in this process', () => {
  const stops: Array<() => void> = [];
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });
  const sinkAt = (url: string, status: number) => {
    const received: Array<{ headers: Readonly<Record<string, string>>; body: string }> = [];
    stops.push(
      serveInProcess(url, async (headers, body) => {
        received.push({ headers, body });
        return status;
      }),
    );
    return received;
  };

  it('hands the event over without a socket and resolves with its id', async () => {
    // Nothing listens on port 1: an HTTP attempt would fail.
    const received = sinkAt('http://127.0.0.1:1/', 202);
    const id = await publishMessage('http://127.0.0.1:1/', { data: 'hi', template: 'default' });
    expect(received).toHaveLength(1);
    expect(received[0]?.headers).toMatchObject({ 'ce-id': id, 'ce-type': 'dev.knfn.message.saved', 'ce-source': '/save' });
    expect(JSON.parse(received[0]?.body ?? '')).toEqual({ data: 'hi', template: 'default' });
  });

  it('answers 503 when the sink refuses, as over HTTP', async () => {
    sinkAt('http://127.0.0.1:2/', 503);
    const refusal = await publishMessage('http://127.0.0.1:2/', { data: 'hi', template: 'default' }, 'given-id').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ApiError);
    expect(refusal).toMatchObject({ status: 503, code: 'sink_unavailable', message: 'the event sink answered 503; retry shortly' });
  });
});
