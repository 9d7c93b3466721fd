import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { defineFunction, runtimeBindings } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { errorBody } from '../../runtime/errors.ts';
import { fetchPings } from './pings-client.ts';

/** Fixed for the life of the process, as the original log-output app printed it. */
const instanceId = randomUUID();
/** When no runtime settings are bound (app.request in tests): the default of PINGS_TIMEOUT_MS. */
const defaultPingsTimeoutMs = 15_000;
const localPingsUrl = 'http://127.0.0.1:8080/pings';

export default defineFunction({
  name: 'log-output',
  description: 'GET /log-output prints a timestamp, this instance\'s id and the ping count read from the pings function.',
  scale: { min: 0, max: 3, target: 50 },
  usesDatabase: false,
  docs: [
    {
      route: 'GET /log-output',
      answer:
        '`<ISO time>: <instance id>.` and `Ping / Pongs: N`, N read over HTTP from pings (`PINGS_URL`); 503 `pings_unavailable` (JSON, its message the same lines with the count unavailable and why) ' +
        'when pings fails or takes over `PINGS_TIMEOUT_MS` (15 s: a cold start of pings from zero fits)',
    },
  ],
  app: new Hono<AppEnv>().get('/log-output', async (c) => {
    const bindings = runtimeBindings(c);
    const result = await fetchPings(bindings.pingsUrl ?? localPingsUrl, bindings.pingsTimeoutMs ?? defaultPingsTimeoutMs);
    const header = `${new Date().toISOString()}: ${instanceId}.`;
    if (result.ok) return c.text(`${header}\nPing / Pongs: ${result.pings}`);
    c.var.log.warn('ping count unavailable', { reason: result.reason });
    // 503 lets readiness tooling and callers see the dependency is down; the message still carries
    // the lines a 200 would, so a reader sees when, which instance and why.
    return c.json(errorBody('pings_unavailable', `${header}\nPing / Pongs: unavailable (${result.reason})`), 503, { 'Retry-After': '1' });
  }),
});
