import { describe, expect, it } from 'vitest';
import { lazyRegistry } from './lazy-registry.ts';
import { createMetrics } from './metrics.ts';

describe('lazyRegistry', () => {
  it('replays what was recorded before prom-client loaded, in order, and records at once after', async () => {
    const registry = lazyRegistry();
    const seen: string[] = [];
    registry.use(() => seen.push('first'));
    registry.use(() => seen.push('second'));
    expect(seen).toEqual([]);
    await registry.load();
    expect(seen).toEqual(['first', 'second']);
    registry.use(() => seen.push('third'));
    expect(seen).toEqual(['first', 'second', 'third']);
    expect(await registry.load()).toBe(await registry.load());
  });

  it('loads by itself once the queue is long, so a registry nobody loads stays bounded', async () => {
    const registry = lazyRegistry();
    let replayed = 0;
    for (let i = 0; i < 999; i += 1) registry.use(() => (replayed += 1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(replayed).toBe(0);
    registry.use(() => (replayed += 1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(replayed).toBe(1000);
  });
});

describe('createMetrics', () => {
  it('counts requests and statements answered before the first scrape loaded prom-client', async () => {
    const metrics = createMetrics();
    metrics.requestFinished({ function: 'pingpong', method: 'GET', route: '/pingpong', status: 200 }, 0.002);
    metrics.requestFinished({ function: 'pingpong', method: 'GET', route: '/pingpong', status: 503 }, 2);
    metrics.queryFinished(0.001, true);
    const text = await (await metrics.registry.load()).metrics();
    expect(text).toContain('http_requests_total{function="pingpong",method="GET",route="/pingpong",status="200"} 1');
    expect(text).toContain('http_requests_total{function="pingpong",method="GET",route="/pingpong",status="503"} 1');
    expect(text).toContain('http_request_duration_seconds_bucket{le="0.0025",function="pingpong",method="GET",route="/pingpong",status="200"} 1');
    expect(text).toContain('db_query_errors_total 1');
    metrics.requestFinished({ function: 'pingpong', method: 'GET', route: '/pingpong', status: 200 }, 0.002);
    expect(await (await metrics.registry.load()).metrics()).toContain(
      'http_requests_total{function="pingpong",method="GET",route="/pingpong",status="200"} 2',
    );
  });
});
