import { describe, expect, it } from 'vitest';
import logOutput from '../../functions/log-output/index.ts';
import pingpong from '../../functions/pingpong/index.ts';
import * as manifests from '../../scripts/manifests.ts';
import { ContainerEnvError, containerEnv, localRedis } from './container-env.ts';
import type { LocalCluster, ManifestScript } from './container-env.ts';

const { cluster } = manifests;

function localCluster(redis: ReturnType<typeof localRedis>): LocalCluster {
  return {
    hosts: new Map([
      ['pings.knfn.svc.cluster.local', '127.0.0.1:4101'],
      ['wsproxy.knfn.svc.cluster.local:80', '127.0.0.1:4102'],
    ]),
    urls: new Map([[redis.clusterAddress, redis.url]]),
    secrets: { [cluster.databaseSecret.name]: { 'app-url': 'postgres://local/app', 'stats-url': 'postgres://local/stats', [cluster.redis.passwordKey]: redis.password } },
    sinks: {},
  };
}

describe("a function's container env, run locally", () => {
  it('points REDIS_URL at this machine\'s Redis without a password when the environment names none', () => {
    const env = containerEnv(manifests, pingpong, localCluster(localRedis(cluster.redis, {})));
    expect(env['REDIS_URL']).toBe('redis://127.0.0.1:6379/0');
    expect(env['REDIS_PASSWORD']).toBe('');
    expect(env['TRUSTED_PROXIES']).toBe('127.0.0.1,::1');
    expect(env['DATABASE_URL']).toBe('postgres://local/app');
    expect(env['DATABASE_WS_PROXY']).toBe('127.0.0.1:4102/v1');
    expect(Object.values(env).filter((value) => value.includes('svc.cluster.local') || value.includes('$('))).toEqual([]);
  });

  it("uses the environment's REDIS_URL as it is, its password standing in for the Secret's", () => {
    const local = localRedis(cluster.redis, { REDIS_URL: 'redis://:p%40ss@10.1.2.3:6380/4' });
    const env = containerEnv(manifests, pingpong, localCluster(local));
    expect(env['REDIS_URL']).toBe('redis://:p%40ss@10.1.2.3:6380/4');
    expect(env['REDIS_PASSWORD']).toBe('p@ss');
  });

  it('replaces the cluster address of another function by its local one', () => {
    const env = containerEnv(manifests, logOutput, localCluster(localRedis(cluster.redis, {})));
    expect(env['PINGS_URL']).toBe('http://127.0.0.1:4101/pings');
  });

  it('expands a reference with the variables before it, Secret values included, then localises the result', () => {
    const service = manifests.functionService(pingpong);
    const container = service.spec?.template?.spec?.containers?.[0];
    if (!container) throw new Error('no container');
    container.env = [
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: cluster.databaseSecret.name, key: 'app-url' } } },
      { name: 'BASE', value: 'http://pings.knfn.svc.cluster.local' },
      { name: 'CALLS', value: '$(BASE)/pings?auth=$(TOKEN)&later=$(LATER)&literal=$$(BASE)' },
      { name: 'LATER', value: 'x' },
    ];
    const fake = { ...manifests, functionService: () => service } as ManifestScript;
    const env = containerEnv(fake, pingpong, localCluster(localRedis(cluster.redis, {})));
    expect(env['CALLS']).toBe('http://127.0.0.1:4101/pings?auth=postgres://local/app&later=$(LATER)&literal=$(BASE)');
  });

  it('refuses a cluster address nothing stands in for', () => {
    const service = manifests.functionService(pingpong);
    const container = service.spec?.template?.spec?.containers?.[0];
    if (!container) throw new Error('no container');
    container.env = [{ name: 'OTHER', value: 'http://nowhere.knfn.svc.cluster.local/x' }];
    const fake = { ...manifests, functionService: () => service } as ManifestScript;
    expect(() => containerEnv(fake, pingpong, localCluster(localRedis(cluster.redis, {})))).toThrow(ContainerEnvError);
  });
});
