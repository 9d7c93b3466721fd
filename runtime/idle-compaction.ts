import type { Logger } from './logger.ts';

/**
 * Compacts the heap once, when start-up is over and the process first sits quiet. Start-up
 * (loading the bundle, then prom-client and the Redis client after the first answer) keeps most of
 * what it allocates, so V8 grows its young generation to its 16 MiB maximum and keeps those pages.
 * V8's own memory reducer gives them back only after a full GC that found the old generation
 * grown by 10 MB, which a function's heap is near but may not reach: an idle pod was seen holding
 * them for good (pingpong: 69 -> 58 MiB on Node 20, 80 -> 69 MiB on Node 22 when they go).
 *
 * It needs `gc` (node --expose-gc, as every container and `npm start` run); without it, nothing.
 * Node 22's `last-resort` flavour gives the pages back at once (some 30 ms of one GC, once); Node
 * 20's V8 ignores the flavour, and its ordinary full GC shrinks the young generation only once the
 * allocation rate of the last 5 s is low: hence a quiet window of 5 s, not 1.
 */
export interface IdleCompaction {
  /** A request arrived: the coming window is not quiet. Called for every request; it only counts. */
  request(): void;
  /** Start-up work is done: compact at the end of the first quiet window from now on. */
  arm(): void;
  stop(): void;
}

export interface IdleCompactionOptions {
  log: Logger;
  /** Injected by tests; by default the global one --expose-gc provides. */
  gc?: NodeJS.GCFunction | undefined;
  /** A window without a request that counts as quiet (see above for why 5 s). */
  quietMs?: number;
}

export function compactWhenIdle({ log, gc = globalThis.gc, quietMs = 5000 }: IdleCompactionOptions): IdleCompaction {
  let requests = 0;
  let timer: NodeJS.Timeout | undefined;
  let armed = false;
  let stopped = false;
  const compact = () => {
    if (gc === undefined) return;
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    log.debug('heap compacted after start-up', {
      ms: Math.round(performance.now() - started),
      rssMib: { before: mib(rssBefore), after: mib(process.memoryUsage.rss()) },
    });
  };
  const watch = (seen: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      if (requests === seen) compact();
      else watch(requests);
    }, quietMs);
    // A process that is stopping or otherwise done must not stay up for this.
    timer.unref();
  };
  return {
    request() {
      requests += 1;
    },
    arm() {
      if (armed || gc === undefined) return;
      armed = true;
      watch(requests);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;
