import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigError, loadConfig } from './config.ts';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults to port 8080, every function and the embedded database under .data', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.functions).toEqual([]);
    expect(config.database).toEqual({ kind: 'pglite', dataDir: '.data/pglite', migrateOnStart: true });
  });

  it('logs readable lines to a terminal and JSON elsewhere, unless LOG_FORMAT says which', () => {
    expect(loadConfig({}, true).logFormat).toBe('pretty');
    expect(loadConfig({}, false).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'json' }, true).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'pretty' }, false).logFormat).toBe('pretty');
    expect(configError({ LOG_FORMAT: 'text' }).issues).toEqual([expect.stringMatching(/^LOG_FORMAT: /)]);
  });

  it('switches to PostgreSQL when DATABASE_URL is set and migrates only in the local runner', () => {
    const local = loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' });
    expect(local.database).toMatchObject({ kind: 'postgres', wsProxy: undefined, migrateOnStart: true, poolMax: 10 });
    const container = loadConfig({ DATABASE_URL: 'postgres://u@db/x', FUNCTION: 'pingpong', DATABASE_WS_PROXY: 'wsproxy:80/v1' });
    expect(container.functions).toEqual(['pingpong']);
    expect(container.database).toMatchObject({ wsProxy: 'wsproxy:80/v1', migrateOnStart: false });
  });

  it('names PORT when it is not a port number', () => {
    expect(configError({ PORT: 'eighty' }).issues.join()).toMatch(/^PORT: /);
    expect(configError({ PORT: '70000' }).issues.join()).toMatch(/^PORT: /);
  });

  it('names DATABASE_URL when it is not a postgres URL', () => {
    const error = configError({ DATABASE_URL: 'mysql://root@localhost/db' });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(/^DATABASE_URL: must be a postgres:\/\//);
    expect(configError({ DATABASE_URL: 'not a url' }).issues[0]).toMatch(/^DATABASE_URL/);
  });

  it('reports every bad variable at once', () => {
    const error = configError({ PORT: '-1', LOG_LEVEL: 'loud', DATABASE_POOL_MAX: '0' });
    expect(error.issues.map((issue) => issue.split(':')[0]).sort()).toEqual(['DATABASE_POOL_MAX', 'LOG_LEVEL', 'PORT']);
  });

  it('shares nothing between instances without REDIS_URL, and bounds every Redis use when it is set', () => {
    const alone = loadConfig({});
    expect(alone.redis).toBeUndefined();
    expect(alone.rateLimit.writes).toBeUndefined();
    expect(alone.rateLimit.trustedProxies.entries).toEqual([]);
    expect(loadConfig({ REDIS_URL: 'redis://:secret@redis.knfn.svc.cluster.local:6379/0' }).redis).toEqual({
      url: 'redis://:secret@redis.knfn.svc.cluster.local:6379/0',
      timeoutMs: 150,
      keyPrefix: 'knfn:',
    });
    expect(loadConfig({ REDIS_URL: 'rediss://r:6380', REDIS_TIMEOUT_MS: '80', REDIS_KEY_PREFIX: 'staging:' }).redis).toMatchObject({ timeoutMs: 80, keyPrefix: 'staging:' });
    expect(configError({ REDIS_URL: 'http://127.0.0.1:6379' }).issues).toEqual([expect.stringMatching(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/)]);
    expect(configError({ REDIS_TIMEOUT_MS: '0' }).issues.join()).toMatch(/^REDIS_TIMEOUT_MS: /);
    expect(configError({ REDIS_KEY_PREFIX: 'has space' }).issues.join()).toMatch(/^REDIS_KEY_PREFIX: /);
  });

  it('reads RATE_LIMIT_WRITES as a policy or off, naming it when it is neither', () => {
    expect(loadConfig({ RATE_LIMIT_WRITES: '60/1m' }).rateLimit.writes).toEqual({ limit: 60, windowSeconds: 60 });
    expect(loadConfig({ RATE_LIMIT_WRITES: '5/30s' }).rateLimit.writes).toEqual({ limit: 5, windowSeconds: 30 });
    expect(loadConfig({ RATE_LIMIT_WRITES: 'OFF' }).rateLimit.writes).toBe('off');
    expect(configError({ RATE_LIMIT_WRITES: '60 per minute' }).issues).toEqual([
      'RATE_LIMIT_WRITES: must be off or <count>/<window>, e.g. 60/1m (windows in s, m or h, at most 24h)',
    ]);
  });

  it('reads TRUSTED_PROXIES as addresses and ranges, naming each entry that is neither', () => {
    const { trustedProxies } = loadConfig({ TRUSTED_PROXIES: '127.0.0.1, ::1,10.0.0.0/8' }).rateLimit;
    expect(trustedProxies.entries).toEqual(['127.0.0.1', '::1', '10.0.0.0/8']);
    expect([trustedProxies.has('::ffff:127.0.0.1'), trustedProxies.has('10.9.8.7'), trustedProxies.has('127.0.0.2')]).toEqual([true, true, false]);
    expect(configError({ TRUSTED_PROXIES: '10.0.0.0/33,gateway' }).issues).toEqual([
      'TRUSTED_PROXIES.0: "10.0.0.0/33" is not an IP address or CIDR range (e.g. 127.0.0.1,10.0.0.0/8,fd00::/8)',
      'TRUSTED_PROXIES.1: "gateway" is not an IP address or CIDR range (e.g. 127.0.0.1,10.0.0.0/8,fd00::/8)',
    ]);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).database.kind).toBe('pglite');
  });

  it('gives the database ping less time than the functions\' readiness probes, so a probe gets a 503 with a cause', () => {
    const database = loadConfig({ DATABASE_URL: 'postgres://u@db/x', FUNCTION: 'pingpong' }).database;
    const readyTimeoutMs = database.kind === 'postgres' ? database.readyTimeoutMs : Infinity;
    const folder = new URL('../knative/functions/', import.meta.url);
    const probes = readdirSync(folder)
      .filter((file) => file.endsWith('.yaml'))
      .flatMap((file) => parseAllDocuments(readFileSync(new URL(file, folder), 'utf8')).map((document) => document.toJS() as unknown))
      .flatMap((manifest) => {
        const containers = (manifest as { spec?: { template?: { spec?: { containers?: { readinessProbe?: { timeoutSeconds?: number } }[] } } } })
          .spec?.template?.spec?.containers ?? [];
        return containers.flatMap((container) => (container.readinessProbe ? [container.readinessProbe] : []));
      });
    expect(probes.length).toBeGreaterThan(0);
    // Kubernetes' default timeoutSeconds is 1.
    for (const probe of probes) expect(readyTimeoutMs).toBeLessThan((probe.timeoutSeconds ?? 1) * 1000);
  });
});

