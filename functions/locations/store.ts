import { asc, eq, gt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { locations } from '../../db/schema.ts';
import type { CreateLocation, PatchLocation, ReplaceLocation } from './schemas.ts';

export interface LocationJson {
  name: string;
  timezone: string;
  description: string | null;
  createdAt: string;
  updatedAt: string;
}

const columns = {
  name: locations.name,
  timezone: locations.timezone,
  description: locations.description,
  createdAt: locations.createdAt,
  updatedAt: locations.updatedAt,
};

type Row = { name: string; timezone: string; description: string | null; createdAt: Date; updatedAt: Date };

function toJson(row: Row): LocationJson {
  return { ...row, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() };
}

// Byte order, so pages and cursors do not depend on the server's locale (which may ignore '-' and '_').
const nameInByteOrder = sql`${locations.name} collate "C"`;

/** The new row, or undefined when the name is taken; the unique constraint decides, not a prior read. */
export async function createLocation(db: Database, input: CreateLocation): Promise<LocationJson | undefined> {
  const [row] = await db
    .insert(locations)
    .values({ name: input.name, timezone: input.timezone, description: input.description ?? null })
    .onConflictDoNothing({ target: locations.name })
    .returning(columns);
  return row && toJson(row);
}

export async function findLocation(db: Database, name: string): Promise<LocationJson | undefined> {
  const [row] = await db.select(columns).from(locations).where(eq(locations.name, name));
  return row && toJson(row);
}

export interface Page {
  items: LocationJson[];
  hasMore: boolean;
}

/** One page in name order, starting after `after` (keyset) or at `offset`. */
export async function listLocations(
  db: Database,
  page: { limit: number; after?: string | undefined; offset?: number | undefined },
): Promise<Page> {
  const rows = await db
    .select(columns)
    .from(locations)
    .where(page.after === undefined ? undefined : gt(nameInByteOrder, sql`${page.after} collate "C"`))
    .orderBy(asc(nameInByteOrder))
    .limit(page.limit + 1)
    .offset(page.offset ?? 0);
  return { items: rows.slice(0, page.limit).map(toJson), hasMore: rows.length > page.limit };
}

export async function replaceLocation(
  db: Database,
  name: string,
  input: ReplaceLocation,
): Promise<LocationJson | undefined> {
  const [row] = await db
    .update(locations)
    .set({ timezone: input.timezone, description: input.description ?? null, updatedAt: sql`now()` })
    .where(eq(locations.name, name))
    .returning(columns);
  return row && toJson(row);
}

export async function patchLocation(
  db: Database,
  name: string,
  input: PatchLocation,
): Promise<LocationJson | undefined> {
  const [row] = await db
    .update(locations)
    .set({
      ...(input.timezone === undefined ? {} : { timezone: input.timezone }),
      ...(input.description === undefined ? {} : { description: input.description }),
      updatedAt: sql`now()`,
    })
    .where(eq(locations.name, name))
    .returning(columns);
  return row && toJson(row);
}

/** True when a row was deleted. */
export async function deleteLocation(db: Database, name: string): Promise<boolean> {
  const rows = await db.delete(locations).where(eq(locations.name, name)).returning({ id: locations.id });
  return rows.length > 0;
}
