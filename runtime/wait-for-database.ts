import type { DatabaseHandle } from '../db/client.ts';
import type { Logger } from './logger.ts';

export interface WaitOptions {
  /** The most to wait in all; 0 tries once. */
  waitMs: number;
  /** Each attempt's bound. */
  pingTimeoutMs: number;
  log: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const firstDelayMs = 250;
const maxDelayMs = 5000;

/**
 * Resolves once the database answers, retrying with a capped backoff for up to `waitMs`, and
 * rejects with the last failure after that. Applied as one `kubectl apply -k`, the migration Job
 * starts beside PostgreSQL and the Job that creates its role: either may come up a minute later,
 * and a Job that gave up after its few retries would leave every function without its tables.
 */
export async function waitForDatabase(database: Pick<DatabaseHandle, 'ping'>, options: WaitOptions): Promise<void> {
  const { waitMs, pingTimeoutMs, log, sleep = delay, now = Date.now } = options;
  const deadline = now() + waitMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await database.ping(pingTimeoutMs);
      if (attempt > 1) log.info('database reachable', { attempts: attempt });
      return;
    } catch (error) {
      const retryInMs = Math.min(maxDelayMs, firstDelayMs * 2 ** (attempt - 1));
      if (now() + retryInMs > deadline) throw error;
      log.warn('database not reachable yet; retrying', { attempt, retryInMs, error });
      await sleep(retryInMs);
    }
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
