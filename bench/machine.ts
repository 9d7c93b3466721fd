import { availableParallelism, cpus, totalmem } from 'node:os';
import pg from 'pg';
import { adminUrl } from '../test/support/postgres.ts';

export interface Machine {
  cpuModel: string;
  cpus: number;
  memoryGib: number;
  postgres: string;
}

/** What the figures were measured on, for the report. */
export async function describeMachine(): Promise<Machine> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const version = await client.query<{ server_version: string }>('show server_version');
    return {
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      cpus: availableParallelism(),
      memoryGib: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
      postgres: `PostgreSQL ${version.rows[0]?.server_version.split(' ')[0] ?? 'unknown'}`,
    };
  } finally {
    await client.end();
  }
}
