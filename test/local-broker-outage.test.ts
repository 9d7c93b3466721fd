import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { messageIdForKey } from '../functions/save/idempotency.ts';
import { sleep, timedRequest } from './support/load-client.ts';
import { createTestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { startDatabaseProxy } from './support/tcp-proxy.ts';

/** The RabbitMQ the tests use (CI starts it, as it does PostgreSQL). */
const rabbitmqUrl = process.env['TEST_RABBITMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

const outageMs = 20_000;
const killAfterMs = 8000;
const clients = 8;

type Server = SpawnedProcess & { url: string };

interface Sent {
  key: string;
  data: string;
  status: number | undefined;
}

/**
 * `npm start` under save load: the database is cut for 20 s and the process is SIGKILLed once
 * during the outage and started again on the same DATA_DIR (or RabbitMQ queue). Every save
 * answered 202 must be stored exactly once after the database is back.
 */
async function outageWithKill(queueEnv: Record<string, string>): Promise<{ accepted: number; sent: number; stored: number }> {
  const database = await createTestDatabase();
  const { proxy, url: proxiedUrl } = await startDatabaseProxy(database.url);
  const dataDir = mkdtempSync(join(tmpdir(), 'knfn-outage-'));
  const env = {
    DATABASE_URL: proxiedUrl,
    DATA_DIR: dataDir,
    DATABASE_CONNECT_TIMEOUT_MS: '1000',
    DATABASE_QUERY_TIMEOUT_MS: '2000',
    STATS_ENABLED: 'false',
    ...queueEnv,
  };
  let server: Server = await spawnServer(env);
  const sent: Sent[] = [];
  try {
    let serial = 0;
    let running = true;
    const client = async (index: number) => {
      while (running) {
        const key = `outage-${index}-${serial++}`;
        const data = `message ${key} <i>'"`;
        const result = await timedRequest(
          'save',
          `${server.url}/save`,
          { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ data }) },
          5000,
        );
        sent.push({ key, data, status: result.status });
        // A refused request (the process is down) is retried by the next loop turn with a new key.
        if (result.status !== 202) await sleep(50);
      }
    };
    const load = Promise.all(Array.from({ length: clients }, (_, index) => client(index)));

    await sleep(1000);
    await proxy.stop();
    const cutAt = performance.now();
    await sleep(killAfterMs);
    server.child.kill('SIGKILL');
    await server.exited;
    // The database is still down: the restart must not need it (already migrated).
    server = await spawnServer({ ...env, MIGRATE_ON_START: 'false' });
    await sleep(outageMs - (performance.now() - cutAt));
    const acceptedDuringOutage = sent.filter((save) => save.status === 202).length;
    await proxy.start();
    await sleep(1000);
    running = false;
    await load;

    const accepted = sent.filter((save) => save.status === 202);
    expect(accepted.length).toBeGreaterThan(100);
    expect(acceptedDuringOutage).toBeGreaterThan(50);
    // Every answer was a 202, a 503 or no answer at all (the killed process).
    expect(sent.filter((save) => save.status !== undefined && save.status !== 202 && save.status !== 503)).toEqual([]);

    const byId = new Map(sent.map((save) => [messageIdForKey(save.key), save]));
    type Row = { event_id: string; data: string; copies: string };
    const storedRows = async () =>
      (await database.query<Row>('select event_id, min(data) as data, count(*) as copies from messages group by event_id')).rows;
    const missing = async () => {
      const stored = new Set((await storedRows()).map((row) => row.event_id));
      return accepted.filter((save) => !stored.has(messageIdForKey(save.key))).length;
    };
    await expect.poll(missing, { timeout: 30_000, interval: 500 }).toBe(0);

    const rows = await storedRows();
    expect(rows.filter((row) => Number(row.copies) !== 1)).toEqual([]);
    // Nothing stored that was not sent, each with the data sent under its key.
    expect(rows.filter((row) => byId.get(row.event_id)?.data !== row.data)).toEqual([]);
    return { accepted: accepted.length, sent: sent.length, stored: rows.length };
  } finally {
    await stopProcess(server);
    await proxy.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe.concurrent('npm start keeps every accepted save through a 20 s database outage and a SIGKILL', () => {
  const queues: string[] = [];
  afterAll(async () => {
    const model = await connect(rabbitmqUrl);
    const channel = await model.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await model.close();
  });

  it('with the file outbox under DATA_DIR', { timeout: 90_000 }, async () => {
    const figures = await outageWithKill({});
    console.log(`local-broker outage (file): ${figures.accepted} of ${figures.sent} saves accepted, ${figures.stored} stored once each`);
  });

  it('with RabbitMQ (RABBITMQ_URL)', { timeout: 90_000 }, async () => {
    const queue = `knfn.test.${randomBytes(6).toString('hex')}`;
    queues.push(queue);
    const figures = await outageWithKill({ RABBITMQ_URL: rabbitmqUrl, RABBITMQ_QUEUE: queue });
    console.log(`local-broker outage (rabbitmq): ${figures.accepted} of ${figures.sent} saves accepted, ${figures.stored} stored once each`);
  });
});
