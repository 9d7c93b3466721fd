import type { Logger } from '../logger.ts';
import type { Transport } from './transport.ts';

/** An accepted CloudEvent as the local broker keeps it: the HTTP message it arrived as (binary or structured). */
export interface StoredEvent {
  id: string;
  headers: Record<string, string>;
  body: string;
}

export interface DispatchOptions {
  /** The Trigger's subscriber: message-worker's event path. */
  subscriber: string;
  /** Where an event the subscriber refuses for good goes (dead-letters); undefined: logged and dropped. */
  deadLetterSink: string | undefined;
  /** Backoff between attempts: doubles from `initialMs` up to `maxMs`. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** How long one dispatch keeps retrying before it hands the event back to its queue. */
  holdMs: number;
  /** Per attempt: a subscriber that hangs is a failed attempt. */
  attemptTimeoutMs: number;
  /** How an attempt reaches the subscriber and the dead-letter sink. */
  transport: Transport;
  log: Logger;
}

export type Outcome = 'delivered' | 'dead-lettered' | 'retry';

/**
 * Knative Eventing's rule for which answers are worth retrying (network errors, 404, 408, 409,
 * 429, 5xx); any other non-2xx is final and the event goes to the dead-letter sink.
 */
export function isRetryable(status: number): boolean {
  return status >= 500 || [404, 408, 409, 429].includes(status);
}

/**
 * Delivers one event as a Knative Trigger does: retries with exponential backoff while the
 * subscriber fails (the database is down: the worker answers 503), dead-letters it when the
 * subscriber refuses it for good (400: a poison event), and resolves `retry` after `holdMs` so
 * the queue takes it back (a RabbitMQ consumer must not hold a message forever). Resolves only
 * once the subscriber (or the dead-letter sink) answered 2xx: the caller may then forget it.
 */
export async function dispatch(
  event: StoredEvent,
  options: DispatchOptions,
  signal: AbortSignal,
  onAttempt: (ok: boolean) => void = () => {},
): Promise<Outcome> {
  const started = performance.now();
  let backoffMs = options.initialBackoffMs;
  for (let attempt = 1; ; attempt++) {
    const answer = await post(options.transport, options.subscriber, event.headers, event.body, options.attemptTimeoutMs, signal);
    onAttempt(answer.status >= 200 && answer.status < 300);
    if (answer.status >= 200 && answer.status < 300) return 'delivered';
    if (answer.status !== 0 && !isRetryable(answer.status)) {
      if (await deadLetter(event, answer, options, signal)) return 'dead-lettered';
    } else if (attempt === 1 || attempt % 10 === 0) {
      options.log.warn('event delivery failed; retrying', { eventId: event.id, attempt, status: answer.status, reason: answer.text.slice(0, 200) });
    }
    if (signal.aborted || performance.now() - started + backoffMs > options.holdMs) return 'retry';
    await sleep(backoffMs, signal);
    backoffMs = Math.min(backoffMs * 2, options.maxBackoffMs);
  }
}

async function deadLetter(event: StoredEvent, answer: Answer, options: DispatchOptions, signal: AbortSignal): Promise<boolean> {
  if (options.deadLetterSink === undefined) {
    options.log.error('event refused and no dead-letter sink: dropped', { eventId: event.id, status: answer.status, reason: answer.text.slice(0, 200) });
    return true;
  }
  // The extensions Knative adds to a dead-lettered event, so the table reads the same locally.
  const headers = {
    ...event.headers,
    'ce-knativeerrordest': options.subscriber,
    'ce-knativeerrorcode': String(answer.status),
    'ce-knativeerrordata': Buffer.from(answer.text.slice(0, 1024)).toString('base64'),
  };
  const stored = await post(options.transport, options.deadLetterSink, headers, event.body, options.attemptTimeoutMs, signal);
  if (stored.status >= 200 && stored.status < 300) {
    options.log.warn('event refused by its subscriber: dead-lettered', { eventId: event.id, status: answer.status });
    return true;
  }
  options.log.warn('dead-lettering failed; retrying', { eventId: event.id, status: stored.status });
  return false;
}

interface Answer {
  /** 0: no answer (refused connection, timeout, abort). */
  status: number;
  text: string;
}

async function post(transport: Transport, url: string, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal): Promise<Answer> {
  try {
    return await transport(url, headers, body, { timeoutMs, signal });
  } catch (error) {
    return { status: 0, text: error instanceof Error ? error.message : String(error) };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
