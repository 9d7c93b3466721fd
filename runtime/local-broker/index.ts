import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { dispatch } from './dispatch.ts';
import type { DispatchOptions, StoredEvent } from './dispatch.ts';
import { FileQueue } from './file-queue.ts';
import { serveInProcess } from './in-process.ts';
import type { DurableQueue } from './queue.ts';
import { RabbitmqQueue } from './rabbitmq-queue.ts';
import { appTransport, httpTransport } from './transport.ts';
import type { AppFetch, Transport } from './transport.ts';

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
  /**
   * Events delivered at once. Enough for every save of a busy client to have its delivery under
   * way, so the worker can store them in shared statements.
   */
  concurrency?: number;
  /**
   * This process's app, when it serves `subscriber` and `deadLetterSink` itself (`npm start`):
   * deliveries are handed to it as Requests rather than sent over a loopback socket. Without it
   * (`--isolated`: the worker is another process) they go over HTTP, as in the cluster.
   */
  app?: AppFetch;
  /**
   * How deliveries travel when there is no `app`; plain HTTP by default. The isolated runner
   * passes one that goes through each function's activator logic without its socket.
   */
  transport?: Transport;
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
  const concurrency = options.concurrency ?? 128;
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
    transport: options.app ? appTransport(options.app) : (options.transport ?? httpTransport),
    log,
    ...options.delivery,
  };
  const stopping = new AbortController();
  // Each delivery under way listens for the stop (its request or its backoff): one listener each.
  setMaxListeners(concurrency + 10, stopping.signal);
  const firstAttempts = new Map<string, () => void>();
  let healthy = true;
  await queue.consume(async (event) => {
    const outcome = await dispatch(event, dispatchOptions, stopping.signal, (ok) => {
      healthy = ok;
      firstAttempts.get(event.id)?.();
    });
    return outcome !== 'retry';
  });

  const accept = async (headers: IncomingHttpHeaders, body: string): Promise<Refusal | undefined> => {
    try {
      return await acceptEvent(headers, body, queue, () => healthy, firstAttempts);
    } catch (error) {
      log.error('local broker: could not accept an event', { error });
      return { status: 503, message: 'the local event queue is unavailable; retry shortly' };
    }
  };
  const server = createServer((request, response) => {
    void (async () => {
      if (request.method !== 'POST') return reply(response, { status: 405, message: 'POST a CloudEvent' });
      const body = await readBody(request);
      if (body === undefined) return reply(response, { status: 413, message: 'event too large' });
      reply(response, await accept(request.headers, body));
    })().catch((error: unknown) => {
      log.error('local broker: could not accept an event', { error });
      if (!response.headersSent) reply(response, { status: 503, message: 'the local event queue is unavailable; retry shortly' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  // Publishers in this process (save under `npm start`) skip the socket; the answers are the same.
  const stopServingInProcess = serveInProcess(url, async (headers, body) => {
    if (Buffer.byteLength(body) > maxEventBytes) return 413;
    return (await accept(headers, body))?.status ?? 202;
  });
  log.info('local broker ready', { url, queue: options.queue.kind === 'file' ? options.queue.dir : options.queue.queue, subscriber: options.subscriber });

  let closing: Promise<void> | undefined;
  return {
    url,
    kind: options.queue.kind,
    close: () => {
      closing ??= (async () => {
        stopServingInProcess();
        await closeServer(server);
        stopping.abort();
        await queue.close();
      })();
      return closing;
    },
  };
}

interface Refusal {
  status: number;
  message: string;
}

/**
 * Keeps the event durably and resolves once it is kept (undefined: answer 202), or with why it was
 * refused. While deliveries succeed, it also waits for the event's first delivery (see
 * `firstDeliveryWaitMs`). Only CloudEvent headers are kept: they are what the worker reads.
 */
async function acceptEvent(
  received: IncomingHttpHeaders,
  body: string,
  queue: DurableQueue,
  healthy: () => boolean,
  firstAttempts: Map<string, () => void>,
): Promise<Refusal | undefined> {
  const headers: Record<string, string> = {};
  for (const [receivedName, value] of Object.entries(received)) {
    // Lower case already over HTTP; a publisher in this process may spell them otherwise.
    const name = receivedName.toLowerCase();
    if ((name.startsWith('ce-') || name === 'content-type') && typeof value === 'string') headers[name] = value;
  }
  const id = headers['ce-id'] ?? structuredId(headers, body);
  if (!id) return { status: 400, message: 'not a CloudEvent: no id' };
  const event: StoredEvent = { id, headers, body };

  let attempted: Promise<void> | undefined;
  if (healthy() && !firstAttempts.has(id)) {
    attempted = new Promise((resolve) => firstAttempts.set(id, resolve));
  }
  try {
    await queue.publish(event);
    if (attempted) await within(attempted, firstDeliveryWaitMs);
  } finally {
    if (attempted) firstAttempts.delete(id);
  }
  return undefined;
}

/** Resolves when `promise` does or after `ms`, whichever comes first. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
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

/** The body as text, or undefined past `maxEventBytes`; with callbacks, as an async iterator is an allocation or two per event. */
function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxEventBytes) {
        request.off('data', onData).off('end', onEnd);
        request.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    request.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

function reply(response: ServerResponse, refusal: Refusal | undefined): void {
  if (refusal === undefined) {
    response.writeHead(202).end();
    return;
  }
  const code = refusal.status === 503 ? 'queue_unavailable' : 'invalid_event';
  response.writeHead(refusal.status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message: refusal.message } }));
}

function closeServer(server: Server): Promise<void> {
  server.closeIdleConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
