import { httpPost } from '../http-post.ts';
import type { Transport } from '../local-broker/transport.ts';
import type { Instance, Lease } from './instance.ts';

/**
 * How the local broker reaches a function of this runner (the Trigger's subscriber, the dead-letter
 * sink): through the function's activator logic, without its socket. In the cluster a Trigger's
 * delivery makes one hop, into the subscriber's queue-proxy; here it takes a lease on the function
 * (starting it when at zero, keeping it from idling out while the delivery is in flight) and posts
 * straight to its process, where going through the activator's port cost the runner a second HTTP
 * client and server per event. `instances` is keyed by activator address (`127.0.0.1:port`); any
 * other URL is posted to as is.
 */
export function leaseTransport(instances: ReadonlyMap<string, Instance>): Transport {
  // Parsed once per subscriber URL and process port: every event goes to the same one or two.
  const routes = new Map<string, Route>();
  return async (url, headers, body, options) => {
    let route = routes.get(url);
    if (route === undefined) {
      const target = new URL(url);
      route = { instance: instances.get(target.host), host: target.host, path: `${target.pathname}${target.search}`, direct: undefined };
      routes.set(url, route);
    }
    const { instance } = route;
    if (instance === undefined) return httpPost(url, headers, body, options);
    const started = performance.now();
    // A running process is leased at once; only a cold start needs the deadline and abort below.
    const lease = instance.leaseIfRunning() ?? (await acquireWithin(instance, options.timeoutMs, options.signal));
    try {
      if (route.direct?.port !== lease.port) route.direct = { port: lease.port, url: new URL(`http://127.0.0.1:${lease.port}${route.path}`) };
      // The Host the activator would have passed on: its own address, the function's cluster-local name here.
      return await httpPost(route.direct.url, { ...headers, host: route.host }, body, {
        timeoutMs: Math.max(1, options.timeoutMs - (performance.now() - started)),
        signal: options.signal,
        agent: lease.agent,
      });
    } finally {
      lease.release();
    }
  };
}

interface Route {
  instance: Instance | undefined;
  host: string;
  path: string;
  /** The function's process as last leased. */
  direct: { port: number; url: URL } | undefined;
}

/**
 * The attempt's deadline and abort cover a cold start too, as they covered a request held by the
 * activator. A lease that arrives after the attempt gave up is released at once.
 */
function acquireWithin(instance: Instance, timeoutMs: number, signal: AbortSignal | undefined): Promise<Lease> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let settled = false;
    const giveUp = (reason: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      reject(reason);
    };
    const timer = setTimeout(() => giveUp(new Error(`function ${instance.name} did not start within ${timeoutMs} ms`)), timeoutMs);
    const abort = () => giveUp(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', abort, { once: true });
    instance.acquire().then(
      (lease) => {
        if (settled) return lease.release();
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        resolve(lease);
      },
      giveUp,
    );
  });
}
