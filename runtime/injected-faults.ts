import type { MiddlewareHandler } from 'hono';
import { errorBody } from './errors.ts';

/**
 * Set only by a test build (`buildAll(..., { failEvery })` defines it); a production build defines
 * it as undefined, so the check below compiles to a constant 0 and the middleware is never installed.
 * Under tsx the name does not exist at all, which `typeof` reads safely.
 */
declare const KNFN_FAIL_EVERY: number | undefined;

/** How often a test build fails on purpose: 0 in every real build and under tsx. */
export function injectedFailureInterval(): number {
  return typeof KNFN_FAIL_EVERY === 'number' && KNFN_FAIL_EVERY > 0 ? KNFN_FAIL_EVERY : 0;
}

/** Answers every `every`th request with a 500, as a broken release would: what a canary must catch. */
export function injectFailures(every: number): MiddlewareHandler {
  let seen = 0;
  return async function failEveryNth(c, next) {
    seen += 1;
    if (seen % every === 0) return c.json(errorBody('injected_fault', 'this test build fails one request in every few'), 500);
    return next();
  };
}
