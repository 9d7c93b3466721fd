import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { defineFunction, runtimeBindings } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
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
  app: new Hono<AppEnv>().get('/log-output', async (c) => {
    const bindings = runtimeBindings(c);
    const result = await fetchPings(bindings.pingsUrl ?? localPingsUrl, bindings.pingsTimeoutMs ?? defaultPingsTimeoutMs);
    const header = `${new Date().toISOString()}: ${instanceId}.`;
    if (result.ok) return c.text(`${header}\nPing / Pongs: ${result.pings}`);
    c.var.log.warn('ping count unavailable', { reason: result.reason });
    // 503 lets readiness tooling and callers see the dependency is down; the text still answers.
    return c.text(`${header}\nPing / Pongs: unavailable (${result.reason})`, 503);
  }),
});
