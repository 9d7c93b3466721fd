import type { Registry } from 'prom-client';

/** prom-client's module.exports, as its default export gives it. */
export type PromClientModule = typeof import('prom-client');
export type { Registry };

/**
 * prom-client, loaded when it is first needed rather than at start-up: evaluating it and starting
 * the default collectors cost about 10 ms of a function's start-up CPU, and nothing reads a metric
 * before the first scrape. Whatever is recorded before it has loaded waits in order and is
 * replayed, so no observation is lost.
 */
export interface LazyRegistry {
  /** Runs `record` with prom-client and the registry: at once once loaded, else queued in order. */
  use(record: (client: PromClientModule, registry: Registry) => void): void;
  /** Loads prom-client (once), replays what was queued, and resolves with the registry. */
  load(): Promise<Registry>;
}

/**
 * Past this many queued records the registry loads without waiting to be asked: a process that
 * never calls `load()` (an app built in a test) keeps a bounded queue.
 */
const maxQueued = 1000;

export function lazyRegistry(): LazyRegistry {
  let loaded: { client: PromClientModule; registry: Registry } | undefined;
  let loading: Promise<Registry> | undefined;
  let queue: ((client: PromClientModule, registry: Registry) => void)[] = [];

  const load = () =>
    (loading ??= import('prom-client').then((module) => {
      // Through the default export (module.exports): bundled, a dynamic import of this CommonJS
      // package has no named exports.
      const client = module.default;
      const registry = new client.Registry();
      loaded = { client, registry };
      const queued = queue;
      queue = [];
      for (const record of queued) record(client, registry);
      return registry;
    }));

  return {
    use(record) {
      if (loaded) return record(loaded.client, loaded.registry);
      queue.push(record);
      if (queue.length >= maxQueued) void load();
    },
    load,
  };
}
