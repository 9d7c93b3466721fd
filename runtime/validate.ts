import type { Context } from 'hono';
import { ApiError } from './errors.ts';
import * as z from './zod.ts';

/**
 * Parses `input` with `schema`, or throws a 400 whose message names every bad field
 * (`query.limit: Too big: expected number to be <=100`).
 */
export function parseInput<T extends z.core.$ZodType>(
  schema: T,
  input: unknown,
  where: 'query' | 'body' | 'path' | 'header',
): z.output<T> {
  const result = z.safeParse(schema, input);
  if (result.success) {
    const nulAt = findNulCharacter(result.data, [where]);
    // PostgreSQL text cannot hold U+0000: let it through and the insert fails as a 500.
    if (nulAt) throw new ApiError(400, 'invalid_input', `${nulAt.join('.')}: must not contain NUL (U+0000) characters`);
    return result.data;
  }
  const problems = result.error.issues.map((issue) => {
    const field = [where, ...issue.path.map(String)].join('.');
    return `${field}: ${issue.message}`;
  });
  throw new ApiError(400, 'invalid_input', problems.join('; '));
}

function findNulCharacter(value: unknown, path: string[]): string[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = findNulCharacter(child, [...path, key]);
    if (found) return found;
  }
  return undefined;
}

/** Reads a JSON request body, answering 415 for another content type and 400 for malformed JSON. */
export async function readJsonBody(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'body must be application/json');
  }
  try {
    return await c.req.json();
  } catch {
    throw new ApiError(400, 'invalid_json', 'body is not valid JSON');
  }
}
