import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { dispatch } from './dispatch.ts';
import type { DispatchOptions, StoredEvent } from './dispatch.ts';
import { FileQueue } from './file-queue.ts';
import type { DurableQueue } from './queue.ts';
import { RabbitmqQueue } from './rabbitmq-queue.ts';

export type { StoredEvent } from './dispatch.ts';

export type LocalQueueConfig = { kind: 'file'; dir: string } | { kind: 'rabbitmq'; url: string; queue: string };

/** RabbitMQ when RABBITMQ_URL is set, else the journal under DATA_DIR/outbox. */
export function localBrokerQueue(config: Pick<Config, 'rabbitmq' | 'dataDir'>): LocalQueueConfig {
  return config.rabbitmq ? { kind: 'rabbitmq', ...config.rabbitmq } : { kind: 'file', dir: join(config.dataDir, 'outbox') };
}

export interface LocalBrokerOptions {
  queue: LocalQueueConfig;
  subscriber: string;
  deadLetterSink: string | undefined;
  log: Logger;
  /** Overrides of the delivery timing (tests shorten them). */
  delivery?: Partial<Pick<DispatchOptions, 'initialBackoffMs' | 'maxBackoffMs' | 'holdMs' | 'attemptTimeoutMs'>>;
  /** Events delivered at once. */
  concurrency?: number;
}

export interface LocalBroker {
  /** Where `save` publishes (its K_SINK): POST a CloudEvent, 202 once it is durable. */
  readonly url: string;
  readonly kind: LocalQueueConfig['kind'];
  close(): Promise<void>;
}

/**
 * Saves wait this long for the first delivery while deliveries succeed, so a message posted from
 * the board's form is on the page it is redirected to. Well under save's 3 s sink timeout.
 */
const firstDeliveryWaitMs = 1500;
const maxEventBytes = 1024 * 1024;

/**
 * The local stand-in for the cluster's Broker and Trigger (`npm start`, `--isolated`): an HTTP
 * sink that answers 202 only once the event is durable (a journal under DATA_DIR, or RabbitMQ),
 * then delivers it to the worker with retries and backoff for as long as the database is down,
 * across restarts, and dead-letters what the worker refuses for good.
 */
export async function startLocalBroker(options: LocalBrokerOptions): Promise<LocalBroker> {
  const { log } = options;
  const concurrency = options.concurrency ?? 8;
  const queue: FileQueue | RabbitmqQueue =
    options.queue.kind === 'file'
      ? new FileQueue(options.queue.dir, concurrency, log)
      : new RabbitmqQueue(options.queue.url, options.queue.queue, concurrency, log);
  await queue.open();

  const dispatchOptions: DispatchOptions = {
    subscriber: options.subscriber,
    deadLetterSink: options.deadLetterSink,
    initialBackoffMs: 200,
    maxBackoffMs: 5000,
    holdMs: 30_000,
    attemptTimeoutMs: 10_000,
    log,
    ...options.delivery,
  };
  const stopping = new AbortController();
  const firstAttempts = new Map<string, () => void>();
  let healthy = true;
  await queue.consume(async (event) => {
    const outcome = await dispatch(event, dispatchOptions, stopping.signal, (ok) => {
      healthy = ok;
      firstAttempts.get(event.id)?.();
    });
    return outcome !== 'retry';
  });

  const server = createServer((request, response) => {
    void accept(request, response, queue, () => healthy, firstAttempts).catch((error: unknown) => {
      log.error('local broker: could not accept an event', { error });
      if (!response.headersSent) reply(response, 503, 'the local event queue is unavailable; retry shortly');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  log.info('local broker ready', { url, queue: options.queue.kind === 'file' ? options.queue.dir : options.queue.queue, subscriber: options.subscriber });

  let closing: Promise<void> | undefined;
  return {
    url,
    kind: options.queue.kind,
    close: () => {
      closing ??= (async () => {
        await closeServer(server);
        stopping.abort();
        await queue.close();
      })();
      return closing;
    },
  };
}

async function accept(
  request: IncomingMessage,
  response: ServerResponse,
  queue: DurableQueue,
  healthy: () => boolean,
  firstAttempts: Map<string, () => void>,
): Promise<void> {
  if (request.method !== 'POST') return reply(response, 405, 'POST a CloudEvent');
  const body = await readBody(request);
  if (body === undefined) return reply(response, 413, 'event too large');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if ((name.startsWith('ce-') || name === 'content-type') && typeof value === 'string') headers[name] = value;
  }
  const id = headers['ce-id'] ?? structuredId(headers, body);
  if (!id) return reply(response, 400, 'not a CloudEvent: no id');
  const event: StoredEvent = { id, headers, body };

  let attempted: Promise<void> | undefined;
  if (healthy() && !firstAttempts.has(id)) {
    attempted = new Promise((resolve) => firstAttempts.set(id, resolve));
  }
  try {
    await queue.publish(event);
    if (attempted) await Promise.race([attempted, new Promise((resolve) => setTimeout(resolve, firstDeliveryWaitMs))]);
  } finally {
    if (attempted) firstAttempts.delete(id);
  }
  reply(response, 202);
}

function structuredId(headers: Record<string, string>, body: string): string | undefined {
  if (!/^application\/cloudevents\+json\b/i.test(headers['content-type'] ?? '')) return undefined;
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxEventBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, message?: string): void {
  if (message === undefined) {
    response.writeHead(status).end();
    return;
  }
  const code = status === 503 ? 'queue_unavailable' : 'invalid_event';
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message } }));
}

function closeServer(server: Server): Promise<void> {
  server.closeIdleConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
