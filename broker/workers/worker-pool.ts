// The worker processes behind the primary: forks them, hands each accepted socket to the next
// ready one (round robin), restarts one that dies (same index, so same node id and data dir)
// with exponential back-off, and stops them all on close.

import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { BrokerConfig } from '../../common/config/index.js';
import type { Logger } from '../../common/log.js';
import { isFromWorker, type ListenerKind, type ToWorker } from './messages.js';

export type WorkerState = 'starting' | 'ready' | 'restarting' | 'stopped';

/** One row of `GET /api/workers`. */
export interface WorkerInfo {
  readonly worker: number;
  readonly node_id: number;
  readonly pid: number | null;
  readonly state: WorkerState;
  readonly restarts: number;
  /** Sockets handed to this worker since the primary started. */
  readonly connections: number;
  /** The worker's own admin API on 127.0.0.1 (null when admin is off). */
  readonly admin_port: number | null;
  readonly link_port: number | null;
}

export interface WorkerPoolOptions {
  /** The worker entry (dist/broker/workers/worker-main.js). */
  readonly entry: string;
  /** Config of worker 1..count. */
  readonly configs: readonly BrokerConfig[];
  /** MQTT listeners the primary binds, so workers set up the matching acceptors. */
  readonly kinds: readonly ListenerKind[];
  readonly log: Logger;
  /** A worker that is not ready within this is killed (and, after the first start, restarted). */
  readonly startTimeoutMs?: number;
  /** A worker that has not exited this long after `stop` is killed. */
  readonly stopTimeoutMs?: number;
  /** First restart delay; doubled per consecutive failure up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A worker that stayed up this long counts as healthy again: its next restart is immediate-ish. */
  readonly stableMs?: number;
}

class Slot {
  child: ChildProcess | null = null;
  state: WorkerState = 'starting';
  restarts = 0;
  failures = 0;
  readyAt = 0;
  connections = 0;
  adminPort: number | null = null;
  linkPort: number | null = null;
  restartTimer: NodeJS.Timeout | null = null;
  constructor(readonly index: number, readonly config: BrokerConfig) {}
}

export class WorkerPool {
  private readonly slots: Slot[];
  private next = 0;
  private phase: 'starting' | 'running' | 'closing' = 'starting';
  private readonly o: Required<WorkerPoolOptions>;

  constructor(options: WorkerPoolOptions) {
    if (options.configs.length === 0) throw new RangeError('a worker pool needs at least one worker');
    this.o = { startTimeoutMs: 60_000, stopTimeoutMs: 15_000, backoffMs: 100, maxBackoffMs: 5_000, stableMs: 10_000, ...options };
    this.slots = options.configs.map((c, i) => new Slot(i + 1, c));
  }

  /** Forks every worker and resolves once all are ready; if one fails, stops the rest and throws. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.slots.map((s) => this.launch(s)));
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      await this.close();
      const why = (results[failed] as PromiseRejectedResult).reason;
      throw new Error(`worker ${failed + 1} failed to start: ${why instanceof Error ? why.message : String(why)}`);
    }
    this.phase = 'running';
  }

  /** Hands an accepted (paused) socket to the next ready worker; with none ready, closes it. */
  dispatch(kind: ListenerKind, socket: Socket): void {
    const n = this.slots.length;
    for (let k = 0; k < n; k++) {
      const slot = this.slots[(this.next + k) % n]!;
      const child = slot.child;
      if (slot.state !== 'ready' || child === null || !child.connected) continue;
      this.next = (slot.index) % n;
      slot.connections++;
      const msg: ToWorker = { type: 'socket', kind };
      child.send(msg, socket, (err) => {
        if (err !== null) socket.destroy();
      });
      return;
    }
    // Nobody to serve it (all restarting): the client sees the connection closed and retries.
    socket.destroy();
  }

  info(): WorkerInfo[] {
    return this.slots.map((s) => ({
      worker: s.index,
      node_id: s.config.node_id,
      pid: s.child?.pid ?? null,
      state: s.state,
      restarts: s.restarts,
      connections: s.connections,
      admin_port: s.adminPort,
      link_port: s.linkPort,
    }));
  }

  /** The admin port of worker `index`, or of the first ready worker; null when it is not ready. */
  adminPort(index?: number): { worker: number; port: number } | null {
    const candidates = index === undefined ? this.slots : this.slots.filter((s) => s.index === index);
    for (const s of candidates) if (s.state === 'ready' && s.adminPort !== null) return { worker: s.index, port: s.adminPort };
    return null;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Stops every worker (each closes its clients and storage), killing any that does not exit in time. */
  async close(): Promise<void> {
    this.phase = 'closing';
    await Promise.all(this.slots.map((s) => this.stopSlot(s)));
  }

  private stopSlot(slot: Slot): Promise<void> {
    if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    const child = slot.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) {
      slot.state = 'stopped';
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => {
        this.o.log.warn('worker did not stop in time; killing it', { worker: slot.index, pid: child.pid });
        child.kill('SIGKILL');
      }, this.o.stopTimeoutMs);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      const stop: ToWorker = { type: 'stop' };
      if (child.connected) child.send(stop, (err) => err !== null && child.kill('SIGTERM'));
      else child.kill('SIGTERM');
    });
  }

  /** Forks the worker of `slot`; resolves when it reports ready. */
  private launch(slot: Slot): Promise<void> {
    slot.state = slot.restarts === 0 ? 'starting' : 'restarting';
    slot.adminPort = null;
    slot.linkPort = null;
    // stdout stays quiet: only the primary prints `listening` lines. Logs go to stderr.
    const child = fork(this.o.entry, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'json' });
    slot.child = child;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === null) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => {
        settle(new Error(`not ready within ${this.o.startTimeoutMs} ms`));
        child.kill('SIGKILL');
      }, this.o.startTimeoutMs);
      child.on('message', (m: unknown) => {
        if (!isFromWorker(m)) return;
        if (m.type === 'ready') {
          if (slot.child !== child || this.phase === 'closing') return;
          slot.state = 'ready';
          slot.readyAt = Date.now();
          slot.adminPort = m.adminPort;
          slot.linkPort = m.linkPort;
          settle(null);
        } else {
          settle(new Error(m.message));
        }
      });
      child.once('error', (err) => settle(err));
      child.once('exit', (code, signal) => {
        settle(new Error(`exited before it was ready (code ${code}, signal ${signal})`));
        this.exited(slot, child, code, signal);
      });
      const start: ToWorker = { type: 'start', index: slot.index, config: slot.config, kinds: [...this.o.kinds] };
      child.send(start);
    });
  }

  private exited(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = null;
    if (this.phase !== 'running') {
      slot.state = 'stopped';
      return;
    }
    // A worker that ran a while before dying starts over with the shortest delay.
    if (slot.readyAt > 0 && Date.now() - slot.readyAt >= this.o.stableMs) slot.failures = 0;
    const delay = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** slot.failures);
    slot.failures++;
    slot.state = 'restarting';
    slot.readyAt = 0;
    this.o.log.warn('worker exited; restarting it', { worker: slot.index, code, signal, delayMs: delay });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.phase !== 'running') return;
      slot.restarts++;
      this.launch(slot).then(
        () => this.o.log.info('worker restarted', { worker: slot.index, pid: slot.child?.pid }),
        (err: unknown) => this.o.log.warn('worker restart failed', { worker: slot.index, error: err instanceof Error ? err.message : String(err) }),
      );
    }, delay);
  }
}
