import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LazyRegistry } from '../lazy-registry.ts';
import type { SharedRedis } from './connection.ts';

/**
 * Requests being answered right now, per function. `all-instances`: summed over every live
 * instance through Redis (each one's count at most `publishEveryMs` old, this process's exact);
 * `this-process`: no REDIS_URL, so only this process knows; `unavailable`: Redis did not answer.
 */
export type InFlightReport =
  | { scope: 'all-instances'; instances: number; functions: Record<string, number> }
  | { scope: 'this-process'; instances: 1; functions: Record<string, number> }
  | { scope: 'unavailable'; instances: null; functions: null };

export interface InFlight {
  enter(fn: string): void;
  leave(fn: string): void;
  report(): Promise<InFlightReport>;
  /** Stops publishing and removes this instance's counts, so they vanish at once, not after the TTL. */
  close(): Promise<void>;
}

export interface InFlightOptions {
  redis?: SharedRedis | undefined;
  /** Registers `http_requests_in_flight{function}` (this process's counts) here. */
  registry?: LazyRegistry | undefined;
  instanceId?: string;
  publishEveryMs?: number;
  /** An instance that has not published for this long is dead (killed, partitioned): its counts no longer add up. */
  ttlMs?: number;
  now?: () => number;
}

/** One hash: a field per instance holding `{ until, counts }`. */
const hashKey = 'in-flight';

interface Published {
  until: number;
  counts: Record<string, number>;
}

/**
 * Counts this process's requests in flight per function and, with Redis, publishes them every
 * `publishEveryMs` under its own instance id with an expiry, so the sum over instances is right
 * within seconds after an instance dies without saying goodbye (SIGKILL, OOM, a lost node).
 * Requests pay nothing for it: publishing runs on a timer, never on a request's path.
 */
export function createInFlight(functions: readonly string[], options: InFlightOptions = {}): InFlight {
  const { redis, registry, publishEveryMs = 1000, ttlMs = 5000, now = Date.now } = options;
  const instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const counts = new Map<string, number>(functions.map((name) => [name, 0]));
  const snapshot = (): Record<string, number> => Object.fromEntries(counts);

  registry?.use((client, loaded) => {
    new client.Gauge({
      name: 'http_requests_in_flight',
      help: 'Requests this process is answering right now, by function.',
      labelNames: ['function'] as const,
      registers: [loaded],
      collect() {
        for (const [name, count] of counts) this.set({ function: name }, count);
      },
    });
  });

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  if (redis) {
    const publish = () => {
      const entry: Published = { until: now() + ttlMs, counts: snapshot() };
      void redis.run('in_flight', (client) =>
        client.multi().hset(hashKey, instanceId, JSON.stringify(entry)).pexpire(hashKey, ttlMs * 2).exec(),
      );
    };
    // From the first connection on: before it, there is nowhere to publish and nothing to warn about.
    void redis.connected.then(() => {
      if (closed) return;
      publish();
      timer = setInterval(publish, publishEveryMs);
      timer.unref();
    });
  }

  async function report(): Promise<InFlightReport> {
    if (!redis) return { scope: 'this-process', instances: 1, functions: snapshot() };
    const read = await redis.run('in_flight', (client) => client.hgetall(hashKey));
    if (!read.ok) return { scope: 'unavailable', instances: null, functions: null };
    const at = now();
    const live: Record<string, number>[] = [snapshot()];
    const expired: string[] = [];
    for (const [id, text] of Object.entries(read.value)) {
      if (id === instanceId) continue;
      const entry = parse(text);
      if (entry === undefined || entry.until <= at) expired.push(id);
      else live.push(entry.counts);
    }
    if (expired.length > 0) void redis.run('in_flight', (client) => client.hdel(hashKey, ...expired));
    const functionsInFlight: Record<string, number> = {};
    for (const each of live) {
      for (const [name, count] of Object.entries(each)) functionsInFlight[name] = (functionsInFlight[name] ?? 0) + count;
    }
    return { scope: 'all-instances', instances: live.length, functions: functionsInFlight };
  }

  return {
    enter(fn) {
      counts.set(fn, (counts.get(fn) ?? 0) + 1);
    },
    leave(fn) {
      counts.set(fn, Math.max(0, (counts.get(fn) ?? 0) - 1));
    },
    report,
    async close() {
      closed = true;
      clearInterval(timer);
      if (redis) await redis.run('in_flight', (client) => client.hdel(hashKey, instanceId));
    },
  };
}

function parse(text: string): Published | undefined {
  try {
    const value = JSON.parse(text) as Partial<Published>;
    if (typeof value.until !== 'number' || typeof value.counts !== 'object' || value.counts === null) return undefined;
    const counts = Object.fromEntries(Object.entries(value.counts).filter(([, count]) => typeof count === 'number' && count >= 0));
    return { until: value.until, counts };
  } catch {
    return undefined;
  }
}
