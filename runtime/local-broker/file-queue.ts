import { mkdirSync, readFileSync, writeSync } from 'node:fs';
import { lockFolder } from '../../db/pglite-lock.ts';
import { open, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.ts';
import type { StoredEvent } from './dispatch.ts';
import type { DurableQueue, Handler } from './queue.ts';

type Entry = { add: StoredEvent } | { done: string };

interface PendingWrite {
  text: string;
  sync: boolean;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Rewrite the journal once this many events were delivered since the last rewrite. */
const compactAfterDone = 1000;

/**
 * A durable queue in one append-only journal file (`<dir>/journal.ndjson`): a line per accepted
 * event and a line per delivered one. `publish` resolves only after its line is fsync'ed, so an
 * event answered 202 survives kill -9 and power loss; concurrent publishes share one fsync (group
 * commit). A "delivered" line is not fsync'ed: losing it only means one more delivery, which the
 * worker's `ON CONFLICT (event_id)` absorbs. On start the journal is read back (a torn last line,
 * from a crash mid-write, was never acknowledged and is skipped) and rewritten with only what is
 * still pending; later rewrites keep it from growing without bound.
 *
 * One process per directory: like PGlite's files under DATA_DIR, the journal is not shared.
 */
export class FileQueue implements DurableQueue {
  private readonly path: string;
  private handle: FileHandle | undefined;
  /** Accepted, not yet delivered; insertion order is delivery order. The first event of an id wins. */
  private readonly pending = new Map<string, StoredEvent>();
  private readonly ready: string[] = [];
  private readonly inFlight = new Set<string>();
  private writes: PendingWrite[] = [];
  private writing: Promise<void> | undefined;
  private doneSinceCompaction = 0;
  private handler: Handler | undefined;
  private closed = false;
  private readonly running = new Set<Promise<void>>();
  private lock: { release(): void } | undefined;

  constructor(
    private readonly dir: string,
    private readonly concurrency: number,
    private readonly log: Logger,
  ) {
    this.path = join(dir, 'journal.ndjson');
  }

  async open(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    // A second process appending to or compacting the same journal could lose accepted events.
    this.lock = lockFolder(this.dir, (pid) =>
      new Error(`the event journal in ${this.dir} is in use by process ${pid} (another npm start with the same DATA_DIR?): stop it (kill ${pid}), or give this one its own DATA_DIR`),
    );
    let text = '';
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const lines = text.split('\n');
    lines.forEach((line, index) => {
      if (line === '') return;
      let entry: Entry;
      try {
        entry = JSON.parse(line) as Entry;
      } catch {
        if (index < lines.length - 1) this.log.warn('outbox journal: skipping an unreadable line', { line: index + 1 });
        return;
      }
      if ('add' in entry) {
        if (!this.pending.has(entry.add.id)) this.pending.set(entry.add.id, entry.add);
      } else {
        this.pending.delete(entry.done);
      }
    });
    await this.rewrite();
    this.ready.push(...this.pending.keys());
    if (this.pending.size > 0) this.log.info('outbox: events from before the restart are delivered again', { pending: this.pending.size });
  }

  get size(): number {
    return this.pending.size;
  }

  async publish(event: StoredEvent): Promise<void> {
    if (this.closed) throw new Error('the outbox is closed');
    await this.append(`${JSON.stringify({ add: event } satisfies Entry)}\n`, true);
    if (!this.pending.has(event.id)) {
      this.pending.set(event.id, event);
      this.ready.push(event.id);
      this.pump();
    }
  }

  async consume(handle: Handler): Promise<void> {
    this.handler = handle;
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    // Released last, once nothing more is written (below).
    const lock = this.lock;
    this.lock = undefined;
    try {
      await this.closeFiles();
    } finally {
      lock?.release();
    }
  }

  private async closeFiles(): Promise<void> {
    await Promise.all(this.running);
    await this.writing;
    await this.handle?.close();
    this.handle = undefined;
  }

  private pump(): void {
    const handle = this.handler;
    if (!handle) return;
    while (!this.closed && this.inFlight.size < this.concurrency && this.ready.length > 0) {
      const id = this.ready.shift() as string;
      const event = this.pending.get(id);
      if (!event || this.inFlight.has(id)) continue;
      this.inFlight.add(id);
      const run = handle(event)
        .catch((error: unknown) => {
          this.log.error('outbox delivery failed', { eventId: id, error });
          return false;
        })
        .then(async (done) => {
          if (done) {
            this.pending.delete(id);
            this.doneSinceCompaction++;
            await this.append(`${JSON.stringify({ done: id } satisfies Entry)}\n`, false).catch((error: unknown) =>
              this.log.warn('outbox journal: could not record a delivery (it will be delivered again)', { eventId: id, error }),
            );
          } else {
            this.ready.push(id);
          }
        })
        .finally(() => {
          this.inFlight.delete(id);
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }

  /** Queues `text` for the journal; resolves once written (and fsync'ed when `sync`). */
  private append(text: string, sync: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      this.writes.push({ text, sync, resolve, reject });
      this.writing ??= this.drainWrites().finally(() => {
        this.writing = undefined;
      });
    });
  }

  private async drainWrites(): Promise<void> {
    while (this.writes.length > 0) {
      const batch = this.writes;
      this.writes = [];
      try {
        const handle = await this.file();
        writeAll(handle.fd, Buffer.from(batch.map((write) => write.text).join(''), 'utf8'));
        if (batch.some((write) => write.sync)) await handle.datasync();
        for (const write of batch) write.resolve();
      } catch (error) {
        for (const write of batch) write.reject(error);
      }
      // Between batches, so no append interleaves with the rewrite.
      if (this.doneSinceCompaction >= compactAfterDone && this.doneSinceCompaction >= this.pending.size) {
        await this.rewrite().catch((error: unknown) => this.log.warn('outbox journal: compaction failed', { error }));
      }
    }
  }

  private async file(): Promise<FileHandle> {
    this.handle ??= await open(this.path, 'a');
    return this.handle;
  }

  /** Replaces the journal with one holding only the pending events: write, fsync, rename, fsync the directory. */
  private async rewrite(): Promise<void> {
    const temporary = `${this.path}.tmp`;
    const file = await open(temporary, 'w');
    try {
      await file.write([...this.pending.values()].map((event) => `${JSON.stringify({ add: event } satisfies Entry)}\n`).join(''));
      await file.sync();
    } finally {
      await file.close();
    }
    await this.handle?.close();
    this.handle = undefined;
    await rename(temporary, this.path);
    const directory = await open(this.dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
    this.doneSinceCompaction = 0;
  }
}

/**
 * Into the page cache from this thread: a few KiB copied by one write(2) cost less CPU than an
 * asynchronous write's round trip through the thread pool and its promise (about 50 µs a batch,
 * measured), and the journal writes one or two batches per group commit. Only the fdatasync,
 * which waits for the disk, goes to the thread pool.
 */
function writeAll(fd: number, bytes: Buffer): void {
  for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
}
