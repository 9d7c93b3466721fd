import type { StoredEvent } from './dispatch.ts';

/** Resolves true once the event may be forgotten (delivered or dead-lettered), false to get it back later. */
export type Handler = (event: StoredEvent) => Promise<boolean>;

/** Where the local broker keeps accepted events until they are delivered. */
export interface DurableQueue {
  /** Resolves once the event survives a crash of this process (fsync'ed, or confirmed by RabbitMQ). */
  publish(event: StoredEvent): Promise<void>;
  /** Hands every kept event to `handle`, a bounded number at once, those from before a restart included. */
  consume(handle: Handler): Promise<void>;
  /** Stops handing out events, waits for the running handlers, and releases the file or connection. */
  close(): Promise<void>;
}
