import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './support/postgres.ts';
import type { TestDatabase } from './support/postgres.ts';
import { spawnServer, stopProcess } from './support/process.ts';
import type { SpawnedProcess } from './support/process.ts';
import { expectReadmeExamplesToHold, readmeCurlExamples } from './support/readme-examples.ts';

describe("the README's curl examples", () => {
  it('document answers the parser understands', () => {
    const examples = readmeCurlExamples();
    const pong = examples.find((example) => example.command === 'curl localhost:8080/pingpong');
    expect(pong?.answer?.body.test('pong 1')).toBe(true);
    expect(pong?.answer?.body.test('pong 12')).toBe(false);
    const missing = examples.find((example) => example.command === 'curl localhost:8080/nope');
    expect(missing?.answer?.status).toBe(404);
    const joined = examples.find((example) => example.command.includes('-X POST localhost:8080/api/locations'));
    expect(joined?.command).toContain(`-d '{"name":"tokyo"`);
  });

  describe('under npm start (one port, real PostgreSQL)', () => {
    let database: TestDatabase;
    let server: SpawnedProcess & { url: string };
    beforeAll(async () => {
      database = await createTestDatabase();
      server = await spawnServer({ DATABASE_URL: database.url});
    });
    afterAll(async () => {
      await stopProcess(server);
      await database?.drop();
    });

    it('answer as documented, in order', async () => {
      await expectReadmeExamplesToHold(new URL(server.url).host);
    });
  });
});
