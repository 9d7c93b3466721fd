/**
 * A position in the newest-first list: the last row's created_at in epoch microseconds (the
 * column's full precision, which a JavaScript Date would round to milliseconds) and its id.
 */
export interface Cursor {
  micros: string;
  id: string;
}

export const cursorPattern = /^\d{1,19}\.\d{1,19}$/;

export function encodeCursor(cursor: Cursor): string {
  return `${cursor.micros}.${cursor.id}`;
}

/** Expects a value already checked against `cursorPattern`. */
export function decodeCursor(value: string): Cursor {
  const [micros = '', id = ''] = value.split('.');
  return { micros, id };
}
