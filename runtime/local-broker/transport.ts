import { httpPost } from '../http-post.ts';
import type { HttpAnswer, PostOptions } from '../http-post.ts';

/** POSTs one event to a subscriber; rejects when no answer came (refused, reset, timed out, aborted). */
export type Transport = (url: string, headers: Readonly<Record<string, string>>, body: string, options: PostOptions) => Promise<HttpAnswer>;

/** Over the network, as Knative's Trigger delivers. */
export const httpTransport: Transport = httpPost;

/** An app answering HTTP requests without a socket: Hono's `app.fetch` of this process. */
export type AppFetch = (request: Request) => Response | Promise<Response>;

/**
 * Straight to the app of this process, when the subscriber is one of its own routes (`npm start`):
 * the request goes through the same routes and runtime (request id, metrics, logs, deadline) and
 * its answer means the same, without a loopback socket and two HTTP stacks per event.
 */
export function appTransport(app: AppFetch): Transport {
  return async (url, headers, body, { timeoutMs, signal }) => {
    if (signal?.aborted) throw signal.reason;
    const request = new Request(url, { method: 'POST', headers, body });
    // Like a timed-out HTTP request, the handler runs on; only the answer is no longer awaited.
    const response = await new Promise<Response>((resolve, reject) => {
      const fail = (reason: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        reject(reason);
      };
      const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      const abort = () => fail(signal?.reason);
      signal?.addEventListener('abort', abort, { once: true });
      Promise.resolve()
        .then(() => app(request))
        .then((answer) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', abort);
          resolve(answer);
        }, fail);
    });
    return { status: response.status, text: await response.text() };
  };
}
