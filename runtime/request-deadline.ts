/** Told once, synchronously, when the deadline it watches passes. */
export interface DeadlineWatcher {
  deadlinePassed(reason: Error): void;
}

/**
 * A request's time for database work (`c.var.deadline`). Every request of a function that uses
 * the database gets one, so it is a plain object: no timer of its own (a DeadlineClock tracks it)
 * and no AbortSignal unless a handler asks for `signal`. On GET /pingpong an AbortController and a
 * timer per request, and an abort listener per waiter, cost more CPU than the request's share of
 * the database statement.
 */
export class RequestDeadline {
  /** The error the request is answered with, once the deadline has passed; undefined before. */
  reason: Error | undefined = undefined;
  /** When it passes, on `performance.now()`'s clock; set when its clock starts it. */
  expiresAt = Number.POSITIVE_INFINITY;
  /** The request has been answered: its clock no longer runs. */
  finished = false;
  /** Its neighbours in its DeadlineClock's list of pending deadlines; only the clock sets them. */
  older: RequestDeadline | undefined = undefined;
  newer: RequestDeadline | undefined = undefined;
  #watchers: DeadlineWatcher | DeadlineWatcher[] | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  readonly #onExpire: ((reason: Error) => void) | undefined;

  /** `onExpire` runs after every watcher: the runtime's answer comes last. */
  constructor(onExpire?: (reason: Error) => void) {
    this.#onExpire = onExpire;
  }

  get expired(): boolean {
    return this.reason !== undefined;
  }

  /** Aborts with `reason` when the deadline passes; made on first use (already aborted if it has). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.reason !== undefined) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /** Calls `watcher.deadlinePassed` when the deadline passes; a watcher added after that is never called. */
  watch(watcher: DeadlineWatcher): void {
    const current = this.#watchers;
    if (current === undefined) this.#watchers = watcher;
    else if (Array.isArray(current)) current.push(watcher);
    else this.#watchers = [current, watcher];
  }

  unwatch(watcher: DeadlineWatcher): void {
    const current = this.#watchers;
    if (current === watcher) this.#watchers = undefined;
    else if (Array.isArray(current)) {
      const at = current.indexOf(watcher);
      if (at >= 0) current.splice(at, 1);
    }
  }

  /** Passes the deadline now (its clock does this); later calls change nothing. */
  expire(reason: Error): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const watchers = this.#watchers;
    this.#watchers = undefined;
    if (Array.isArray(watchers)) for (const watcher of watchers) watcher.deadlinePassed(reason);
    else watchers?.deadlinePassed(reason);
    this.#controller?.abort(reason);
    this.#onExpire?.(reason);
  }
}

/**
 * Expires the deadlines it was given `ms` after each was started, with one timer for all of them.
 * Every deadline has the same length, so they expire in the order they started: the pending ones
 * form a list in that order (linked through the deadlines themselves, so a request answered in
 * time costs a link and an unlink, no allocation and no hashing), and the timer waits for the
 * oldest.
 */
export class DeadlineClock {
  #oldest: RequestDeadline | undefined = undefined;
  #newest: RequestDeadline | undefined = undefined;
  #pending = 0;
  #timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly ms: number,
    private readonly reason: () => Error,
  ) {}

  /** Starts the deadline's time now, unless its request has been answered already. */
  start(deadline: RequestDeadline): void {
    if (deadline.finished || deadline.expired) return;
    deadline.expiresAt = performance.now() + this.ms;
    deadline.older = this.#newest;
    if (this.#newest) this.#newest.newer = deadline;
    else this.#oldest = deadline;
    this.#newest = deadline;
    this.#pending += 1;
    this.#timer ??= setTimeout(this.#expireDue, this.ms);
  }

  /** The request has been answered: its deadline will not expire. */
  stop(deadline: RequestDeadline): void {
    deadline.finished = true;
    this.#unlink(deadline);
  }

  /** Deadlines not yet stopped or expired, for tests. */
  get pending(): number {
    return this.#pending;
  }

  #unlink(deadline: RequestDeadline): void {
    const { older, newer } = deadline;
    // Not in the list: never started, or unlinked before.
    if (older === undefined && newer === undefined && this.#oldest !== deadline) return;
    if (older) older.newer = newer;
    else this.#oldest = newer;
    if (newer) newer.older = older;
    else this.#newest = older;
    deadline.older = undefined;
    deadline.newer = undefined;
    this.#pending -= 1;
  }

  readonly #expireDue = (): void => {
    this.#timer = undefined;
    // Timers fire on the event loop's cached clock, which may lag behind performance.now() by a
    // busy turn: a deadline not yet due is waited for again rather than expired early.
    const now = performance.now();
    try {
      for (let deadline = this.#oldest; deadline !== undefined && deadline.expiresAt <= now; deadline = this.#oldest) {
        this.#unlink(deadline);
        deadline.expire(this.reason());
      }
    } finally {
      // Even past a throwing watcher: the deadlines behind it must still expire.
      const next = this.#oldest;
      if (next) this.#timer = setTimeout(this.#expireDue, Math.max(1, Math.ceil(next.expiresAt - now)));
    }
  };
}
