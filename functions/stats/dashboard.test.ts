import { describe, expect, it } from 'vitest';
import type { InFlightReport } from '../../runtime/redis/in-flight.ts';
import { renderDashboard } from './dashboard.ts';
import { createClock } from './times.ts';

const now = Date.UTC(2026, 0, 1, 12, 0);

async function inFlightLine(inFlight: InFlightReport): Promise<string> {
  const report = { window: '15m' as const, from: new Date(now - 900_000).toISOString(), to: new Date(now).toISOString(), endpoints: [] };
  const page = String(await renderDashboard(report, [], { window: '15m', all: false, now, clock: createClock('UTC'), inFlight }));
  return /<p class="note" id="in-flight"[^]*?<\/p>/.exec(page)?.[0] ?? '';
}

describe("the dashboard's requests in flight", () => {
  it('names the busy functions and how many instances the counts cover', async () => {
    expect(await inFlightLine({ scope: 'all-instances', instances: 3, functions: { time: 0, stats: 1, locations: 12 } })).toBe(
      '<p class="note" id="in-flight" data-scope="all-instances">Requests in flight now, across 3 instances: ' +
        '<span data-function="locations">locations 12</span>, <span data-function="stats">stats 1</span>.</p>',
    );
  });

  it('says whose counts they are without Redis, and that they are unknown with Redis down', async () => {
    expect(await inFlightLine({ scope: 'this-process', instances: 1, functions: { stats: 0 } })).toBe(
      '<p class="note" id="in-flight" data-scope="this-process">Requests in flight now, this instance only (no REDIS_URL): none.</p>',
    );
    expect(await inFlightLine({ scope: 'unavailable', instances: null, functions: null })).toBe(
      '<p class="note" id="in-flight" data-scope="unavailable">Requests in flight now: unavailable (Redis did not answer).</p>',
    );
  });

  it('escapes a function name', async () => {
    expect(await inFlightLine({ scope: 'this-process', instances: 1, functions: { '<b>x': 2 } })).toContain('data-function="&lt;b&gt;x">&lt;b&gt;x 2</span>');
  });
});
