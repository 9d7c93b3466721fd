import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../db/client.ts';
import type { DatabaseHandle } from '../../db/client.ts';
import { createLogger } from '../../runtime/logger.ts';
import { postgresDatabase } from '../../test/support/app.ts';
import { createTestDatabase } from '../../test/support/postgres.ts';
import type { TestDatabase } from '../../test/support/postgres.ts';
import { storeMessage } from './store.ts';

describe('storeMessage on PostgreSQL', () => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let statements = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
    const config = postgresDatabase(database.url);
    handle = await openDatabase(config, createLogger({ level: 'silent' }), { queryFinished: () => (statements += 1) });
    await handle.migrate('migrations');
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });
  beforeEach(async () => {
    await database.query('truncate messages');
    statements = 0;
  });

  const event = (id: string, data = `message ${id}`) => ({ id, message: { data, template: 'default' as const } });
  const rows = async () => (await database.query<{ event_id: string; data: string }>('select event_id, data from messages order by id')).rows;

  it('stores a burst of concurrent deliveries in a few statements, each event once', async () => {
    const ids = Array.from({ length: 200 }, (_, index) => `event-${index}`);
    // Every event twice, as a broker redelivering during the burst would.
    await Promise.all([...ids, ...ids].map((id) => storeMessage(handle.db, event(id))));
    const stored = await rows();
    expect(stored.map((row) => row.event_id).sort()).toEqual([...ids].sort());
    expect(statements).toBeGreaterThan(0);
    expect(statements).toBeLessThanOrEqual(3);
  });

  it('keeps the first message of an id, whether the copies shared a statement or not', async () => {
    await Promise.all([storeMessage(handle.db, event('same', 'first')), storeMessage(handle.db, event('same', 'second'))]);
    await storeMessage(handle.db, event('same', 'third'));
    expect(await rows()).toEqual([{ event_id: 'same', data: 'first' }]);
  });

  it('fails only the event the database refuses, storing the rest of its statement', async () => {
    // PostgreSQL text cannot hold U+0000: the worker's validation refuses it, this bypasses that.
    const outcomes = await Promise.all(
      [event('ok-1'), event('refused', 'nul \u0000 inside'), event('ok-2')].map((item) =>
        storeMessage(handle.db, item).then(
          () => 'stored',
          () => 'refused',
        ),
      ),
    );
    expect(outcomes).toEqual(['stored', 'refused', 'stored']);
    expect((await rows()).map((row) => row.event_id)).toEqual(['ok-1', 'ok-2']);
  });
});
