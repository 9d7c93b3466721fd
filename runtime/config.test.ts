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

