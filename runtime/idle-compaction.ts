import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './logger.ts';

/**
 * Compacts the heap once, when start-up is over and the process first sits quiet. Start-up
 * (loading the bundle, then prom-client and the Redis client once a user is answered) keeps most of
 * what it allocates, so V8 grows its young generation to its 16 MiB maximum and keeps those pages.
 * V8's own memory reducer gives them back only after a full GC that found the old generation
 * grown by 10 MB, which a function's heap is near but may not reach: an idle pod was seen holding
 * them for good (pingpong on Node 22: 80 -> 70 MiB when they go).
 *
 * Only where V8 reads the `last-resort` flavour (see honoursLastResortFlavour), which gives the
 * pages back at once (some 30 ms of one GC, once). The window is 5 s of quiet, so the GC lands
 * when a pod has gone idle rather than between two requests of a steady trickle.
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
  /** Injected by tests; by default V8's own (see exposeGc), where V8 honours the flavour. */
  gc?: NodeJS.GCFunction | undefined;
  /** A window without a request that counts as quiet (see above for why 5 s). */
  quietMs?: number;
}

/**
 * V8 12 (Node 22) reads the flavour; V8 11 (Node 20) does not, and there a forced full GC does
 * harm: it resets what V8's memory reducer measures growth against, so the reducer, which would
 * have given the young generation back by about 10 s, no longer runs (pingpong on Node 20: with
 * it, two tries of three stayed at 62.6 MiB for good; without it, all three settled at 57.5).
 */
export function honoursLastResortFlavour(v8Version: string): boolean {
  return Number(v8Version.split('.')[0]) >= 12;
}

/**
 * V8's gc() without `node --expose-gc`. Any V8 flag on the command line changes the hash V8 checks
 * code caches against, so Node's built-in modules lose the code cache embedded in the binary and
 * each is compiled from source: loading node:http and undici took 44 ms instead of 20, on every
 * cold start. Here the flag is on only while a fresh context hands over its gc, then off again,
 * so a built-in loaded later still finds its cache.
 */
export function exposeGc(): NodeJS.GCFunction {
  setFlagsFromString('--expose-gc');
  try {
    return runInNewContext('gc') as NodeJS.GCFunction;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

// Fetched when the compaction runs, not at start-up, and not kept: it would keep its context alive.
const processGc = honoursLastResortFlavour(process.versions.v8)
  ? (((options: Parameters<NodeJS.GCFunction>[0]) => exposeGc()(options)) as NodeJS.GCFunction)
  : undefined;

export function compactWhenIdle({ log, gc = processGc, quietMs = 5000 }: IdleCompactionOptions): IdleCompaction {
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
