import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/**
 * PGlite is one process's database: a second process opening the same folder would corrupt it,
 * and PGlite's own postmaster.pid holds a placeholder (-42), not a process id. So whoever opens
 * the folder (`npm start`, `npm run migrate`, drizzle-kit through drizzle.config.ts) first writes
 * its pid beside it, `<folder>.pid`, and removes it on close or exit. A file left by a process that
 * is gone (killed -9) is taken over.
 */
export class PgliteInUseError extends Error {
  readonly code = 'pglite_in_use';
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(`the embedded database in ${dataDir} is in use by process ${pid}`);
    this.name = 'PgliteInUseError';
  }
}

export const pgliteLockFile = (dataDir: string): string => `${dataDir.replace(/\/+$/, '')}.pid`;

/** The live process holding `dataDir`, other than this one; undefined when nobody does. */
export function pgliteLockHolder(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pgliteLockFile(dataDir), 'utf8'), 10);
  } catch {
    return undefined;
  }
  // A container restarted on the same volume is pid 1 again: its own pid in the file is stale.
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: alive, only not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

/** Claims `dataDir` for this process until `release()` (or exit); throws PgliteInUseError if held. */
export function lockPglite(dataDir: string): { release(): void } {
  return lockFolder(dataDir, (pid) => new PgliteInUseError(dataDir, pid));
}

/**
 * Claims a folder only one process may write (`<folder>.pid` holding this pid) until `release()`
 * or exit; throws `held(pid)` while a live process holds it. A file left by a dead one is taken over.
 */
export function lockFolder(folder: string, held: (pid: number) => Error): { release(): void } {
  const file = pgliteLockFile(folder);
  for (let attempt = 0; ; attempt += 1) {
    const holder = pgliteLockHolder(folder);
    if (holder !== undefined) throw held(holder);
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
      // A stale file (or our own from an earlier open): remove it, then race for it again.
      if (pgliteLockHolder(folder) === undefined) unlinkSync(file);
    }
  }
  const release = () => {
    process.off('exit', release);
    try {
      if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return { release };
}
