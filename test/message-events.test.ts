import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CloudEvent, HTTP } from 'cloudevents';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import deadLetters from '../functions/dead-letters/index.ts';
import { replayDeadLetters } from '../functions/dead-letters/replay.ts';
import messageWorker from '../functions/message-worker/index.ts';
import { messageIdForKey } from '../functions/save/idempotency.ts';
import save from '../functions/save/index.ts';
import { allFunctions } from '../functions/index.ts';
import { isRetryable } from '../runtime/local-broker/dispatch.ts';
import { buildTestApp, postgresDatabase } from './support/app.ts';
import type { TestApp } from './support/app.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';

type Mode = 'forward' | 'forward-then-503' | 'down';

/**
 * The broker as save sees it, under the test's control: `forward` hands the event to the worker
 * and answers its status; `forward-then-503` stores it and then answers 503 (the answer lost, as
 * the 32 saves of issue 12); `down` answers 503 without storing. Everything sent is recorded.
 */
class ControlledSink {
  mode: Mode = 'forward';
  readonly received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  url = '';
  private server: Server | undefined;

  constructor(private readonly target: () => TestApp['app']) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        this.received.push({ headers: request.headers, body });
        void (async () => {
          let status = 503;
          if (this.mode !== 'down') {
            const headers = Object.fromEntries(Object.entries(request.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
            const stored = await this.target().request('/_events/message', { method: 'POST', headers, body });
            status = this.mode === 'forward' ? stored.status : 503;
          }
          response.writeHead(status).end();
        })();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('save with an Idempotency-Key, on PostgreSQL', () => {
  let database: TestDatabase;
  let test: TestApp;
  const sink = new ControlledSink(() => test.app);

  beforeAll(async () => {
    database = await createTestDatabase();
    test = await buildTestApp([save, messageWorker, deadLetters], postgresDatabase(database.url));
    await sink.start();
  });
  afterAll(async () => {
    await sink.stop();
    await test?.close();
    await database?.drop();
  });
  beforeEach(async () => {
    await database.query('truncate messages');
    sink.mode = 'forward';
    sink.received.length = 0;
  });

  const post = (key: string | undefined, data: string) =>
    test.app.request(
      '/save',
      { method: 'POST', headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'idempotency-key': key }) }, body: JSON.stringify({ data }) },
      { sink: sink.url },
    );
  const rows = async () => (await database.query<{ event_id: string; data: string }>('select event_id, data from messages order by id')).rows;

  it('stores one message for a key sent three times, whatever the earlier answers were', async () => {
    const key = 'order-42';
    sink.mode = 'forward-then-503';
    expect((await post(key, 'hello')).status).toBe(503);
    sink.mode = 'down';
    expect((await post(key, 'hello')).status).toBe(503);
    sink.mode = 'forward';
    const third = await post(key, 'hello');
    expect(third.status).toBe(202);
    expect(await third.json()).toEqual({ id: messageIdForKey(key) });
    expect(sink.received.map((delivery) => delivery.headers['ce-id'])).toEqual([messageIdForKey(key), messageIdForKey(key), messageIdForKey(key)]);
    expect(await rows()).toEqual([{ event_id: messageIdForKey(key), data: 'hello' }]);
  });

  it('stores two messages for two keys, and for two saves without a key that both got a lost answer', async () => {
    expect((await post('key-a', 'same text')).status).toBe(202);
    expect((await post('key-b', 'same text')).status).toBe(202);
    sink.mode = 'forward-then-503';
    // Without a key a retry is a new event: what a 503 without a key risks (README, save).
    expect((await post(undefined, 'no key')).status).toBe(503);
    expect((await post(undefined, 'no key')).status).toBe(503);
    expect((await rows()).map((row) => row.data)).toEqual(['same text', 'same text', 'no key', 'no key']);
  });

  it('answers 202 with the same id to the same key with another body, and keeps the first message', async () => {
    expect((await post('reused', 'first')).status).toBe(202);
    const second = await post('reused', 'second');
    expect(second.status).toBe(202);
    expect(await second.json()).toEqual({ id: messageIdForKey('reused') });
    expect(await rows()).toEqual([{ event_id: messageIdForKey('reused'), data: 'first' }]);
  });

  it('answers 400 JSON to a bad key, publishing nothing', async () => {
    // A header carries Latin-1 at most: é is the non-ASCII a client can send.
    for (const key of ['k'.repeat(129), 'tab\tkey', 'caf\u00e9']) {
      const response = await test.app.request(`/save?data=x`, { headers: { 'idempotency-key': key } }, { sink: sink.url });
      expect(response.status, key).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: 'invalid_idempotency_key' } });
    }
    expect(sink.received).toEqual([]);
  });
});

describe('dead letters, on PostgreSQL', () => {
  let database: TestDatabase;
  let test: TestApp;
  let recorder: Server;
  let recorderUrl = '';
  const recorded: Array<{ headers: IncomingHttpHeaders; body: string }> = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    test = await buildTestApp([messageWorker, deadLetters], postgresDatabase(database.url));
    recorder = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        recorded.push({ headers: request.headers, body });
        response.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    recorderUrl = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}/broker`;
  });
  afterAll(async () => {
    recorder?.closeAllConnections();
    await new Promise<void>((resolve) => recorder?.close(() => resolve()));
    await test?.close();
    await database?.drop();
  });

  const poison = new CloudEvent<unknown>({ type: 'dev.knfn.message.saved', source: '/save', data: { data: '' } });
  /** The poison event as Knative's dispatcher dead-letters it: the worker's answer in extensions. */
  const deadLettered = (answer: string) => {
    const message = HTTP.binary(poison);
    return {
      headers: {
        ...(message.headers as Record<string, string>),
        'ce-knativeerrordest': 'http://message-worker.knfn.svc.cluster.local/_events/message',
        'ce-knativeerrorcode': '400',
        'ce-knativeerrordata': Buffer.from(answer).toString('base64'),
      },
      body: String(message.body),
    };
  };

  it('the worker answers 400 to a poison event (dead-lettered) and 5xx only to what a retry can fix', async () => {
    const message = HTTP.binary(poison);
    const refused = await test.app.request('/_events/message', { method: 'POST', headers: message.headers as Record<string, string>, body: String(message.body) });
    expect(refused.status).toBe(400);
    // Knative's rule, which the local broker applies too: 400 is final, 503 (the database is down) retried.
    expect(isRetryable(refused.status)).toBe(false);
    expect(isRetryable(503)).toBe(true);
    expect([404, 408, 409, 429, 500, 502].every(isRetryable)).toBe(true);
    expect([400, 401, 403, 413, 415, 422].some(isRetryable)).toBe(false);
  });

  it('stores a dead letter whole, once per event id', async () => {
    const { headers, body } = deadLettered('{"error":{"code":"invalid_input"}}');
    for (let attempt = 0; attempt < 3; attempt++) {
      expect((await test.app.request('/_events/dead-letter', { method: 'POST', headers, body })).status).toBe(204);
    }
    const { rows } = await database.query<Record<string, unknown>>('select event_id, type, source, data, attributes, error_code, error_data, received_at, replayed_at from dead_letters');
    expect(rows).toEqual([
      {
        event_id: poison.id,
        type: 'dev.knfn.message.saved',
        source: '/save',
        data: '{"data":""}',
        attributes: expect.objectContaining({ id: poison.id, specversion: '1.0', datacontenttype: 'application/json; charset=utf-8', knativeerrorcode: '400' }),
        error_code: 400,
        error_data: '{"error":{"code":"invalid_input"}}',
        received_at: expect.any(Date),
        replayed_at: null,
      },
    ]);
    const notAnEvent = await test.app.request('/_events/dead-letter', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(notAnEvent.status).toBe(400);
  });

  it('replays each pending dead letter once, as the original event, and a second replay sends nothing', async () => {
    const other = new CloudEvent<unknown>({ type: 'dev.knfn.other', source: '/elsewhere', data: 'plain text', datacontenttype: 'text/plain' });
    const structured = HTTP.structured(other);
    expect((await test.app.request('/_events/dead-letter', { method: 'POST', headers: structured.headers as Record<string, string>, body: String(structured.body) })).status).toBe(204);

    const first = await replayDeadLetters(test.database.db, recorderUrl);
    expect(first).toEqual({ replayed: [poison.id, other.id], failed: [] });
    expect(recorded).toHaveLength(2);
    expect(recorded[0]?.headers).toMatchObject({ 'ce-id': poison.id, 'ce-type': 'dev.knfn.message.saved', 'ce-source': '/save', 'content-type': 'application/json; charset=utf-8' });
    expect(recorded[0]?.headers['ce-knativeerrorcode']).toBeUndefined();
    expect(recorded[0]?.body).toBe('{"data":""}');
    expect(HTTP.toEvent({ headers: recorded[1]?.headers as Record<string, string>, body: recorded[1]?.body })).toMatchObject({ id: other.id, data: 'plain text' });

    expect(await replayDeadLetters(test.database.db, recorderUrl)).toEqual({ replayed: [], failed: [] });
    expect(recorded).toHaveLength(2);
    const { rows } = await database.query<{ pending: string }>('select count(*) filter (where replayed_at is null) as pending from dead_letters');
    expect(rows).toEqual([{ pending: '0' }]);

    // Dead-lettered again after its replay: armed again, not lost behind its first row.
    const { headers, body } = deadLettered('still refused');
    expect((await test.app.request('/_events/dead-letter', { method: 'POST', headers, body })).status).toBe(204);
    expect((await replayDeadLetters(test.database.db, recorderUrl)).replayed).toEqual([poison.id]);
  });

  it('keeps a dead letter pending when the target refuses it', async () => {
    const event = new CloudEvent<unknown>({ type: 'dev.knfn.message.saved', source: '/save', data: { data: 'later' } });
    const message = HTTP.binary(event);
    await test.app.request('/_events/dead-letter', { method: 'POST', headers: message.headers as Record<string, string>, body: String(message.body) });
    const result = await replayDeadLetters(test.database.db, 'http://127.0.0.1:1/nothing-listens', { timeoutMs: 1000 });
    expect(result.replayed).toEqual([]);
    expect(result.failed.map((failure) => failure.eventId)).toEqual([event.id]);
    expect((await replayDeadLetters(test.database.db, recorderUrl)).replayed).toEqual([event.id]);
  });
});

describe('knative/500-eventing.yaml', () => {
  type Delivery = { retry: number; backoffPolicy: string; backoffDelay: string; deadLetterSink: { ref: { kind: string; name: string }; uri: string } };
  type Doc = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; spec: Record<string, unknown> };
  const documents = parseAllDocuments(readFileSync(new URL('../knative/500-eventing.yaml', import.meta.url), 'utf8')).map((document) => document.toJSON() as Doc);
  const find = (kind: string) => documents.find((document) => document.kind === kind) as Doc;

  /** Seconds of an ISO 8601 duration as Knative writes backoffDelay (PT1S, PT0.5S, PT1M). */
  const seconds = (duration: string) => {
    const match = /^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(duration);
    if (!match) throw new Error(`unsupported duration ${duration}`);
    return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
  };
  /** The least total wait before dead-lettering: backoffDelay * 2^n before retry n+1, n from 0. */
  const retryWindowSeconds = ({ retry, backoffPolicy, backoffDelay }: Delivery) => {
    expect(backoffPolicy).toBe('exponential');
    return seconds(backoffDelay) * (2 ** retry - 1);
  };

  it('uses the durable RabbitMQ broker class, configured for a RabbitmqCluster it declares', () => {
    const broker = find('Broker');
    expect(broker.metadata.annotations?.['eventing.knative.dev/broker.class']).toBe('RabbitMQBroker');
    expect(broker.spec['config']).toEqual({ apiVersion: 'eventing.knative.dev/v1alpha1', kind: 'RabbitmqBrokerConfig', name: find('RabbitmqBrokerConfig').metadata.name });
    expect(find('RabbitmqBrokerConfig').spec['rabbitmqClusterReference']).toEqual({ name: find('RabbitmqCluster').metadata.name, namespace: 'knfn' });
  });

  it('retries long enough to outlive a 15-minute database outage, then dead-letters to the dead-letters function', () => {
    for (const kind of ['Broker', 'Trigger']) {
      const delivery = find(kind).spec['delivery'] as Delivery;
      expect(retryWindowSeconds(delivery), kind).toBeGreaterThanOrEqual(15 * 60);
      const sink = allFunctions.find((definition) => definition.name === delivery.deadLetterSink.ref.name);
      expect(sink?.internal, kind).toBe(true);
      expect(sink?.routes, kind).toContain(delivery.deadLetterSink.uri);
    }
    expect(retryWindowSeconds(find('Trigger').spec['delivery'] as Delivery)).toBe(1023);
  });

  it('delivers several events at once, so the worker can batch them, within what one worker pod takes', () => {
    const parallelism = Number(find('Trigger').metadata.annotations?.['rabbitmq.eventing.knative.dev/parallelism']);
    expect(parallelism).toBeGreaterThan(1);
    const worker = parseAllDocuments(readFileSync(new URL('../knative/functions/message-worker.yaml', import.meta.url), 'utf8'))[0]?.toJSON() as {
      spec: { template: { spec: { containerConcurrency: number } } };
    };
    expect(parallelism).toBeLessThanOrEqual(worker.spec.template.spec.containerConcurrency);
  });
});
