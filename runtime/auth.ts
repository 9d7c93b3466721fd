import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { jwk } from 'hono/jwk';
import type { AsymmetricAlgorithm } from 'hono/utils/jwt/jwa';
import type { HonoJsonWebKey } from 'hono/utils/jwt/jws';
import type { FunctionDefinition } from './define-function.ts';
import { ApiError } from './errors.ts';

export interface AuthConfig {
  jwksUrl: string;
  issuer: string | undefined;
  audience: string | undefined;
  algorithms: AsymmetricAlgorithm[];
  /** How long fetched keys are trusted before the JWKS is read again. */
  keysTtlMs: number;
  /** AUTH_ALLOW_NO_EXP: accept tokens without an `exp` claim, which would otherwise never expire. */
  allowNoExp: boolean;
}

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bearer-JWT check for the routes a function declares protected (`auth: 'writes'` or `'all'`),
 * verified against the issuer's JWKS. Keys are cached: without that every request would fetch
 * the JWKS, and an issuer hiccup would take the whole write path down.
 */
export function createAuthMiddleware(definition: FunctionDefinition, config: AuthConfig): MiddlewareHandler | undefined {
  if (definition.auth === 'none') return undefined;
  const keys = cachedKeys(config);
  const verify = jwk({
    keys,
    alg: config.algorithms,
    verification: {
      ...(config.issuer ? { iss: config.issuer } : {}),
      ...(config.audience ? { aud: config.audience } : {}),
    },
  });
  return async function requireBearerToken(c, next) {
    if (definition.auth === 'writes' && readMethods.has(c.req.method)) return next();
    // Before any key is loaded: a request without a token is the caller's fault (401) even while
    // the issuer is down.
    if (!bearerPattern.test(c.req.header('Authorization') ?? '')) {
      throw new ApiError(401, 'unauthorized', 'a bearer token is required (Authorization: Bearer <JWT>)', {
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
    }
    // Loaded here first: inside hono's jwk middleware a key-loading failure would become a 401,
    // blaming the caller for the issuer being down.
    await keys();
    let verified = false;
    try {
      await verify(c, async () => {
        verified = true;
        if (!config.allowNoExp && (c.get('jwtPayload') as { exp?: unknown } | undefined)?.exp === undefined) {
          throw invalidToken('the token has no expiry (exp)');
        }
        await next();
      });
    } catch (error) {
      // Only the verification's own refusals: a 401 from the handler behind it passes unchanged.
      if (!verified && error instanceof HTTPException && error.status === 401) {
        throw invalidToken('the token is invalid, expired or not for this service', error);
      }
      throw error;
    }
  };
}

const bearerPattern = /^Bearer\s+\S+\s*$/i;

/** RFC 6750: a refused token is named in `WWW-Authenticate` so clients know to get a new one. */
function invalidToken(description: string, cause?: unknown): ApiError {
  return new ApiError(401, 'invalid_token', description, {
    cause,
    headers: { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${description}"` },
  });
}

function cachedKeys(config: AuthConfig): () => Promise<HonoJsonWebKey[]> {
  let cached: { keys: HonoJsonWebKey[]; until: number } | undefined;
  let inFlight: Promise<HonoJsonWebKey[]> | undefined;
  const load = async (): Promise<HonoJsonWebKey[]> => {
    try {
      const response = await fetch(config.jwksUrl, { signal: AbortSignal.timeout(3000) });
      if (!response.ok) throw new Error(`JWKS answered ${response.status}`);
      const body = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys)) throw new Error('JWKS has no keys array');
      cached = { keys: body.keys as HonoJsonWebKey[], until: Date.now() + config.keysTtlMs };
      return cached.keys;
    } catch (error) {
      // Stale keys beat no keys while the issuer is briefly unreachable.
      if (cached) return cached.keys;
      throw new ApiError(503, 'auth_unavailable', 'the token issuer cannot be reached; retry shortly', { cause: error });
    }
  };
  return async () => {
    if (cached && cached.until > Date.now()) return cached.keys;
    inFlight ??= load().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
