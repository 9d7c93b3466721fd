import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Hono } from 'hono';
import { sign } from 'hono/jwt';
import type { HonoJsonWebKey } from 'hono/utils/jwt/jws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthConfig } from './auth.ts';
import { defineFunction } from './define-function.ts';
import type { AppEnv } from './define-function.ts';
import { createFunctionApp } from './function-app.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';

function keyPair(kid: string) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } as HonoJsonWebKey;
  const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256' } as HonoJsonWebKey;
  return { publicJwk, privateJwk };
}

const issuerKey = keyPair('issuer-1');
const strangerKey = keyPair('stranger');

const notes = defineFunction({
  name: 'notes',
  description: 'test function with protected writes',
  scale: { min: 0, max: 1, target: 1 },
  usesDatabase: false,
  auth: 'writes',
  app: new Hono<AppEnv>().get('/notes', (c) => c.json({ notes: [] })).post('/notes', (c) => c.json({ created: true }, 201)),
});

describe('optional bearer-JWT authentication', () => {
  let issuer: Server;
  let jwksRequests = 0;
  let config: AuthConfig;
  beforeAll(async () => {
    issuer = createServer((_request, response) => {
      jwksRequests += 1;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [issuerKey.publicJwk] }));
    });
    await new Promise<void>((resolve) => issuer.listen(0, '127.0.0.1', resolve));
    config = {
      jwksUrl: `http://127.0.0.1:${(issuer.address() as AddressInfo).port}/jwks.json`,
      issuer: 'https://issuer.example',
      audience: 'knfn',
      algorithms: ['RS256'],
      keysTtlMs: 60_000,
      allowNoExp: false,
    };
  });
  afterAll(() => issuer.close());

  const appWith = (auth: AuthConfig | undefined) =>
    createFunctionApp(notes, { database: undefined, log: createLogger({ level: 'silent' }), metrics: createMetrics(), auth });
  const token = (key: HonoJsonWebKey, claims: Record<string, unknown> = {}) =>
    sign({ sub: 'user-1', iss: 'https://issuer.example', aud: 'knfn', exp: Math.floor(Date.now() / 1000) + 60, ...claims }, key, 'RS256');

  it('keeps reads open and requires a valid token for writes', async () => {
    const app = appWith(config);
    expect((await app.request('/notes')).status).toBe(200);
    const anonymous = await app.request('/notes', { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const valid = await app.request('/notes', { method: 'POST', headers: { Authorization: `Bearer ${await token(issuerKey.privateJwk)}` } });
    expect(valid.status).toBe(201);
  });

  it('rejects tokens signed by another key, for another audience or issuer, or expired', async () => {
    const app = appWith(config);
    const bad = [
      await token(strangerKey.privateJwk),
      await token(issuerKey.privateJwk, { aud: 'someone-else' }),
      await token(issuerKey.privateJwk, { iss: 'https://evil.example' }),
      await token(issuerKey.privateJwk, { exp: Math.floor(Date.now() / 1000) - 120 }),
      'not.a.token',
    ];
    for (const candidate of bad) {
      const response = await app.request('/notes', { method: 'POST', headers: { Authorization: `Bearer ${candidate}` } });
      expect(response.status, candidate).toBe(401);
      expect(response.headers.get('WWW-Authenticate'), candidate).toMatch(/^Bearer error="invalid_token"/);
      expect(await response.json(), candidate).toMatchObject({ error: { code: 'invalid_token' } });
    }
  });

  it('answers a missing token 401 with WWW-Authenticate: Bearer, without fetching keys even while the issuer is down', async () => {
    for (const app of [appWith(config), appWith({ ...config, jwksUrl: 'http://127.0.0.1:1/jwks.json' })]) {
      const before = jwksRequests;
      for (const headers of [{}, { Authorization: 'Basic dXNlcjpwYXNz' }, { Authorization: 'Bearer' }]) {
        const response = await app.request('/notes', { method: 'POST', headers });
        expect(response.status, JSON.stringify(headers)).toBe(401);
        expect(response.headers.get('WWW-Authenticate')).toBe('Bearer');
        expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
      }
      expect(jwksRequests).toBe(before);
    }
  });

  it('refuses a token without exp, which would never expire, unless AUTH_ALLOW_NO_EXP is set', async () => {
    const { exp: _, ...claims } = { sub: 'user-1', iss: 'https://issuer.example', aud: 'knfn', exp: 0 };
    const forever = await sign(claims, issuerKey.privateJwk, 'RS256');
    const headers = { Authorization: `Bearer ${forever}` };
    const refused = await appWith(config).request('/notes', { method: 'POST', headers });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('WWW-Authenticate')).toBe('Bearer error="invalid_token", error_description="the token has no expiry (exp)"');
    expect((await appWith({ ...config, allowNoExp: true }).request('/notes', { method: 'POST', headers })).status).toBe(201);
  });

  it('fetches the JWKS once while its keys are fresh', async () => {
    const app = appWith(config);
    const before = jwksRequests;
    for (let i = 0; i < 5; i++) {
      await app.request('/notes', { method: 'POST', headers: { Authorization: `Bearer ${await token(issuerKey.privateJwk)}` } });
    }
    expect(jwksRequests - before).toBe(1);
  });

  it('answers 503 when the issuer cannot be reached and no keys are cached', async () => {
    const app = appWith({ ...config, jwksUrl: 'http://127.0.0.1:1/jwks.json' });
    const response = await app.request('/notes', { method: 'POST', headers: { Authorization: `Bearer ${await token(issuerKey.privateJwk)}` } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { code: 'auth_unavailable' } });
  });

  it('leaves everything open when no JWKS URL is configured', async () => {
    expect((await appWith(undefined).request('/notes', { method: 'POST' })).status).toBe(201);
  });
});
