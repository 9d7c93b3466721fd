import { Agent } from 'node:http';
import type { Logger } from '../logger.ts';
import { ColdStartError } from './function-process.ts';
import type { FunctionProcess } from './function-process.ts';

/** A request's hold on a running process; the process is not stopped while any lease is held. */
export interface Lease {
  readonly port: number;
  readonly agent: Agent;
  /** How long this request waited for a cold start; undefined when the process was already up. */
  readonly coldStartMs: number | undefined;
  release(): void;
}

export interface Instance {
  readonly name: string;
  /** Resolves with a running process, starting one if there is none (rejects with ColdStartError). */
  acquire(): Promise<Lease>;
  /** A lease on the process when it is running now; undefined while at zero, starting or stopping. */
  leaseIfRunning(): Lease | undefined;
  /**
   * Calls `listener` synchronously whenever the running process is about to be stopped (idle, or
   * the runner's shutdown), before it is signalled; the returned function unsubscribes.
   */
  onStopping(listener: () => void): () => void;
  /** Stops the process if any and refuses further requests: the gateway's shutdown. */
  close(): Promise<void>;
}

export interface InstanceOptions {
  name: string;
  start: () => Promise<FunctionProcess>;
  idleMs: number;
  /** SIGTERM-to-SIGKILL grace when a process is stopped. */
  stopGraceMs: number;
  log: Logger;
}

interface Running {
  readonly process: FunctionProcess;
  readonly agent: Agent;
  inFlight: number;
  idleTimer: NodeJS.Timeout | undefined;
}

type State =
  | { kind: 'idle' }
  | { kind: 'starting'; ready: Promise<Running> }
  | { kind: 'running'; running: Running }
  | { kind: 'stopping'; stopped: Promise<void> };

/**
 * One function's process, the way Knative runs a revision with min-scale 0 and one pod at most:
 * no process until a request arrives, every request during a cold start waits for the same start,
 * and the process is stopped once it has had no request in flight for `idleMs`.
 */
export function createInstance({ name, start, idleMs, stopGraceMs, log }: InstanceOptions): Instance {
  let state: State = { kind: 'idle' };
  let closed = false;
  const stoppingListeners = new Set<() => void>();

  const beginStart = (): Promise<Running> => {
    const began = performance.now();
    const ready = start().then(
      (process) => {
        const running: Running = { process, agent: new Agent({ keepAlive: true }), inFlight: 0, idleTimer: undefined };
        state = { kind: 'running', running };
        log.info('cold start', { function: name, ms: Math.round(performance.now() - began), pid: process.pid, port: process.port });
        void process.exited.then(({ code, signal }) => {
          if (state.kind !== 'running' || state.running !== running) return;
          // A crash: requests in flight get their 502 from the proxy; the next one starts afresh.
          clearTimeout(running.idleTimer);
          running.agent.destroy();
          state = { kind: 'idle' };
          log.warn('function process exited unexpectedly', { function: name, pid: process.pid, code, signal });
        });
        return running;
      },
      (error: unknown) => {
        state = { kind: 'idle' };
        log.error('cold start failed', { function: name, ms: Math.round(performance.now() - began), error });
        throw error;
      },
    );
    state = { kind: 'starting', ready };
    return ready;
  };

  const scaleToZero = (running: Running): Promise<void> => {
    for (const listener of [...stoppingListeners]) listener();
    const stopped = running.process.stop(stopGraceMs).then(() => {
      running.agent.destroy();
      state = { kind: 'idle' };
      log.info('scaled to zero', { function: name, pid: running.process.pid, idleMs });
    });
    state = { kind: 'stopping', stopped };
    return stopped;
  };

  const lease = (running: Running, coldStartMs: number | undefined): Lease => {
    clearTimeout(running.idleTimer);
    running.idleTimer = undefined;
    running.inFlight += 1;
    let released = false;
    return {
      port: running.process.port,
      agent: running.agent,
      coldStartMs,
      release: () => {
        if (released) return;
        released = true;
        running.inFlight -= 1;
        if (running.inFlight > 0 || closed || state.kind !== 'running' || state.running !== running) return;
        running.idleTimer = setTimeout(() => {
          if (running.inFlight === 0 && state.kind === 'running' && state.running === running) void scaleToZero(running);
        }, idleMs);
      },
    };
  };

  const acquire = async (): Promise<Lease> => {
    const arrived = performance.now();
    let waited = false;
    for (;;) {
      if (closed) throw new ColdStartError(`function ${name} is shutting down`);
      switch (state.kind) {
        case 'running':
          return lease(state.running, waited ? Math.round(performance.now() - arrived) : undefined);
        case 'stopping':
          // A request during scale-down waits for the old process to go, then starts a new one.
          await state.stopped;
          break;
        case 'starting':
          waited = true;
          await state.ready;
          break;
        case 'idle':
          waited = true;
          await beginStart();
          break;
      }
    }
  };

  const close = async (): Promise<void> => {
    closed = true;
    const current = state;
    if (current.kind === 'starting') await current.ready.catch(() => undefined);
    if (state.kind === 'running') {
      clearTimeout(state.running.idleTimer);
      await scaleToZero(state.running);
    } else if (state.kind === 'stopping') {
      await state.stopped;
    }
  };

  const leaseIfRunning = (): Lease | undefined => (!closed && state.kind === 'running' ? lease(state.running, undefined) : undefined);

  const onStopping = (listener: () => void): (() => void) => {
    stoppingListeners.add(listener);
    return () => stoppingListeners.delete(listener);
  };

  return { name, acquire, leaseIfRunning, onStopping, close };
}
