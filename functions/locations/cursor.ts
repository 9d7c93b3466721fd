import { ApiError } from '../../runtime/errors.ts';
import { locationName } from './schemas.ts';

/**
 * Opaque keyset cursors: the last name of a page, so the next page starts strictly after it and
 * rows inserted or deleted meanwhile never shift or repeat what the client already saw.
 */
export function encodeCursor(lastName: string): string {
  return Buffer.from(JSON.stringify({ after: lastName })).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && 'after' in value) {
      const parsed = locationName.safeParse(value.after);
      if (parsed.success) return parsed.data;
    }
  } catch {
    // Falls through to the 400 below: a malformed cursor is the client's error, not ours.
  }
  throw new ApiError(400, 'invalid_cursor', 'query.cursor is not a cursor this API returned');
}
