/**
 * A position in the newest-first list: the last row's created_at in epoch microseconds (the
 * column's full precision, which a JavaScript Date would round to milliseconds) and its id.
 */
export interface Cursor {
  micros: string;
  id: string;
}

// 16 digits of microseconds reach the year 2286 and 18 digits of id stay inside bigint, so a
// well-formed cursor can never overflow the SQL types it is compared with.
export const cursorPattern = /^\d{1,16}\.\d{1,18}$/;

export function encodeCursor(cursor: Cursor): string {
  return `${cursor.micros}.${cursor.id}`;
}

/** Expects a value already checked against `cursorPattern`. */
export function decodeCursor(value: string): Cursor {
  const [micros = '', id = ''] = value.split('.');
  return { micros, id };
}
