import { Hono } from 'hono';
import type { Context } from 'hono';
import { defineFunction } from '../../runtime/define-function.ts';
import type { AppEnv } from '../../runtime/define-function.ts';
import { ApiError } from '../../runtime/errors.ts';
import { parseInput, readJsonBody } from '../../runtime/validate.ts';
import { locationTag } from '../shared/location-cache.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { createBody, listQuery, namePath, patchBody, replaceBody } from './schemas.ts';
import {
  createLocation,
  deleteLocation,
  findLocation,
  listLocations,
  patchLocation,
  replaceLocation,
} from './store.ts';
import type { LocationJson } from './store.ts';

function pathName(c: Context<AppEnv>): string {
  return parseInput(namePath, { name: c.req.param('name') }, 'path').name;
}

function notFound(name: string): ApiError {
  return new ApiError(404, 'location_not_found', `no location named "${name}"`);
}

function found(name: string, row: LocationJson | undefined): LocationJson {
  if (!row) throw notFound(name);
  return row;
}

/**
 * After the change is committed, before answering: once the client has its answer, every
 * instance's `/api/time?location=` reads the new row (time caches locations through Redis).
 */
async function changed<T>(c: Context<AppEnv>, name: string, result: T): Promise<T> {
  await c.var.cache.invalidate(locationTag(name));
  return result;
}

const app = new Hono<AppEnv>()
  .post('/api/locations', async (c) => {
    const input = parseInput(createBody, await readJsonBody(c), 'body');
    const row = await createLocation(c.var.db, input);
    if (!row) throw new ApiError(409, 'location_exists', `a location named "${input.name}" already exists`);
    await changed(c, row.name, row);
    c.header('Location', `/api/locations/${row.name}`);
    return c.json(row, 201);
  })
  .get('/api/locations', async (c) => {
    const query = parseInput(listQuery, c.req.query(), 'query');
    if (query.cursor !== undefined && query.offset !== undefined) {
      throw new ApiError(400, 'invalid_input', 'give either query.cursor or query.offset, not both');
    }
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const page = await listLocations(c.var.db, { limit: query.limit, after, offset: query.offset });
    const last = page.items.at(-1);
    return c.json({ items: page.items, nextCursor: page.hasMore && last ? encodeCursor(last.name) : null });
  })
  .get('/api/locations/:name', async (c) => {
    const name = pathName(c);
    return c.json(found(name, await findLocation(c.var.db, name)));
  })
  .put('/api/locations/:name', async (c) => {
    const name = pathName(c);
    const input = parseInput(replaceBody, await readJsonBody(c), 'body');
    return c.json(await changed(c, name, found(name, await replaceLocation(c.var.db, name, input))));
  })
  .patch('/api/locations/:name', async (c) => {
    const name = pathName(c);
    const input = parseInput(patchBody, await readJsonBody(c), 'body');
    return c.json(await changed(c, name, found(name, await patchLocation(c.var.db, name, input))));
  })
  .delete('/api/locations/:name', async (c) => {
    const name = pathName(c);
    if (!(await deleteLocation(c.var.db, name))) throw notFound(name);
    await changed(c, name, undefined);
    return c.body(null, 204);
  });

export default defineFunction({
  name: 'locations',
  description: 'CRUD for named places with an IANA time zone under /api/locations, listed in name order.',
  scale: { min: 0, max: 10, target: 100 },
  // CRUD: a list page and writes may overlap on one instance.
  poolMax: 3,
  auth: 'writes',
  docs: [
    { route: 'POST /api/locations', answer: '`{name, timezone, description?}` → 201 with the row; duplicate name 409' },
    { route: 'GET /api/locations?limit=&cursor=', answer: '`{items, nextCursor}` in name order (`offset=` pages too)' },
    { route: 'GET PUT PATCH DELETE /api/locations/:name', answer: 'the row / replace / partial update / 204; 404 when absent' },
  ],
  app,
});
