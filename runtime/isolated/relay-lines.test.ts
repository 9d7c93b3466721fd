import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { batchLines, batchWrites, relayLines } from './relay-lines.ts';

function relayed() {
  const input = new PassThrough();
  const writes: string[] = [];
  relayLines(input, (chunk) => writes.push(chunk.toString('utf8')));
  return { input, writes };
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

describe('relayLines', () => {
  it('passes whole lines on and holds a partial line until its end arrives', async () => {
    const { input, writes } = relayed();
    input.write('{"a":1}\n{"b":');
    await flushed();
    expect(writes).toEqual(['{"a":1}\n']);
    input.write('2}\n{"c":3}\n');
    await flushed();
    expect(writes).toEqual(['{"a":1}\n', '{"b":2}\n{"c":3}\n']);
  });

  it('ends a last line the child left without a newline', async () => {
    const { input, writes } = relayed();
    input.end('{"a":1}\n{"last":true}');
    await new Promise((resolve) => input.once('end', resolve));
    expect(writes).toEqual(['{"a":1}\n', '{"last":true}\n']);
  });

  it('writes at most 4096 bytes at a time, each ending with a line, so no other writer lands mid-line', async () => {
    const { input, writes } = relayed();
    const line = `${'x'.repeat(999)}\n`;
    input.write(line.repeat(10));
    await flushed();
    expect(writes.join('')).toBe(line.repeat(10));
    expect(writes.map((write) => write.length)).toEqual([4000, 4000, 2000]);
  });

  it('writes a line longer than 4096 bytes whole, after the lines before it', async () => {
    const { input, writes } = relayed();
    const long = `${'y'.repeat(5000)}\n`;
    input.write(`short\n${long}after\n`);
    await flushed();
    expect(writes).toEqual(['short\n', long, 'after\n']);
  });
});

describe('batchLines', () => {
  it('writes the lines of one turn of the event loop together', async () => {
    const writes: string[] = [];
    const line = batchLines((chunk) => writes.push(chunk.toString('utf8')));
    line('one');
    line('two');
    expect(writes).toEqual([]);
    await flushed();
    line('three');
    await flushed();
    expect(writes).toEqual(['one\ntwo\n', 'three\n']);
  });
});

describe('batchWrites', () => {
  it("writes the lines of every child that arrived in one turn together, each child's in order", async () => {
    const writes: string[] = [];
    const write = batchWrites((chunk) => writes.push(chunk.toString('utf8')));
    const first = new PassThrough();
    const second = new PassThrough();
    relayLines(first, write);
    relayLines(second, write);
    first.write('a1\n');
    second.write('b1\nb2\n');
    first.write('a2\n');
    await flushed();
    expect(writes).toEqual(['a1\nb1\nb2\na2\n']);
  });

  it('keeps each write within 4096 bytes of whole lines', async () => {
    const writes: string[] = [];
    const write = batchWrites((chunk) => writes.push(chunk.toString('utf8')));
    const line = `${'x'.repeat(999)}\n`;
    for (let index = 0; index < 5; index++) write(Buffer.from(line));
    await flushed();
    expect(writes.map((each) => each.length)).toEqual([4000, 1000]);
  });
});
