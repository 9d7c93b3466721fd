/** Takes one CloudEvent as its HTTP endpoint would, and resolves with the status that endpoint answers. */
export type EventSink = (headers: Readonly<Record<string, string>>, body: string) => Promise<number>;

const sinks = new Map<string, EventSink>();

/**
 * Lets publishers in this process reach the sink at `url` without a socket, until the returned
 * function is called. `npm start` runs save and its local broker in one process: a loopback HTTP
 * request per save cost more CPU than the rest of the broker's work.
 */
export function serveInProcess(url: string, sink: EventSink): () => void {
  sinks.set(url, sink);
  return () => {
    if (sinks.get(url) === sink) sinks.delete(url);
  };
}

/** The sink this process serves at `url`, if it serves one; publish over HTTP otherwise. */
export function inProcessSink(url: string): EventSink | undefined {
  return sinks.get(url);
}
