import { CloudEvent, HTTP } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import messageWorker from '../functions/message-worker/index.ts';
import { buildTestApp, postgresDatabase } from './support/app.ts';
import type { TestApp } from './support/app.ts';
import { sleep } from './support/load-client.ts';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer } from './support/process.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';

interface Delivery {
  id: string;
  data: string;
  headers: Record<string, string>;
  body: string;
}

function events(prefix: string, count: number): Delivery[] {
  return Array.from({ length: count }, (_, index) => {
    const data = `${prefix} ${index} <i>'"`;
    const event = new CloudEvent<unknown>({ type: 'dev.knfn.message.saved', source: '/save', data: { data, template: 'default' } });
    const message = HTTP.binary(event);
    return { id: event.id, data, headers: message.headers as Record<string, string>, body: String(message.body) };
  });
}

async function storedCopies(database: TestDatabase, deliveries: Delivery[]): Promise<Map<string, { data: string; copies: number }>> {
  const { rows } = await database.query<{ event_id: string; data: string; copies: string }>(
    'select event_id, min(data) as data, count(*) as copies from messages where event_id = any($1) group by event_id',
    [deliveries.map((delivery) => delivery.id)],
  );
  return new Map(rows.map((row) => [row.event_id, { data: row.data, copies: Number(row.copies) }]));
}

/** What a broker does: redeliver until the worker answers 2xx, bounded so a bug fails instead of hanging. */
async function redeliverUntilStored(send: (delivery: Delivery) => Promise<number>, deliveries: Delivery[]): Promise<void> {
  for (const delivery of deliveries) {
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 204; attempt++) {
      if (attempt > 0) await sleep(250);
      status = await send(delivery).catch(() => 0);
    }
    expect(status, delivery.id).toBe(204);
  }
}

describe('message-worker faults', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let test: TestApp;
  let faultsInjected = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    const proxied = await startDatabaseProxy(database.url);
    proxy = proxied.proxy;
    test = await buildTestApp([messageWorker], postgresDatabase(proxied.url));
  });
  afterAll(async () => {
    await test?.close();
    await proxy?.stop();
    await database?.drop();
    console.log(`faults-worker: ${faultsInjected} faults injected (database cuts and SIGKILLs)`);
  });

  const deliverInProcess = async (delivery: Delivery) =>
    (await test.app.request('/_events/message', { method: 'POST', headers: delivery.headers, body: delivery.body })).status;

  it('answers 5xx while the database is cut, and stores every redelivered event exactly once', async () => {
    const batch = events('cut', 30);
    // Half are delivered, the database is cut under the rest, then everything is redelivered.
    const first = await Promise.all(batch.slice(0, 15).map(deliverInProcess));
    expect(first.every((status) => status === 204)).toBe(true);
    const during = batch.slice(15).map(deliverInProcess);
    await proxy.stop();
    faultsInjected++;
    const cut = await Promise.all(during);
    const late = await deliverInProcess(batch[0] as Delivery);
    expect([...cut, late].every((status) => status === 204 || status === 503)).toBe(true);
    expect(late).toBe(503);
    await proxy.start();

    await redeliverUntilStored(deliverInProcess, batch);
    await redeliverUntilStored(deliverInProcess, batch);
    const stored = await storedCopies(database, batch);
    expect(batch.filter((delivery) => stored.get(delivery.id)?.data !== delivery.data).map((delivery) => delivery.id)).toEqual([]);
    expect([...stored.values()].every((row) => row.copies === 1)).toBe(true);
  });

  it('keeps what a SIGKILLed worker acknowledged, and a restarted worker stores redeliveries once', async () => {
    const batch = events('killed', 60);
    const env = { DATABASE_URL: database.url, FUNCTION: 'message-worker', MIGRATE_ON_START: 'true', STATS_ENABLED: 'false' };
    const first = await spawnServer(env);
    const send = (url: string) => async (delivery: Delivery) =>
      (await fetch(`${url}/_events/message`, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: AbortSignal.timeout(5000) })).status;
    // Ten delivery loops walk the batch; the worker is killed once 20 were acknowledged, with more in flight.
    const statuses: number[] = [];
    let next = 0;
    let killed = false;
    const loop = async () => {
      while (next < batch.length && !killed) {
        const index = next++;
        statuses[index] = await send(first.url)(batch[index] as Delivery).catch(() => 0);
        if (!killed && statuses.filter((status) => status === 204).length >= 20) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, loop));
    faultsInjected++;
    await first.exited;
    expect(killed).toBe(true);

    const acknowledged = batch.filter((_, index) => statuses[index] === 204);
    const beforeRestart = await storedCopies(database, acknowledged);
    expect(acknowledged.filter((delivery) => beforeRestart.get(delivery.id)?.data !== delivery.data).map((delivery) => delivery.id)).toEqual([]);

    const second = await spawnServer(env);
    try {
      await redeliverUntilStored(send(second.url), batch);
      const stored = await storedCopies(database, batch);
      expect(batch.filter((delivery) => stored.get(delivery.id)?.data !== delivery.data).map((delivery) => delivery.id)).toEqual([]);
      expect([...stored.values()].every((row) => row.copies === 1)).toBe(true);
      console.log(`faults-worker: ${acknowledged.length} of ${batch.length} deliveries acknowledged before SIGKILL, all kept; redelivery stored each once`);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });
});
