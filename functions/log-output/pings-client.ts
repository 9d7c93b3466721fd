export type PingsResult = { ok: true; pings: number } | { ok: false; reason: string };

/**
 * Asks the pings function for the counter over HTTP (never by importing its code: in the cluster
 * it is another Knative Service). Bounded by `timeoutMs` so a slow or scaled-to-zero peer cannot
 * hold this request.
 */
export async function fetchPings(url: string, timeoutMs: number): Promise<PingsResult> {
  try {
    const response = await fetch(url, { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) return { ok: false, reason: `pings answered ${response.status}` };
    const body = (await response.json()) as { pings?: unknown };
    if (typeof body.pings !== 'number' || !Number.isSafeInteger(body.pings)) {
      return { ok: false, reason: 'pings answered without a count' };
    }
    return { ok: true, pings: body.pings };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { ok: false, reason: timedOut ? `pings did not answer within ${timeoutMs} ms` : 'pings is unreachable' };
  }
}
