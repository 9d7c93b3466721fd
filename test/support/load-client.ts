/** One request of a load run: what came back, or how it failed, and how long it took. */
export interface LoadResult {
  kind: 'pingpong' | 'save';
  status: number | undefined;
  body: string;
  /** `refused`: no response at all (connection refused or reset); `incomplete`: headers came, the body broke; `timeout`: no answer in time. */
  failure: 'refused' | 'incomplete' | 'timeout' | undefined;
  ms: number;
  /** For a save, the data sent, so a 202 can be looked up in the messages table. */
  data?: string;
}

/** Sends one request with a hard deadline, so a hang shows up as `timeout` rather than a stuck test. */
export async function timedRequest(kind: LoadResult['kind'], url: string, init: RequestInit, timeoutMs: number): Promise<LoadResult> {
  const started = performance.now();
  const ms = () => performance.now() - started;
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { kind, status: undefined, body: '', failure: timedOut ? 'timeout' : 'refused', ms: ms() };
  }
  try {
    return { kind, status: response.status, body: await response.text(), failure: undefined, ms: ms() };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    return { kind, status: response.status, body: '', failure: timedOut ? 'timeout' : 'incomplete', ms: ms() };
  }
}

export function pongNumber(body: string): number | undefined {
  const match = /^pong (\d+)$/.exec(body);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
