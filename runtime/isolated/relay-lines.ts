import type { Readable } from 'node:stream';

/** A pipe write of at most this many bytes is never interleaved with another writer's (PIPE_BUF). */
const atomicBytes = 4096;
/** A line longer than this is passed on in pieces rather than held in memory until its end. */
const maxHeldBytes = 1024 * 1024;
const newline = 0x0a;

/**
 * Copies a child's output to `write` in whole lines, a chunk at a time: the child's lines are
 * already what our stdout carries (JSON logs), so they are not split and rewritten one by one,
 * which cost the runner CPU for every request its functions logged. A partial line is held until
 * its end arrives, and every write ends at a line's end and holds at most 4096 bytes when the
 * lines allow it, so other writers of the same stdout (this process's own logger) cannot land
 * in the middle of one of its lines.
 */
export function relayLines(input: Readable, write: (chunk: Buffer) => void): void {
  let held: Buffer | undefined;
  input.on('data', (chunk: Buffer) => {
    const data = held === undefined ? chunk : Buffer.concat([held, chunk]);
    const end = data.lastIndexOf(newline) + 1;
    held = end < data.length ? data.subarray(end) : undefined;
    writeWhole(data.subarray(0, end), write);
    if (held !== undefined && held.length > maxHeldBytes) {
      write(Buffer.concat([held, Buffer.from('\n')]));
      held = undefined;
    }
  });
  input.once('end', () => {
    if (held !== undefined) write(Buffer.concat([held, Buffer.from('\n')]));
    held = undefined;
  });
}

/**
 * Gathers the lines handed to it in one turn of the event loop into one write (nginx's access log
 * arrives a line at a time: a write per request otherwise), in pieces as `relayLines` writes them.
 */
export function batchLines(write: (chunk: Buffer) => void): (line: string) => void {
  return perTurn((lines: string[]) => writeWhole(Buffer.from(`${lines.join('\n')}\n`), write));
}

/**
 * Gathers the whole lines handed to it in one turn of the event loop (by `relayLines`, from every
 * function's process) into as few writes as `writeWhole` allows: under load each child's output
 * arrives a few lines at a time, and every write to a pipe cost the runner a system call.
 */
export function batchWrites(write: (chunk: Buffer) => void): (lines: Buffer) => void {
  return perTurn((chunks: Buffer[]) => writeWhole(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), write));
}

/** Hands `flush` everything given in one turn of the event loop, together, once that turn is over. */
function perTurn<T>(flush: (items: T[]) => void): (item: T) => void {
  let pending: T[] = [];
  const flushPending = () => {
    const items = pending;
    pending = [];
    flush(items);
  };
  return (item) => {
    if (pending.push(item) === 1) setImmediate(flushPending);
  };
}

/** `lines` (ending with a newline, or empty) in writes of whole lines of at most `atomicBytes` where possible. */
function writeWhole(lines: Buffer, write: (chunk: Buffer) => void): void {
  let start = 0;
  while (lines.length - start > atomicBytes) {
    const cut = lines.lastIndexOf(newline, start + atomicBytes - 1);
    // One line longer than the limit goes whole: it cannot be atomic anyway.
    const next = lines.indexOf(newline, start + atomicBytes);
    const end = cut >= start ? cut + 1 : next >= 0 ? next + 1 : lines.length;
    write(lines.subarray(start, end));
    start = end;
  }
  if (start < lines.length) write(lines.subarray(start));
}
