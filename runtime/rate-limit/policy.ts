/** So many requests per client per window, e.g. `60/1m`. */
export interface RateLimitPolicy {
  limit: number;
  windowSeconds: number;
}

const secondsPer = { s: 1, m: 60, h: 3600 } as const;
const policyPattern = /^(\d{1,10})\/(\d{0,6})([smh])$/;
/** A day: longer windows belong in a quota system, not in a counter that Redis may lose. */
const maxWindowSeconds = 24 * 3600;

export const rateLimitFormat = '<count>/<window>, e.g. 60/1m (windows in s, m or h, at most 24h)';

/**
 * `60/1m`, `5/30s`, `1000/h` (a window without a number is one unit) as a policy; undefined for
 * anything else, a zero count or window, or a window longer than a day.
 *
 * @example
 * parseRateLimit('60/1m') // { limit: 60, windowSeconds: 60 }
 */
export function parseRateLimit(text: string): RateLimitPolicy | undefined {
  const match = policyPattern.exec(text.trim().toLowerCase());
  if (match === null) return undefined;
  const limit = Number(match[1]);
  const units = match[2] === '' ? 1 : Number(match[2]);
  const windowSeconds = units * secondsPer[match[3] as keyof typeof secondsPer];
  if (limit < 1 || limit > 1_000_000_000 || windowSeconds < 1 || windowSeconds > maxWindowSeconds) return undefined;
  return { limit, windowSeconds };
}

/** The policy's name in the RateLimit-Policy and RateLimit fields. */
export const writesPolicyName = 'writes';

/**
 * The IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers-10: Structured Field lists of
 * items named after the policy, with `q` quota and `w` window seconds in RateLimit-Policy and `r`
 * remaining and `t` seconds to reset in RateLimit), plus Retry-After when the request was refused.
 */
export function rateLimitHeaders(
  policy: RateLimitPolicy,
  state: { remaining: number; resetMs: number; refused: boolean },
): Record<string, string> {
  // Whole seconds rounded up: a client that waits `t` (or Retry-After) finds the quota refilled.
  const resetSeconds = Math.max(0, Math.ceil(state.resetMs / 1000));
  const headers: Record<string, string> = {
    'RateLimit-Policy': `"${writesPolicyName}";q=${policy.limit};w=${policy.windowSeconds}`,
    RateLimit: `"${writesPolicyName}";r=${Math.max(0, state.remaining)};t=${resetSeconds}`,
  };
  if (state.refused) headers['Retry-After'] = String(Math.max(1, resetSeconds));
  return headers;
}
