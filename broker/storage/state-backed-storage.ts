// What the s3 and journal drivers share: the broker's state held in memory (s3-state.ts) and a
// queue of apply() and read calls in front of it, served in call order. A subclass says how the
// state is loaded on open() and how a group of queued applies is written to its backend; this
// class owns the lifecycle (open/close, draining in-flight work), the queue, the reads, taking a
// group off the queue and undoing it when its write fails.

import {
  StorageError,
  type DelayedRecord,
  type OutboundSummary,
  type OutboundWithMessage,
  type SessionRecord,
  type StorageDriver,
  type StorageOp,
  type StoredMessage,
  type SubscriptionRecord,
} from './driver.js';
import { cloneOp, opBytes } from './clone-op.js';
import { StorageState, type Undo } from './s3-state.js';
import { StorageOpError } from './storage-op-error.js';
import { validateBatch } from './validate-batch.js';

export interface ApplyTask {
  kind: 'apply';
  ops: StorageOp[];
  bytes: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface ReadTask {
  kind: 'read';
  run: () => void;
}

export type StorageStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed';

export abstract class StateBackedStorage implements StorageDriver {
  /** "s3", "journal": starts every error message (`<name> storage at <where>: ...`). */
  abstract readonly name: string;
  protected status: StorageStatus = 'new';
  private closing: Promise<void> | null = null;
  protected state = new StorageState();
  /** Set when another writer took over: every later apply() rejects. */
  protected fenced: string | null = null;
  protected readonly queue: Array<ApplyTask | ReadTask> = [];
  protected readonly inflight = new Set<Promise<unknown>>();

  /** Where the data lives, for error messages. */
  protected abstract get where(): string;
  /** An error as text for a message (each backend has its own idea of what to include). */
  protected abstract describeError(e: unknown): string;
  /** Reaches the backend and fills `state` (and the subclass's own position) from it. */
  protected abstract connect(): Promise<void>;
  /** Called once open() succeeded. */
  protected abstract opened(): void;
  /** Lets go of the backend, after a failed open() or at the end of close(). */
  protected abstract release(): Promise<void> | void;
  /** Works through the queue if it is not already doing so. */
  protected abstract kick(): void;
  /** Called by close() before it waits for the work in flight. */
  protected beforeDrain(): void {}

  async open(): Promise<void> {
    if (this.status === 'open') return;
    if (this.status === 'opening' || this.status === 'closing') throw new StorageError(`${this.prefixed()}: open() while ${this.status}`);
    this.status = 'opening';
    try {
      await this.connect();
    } catch (e: unknown) {
      this.status = 'closed';
      // Awaited only when asynchronous, so a synchronous release adds no extra turn.
      const released = this.release();
      if (released !== undefined) await released;
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot open ${this.prefixed()}: ${this.describeError(e)}`, { cause: e });
    }
    this.status = 'open';
    this.opened();
  }

  /** Waits for queued calls and the backend work in flight, then releases the backend. Idempotent. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (this.status !== 'open') {
      if (this.status === 'new') this.status = 'closed';
      return Promise.resolve();
    }
    this.status = 'closing';
    this.closing = (async () => {
      try {
        this.beforeDrain();
        while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      } finally {
        const released = this.release();
        if (released !== undefined) await released;
        this.status = 'closed';
        this.closing = null;
      }
    })();
    return this.closing;
  }

  apply(ops: readonly StorageOp[]): Promise<void> {
    let copies: StorageOp[];
    try {
      this.requireOpen('apply');
      if (this.fenced !== null) throw new StorageError(`${this.prefixed()}: apply() refused: ${this.fenced}`);
      // Shapes now; the rules that depend on state when the batch's turn comes.
      validateBatch(ops, { hasSession: () => true, hasMessage: () => true });
      copies = ops.map(cloneOp);
    } catch (e: unknown) {
      return Promise.reject(e);
    }
    if (copies.length === 0) return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => {
      this.queue.push({ kind: 'apply', ops: copies, bytes: copies.reduce((n, op) => n + opBytes(op), 0), resolve, reject });
    });
    this.kick();
    return this.track(p);
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.read('listSessions', (s) => s.listSessions());
  }

  listSubscriptions(): Promise<SubscriptionRecord[]> {
    return this.read('listSubscriptions', (s) => s.listSubscriptions());
  }

  listOutbound(clientId: string): Promise<OutboundWithMessage[]> {
    return this.read('listOutbound', (s) => s.listOutbound(clientId));
  }

  outboundSummary(): Promise<Map<string, OutboundSummary>> {
    return this.read('outboundSummary', (s) => s.outboundSummary());
  }

  listInboundQos2(clientId: string): Promise<number[]> {
    return this.read('listInboundQos2', (s) => s.listInboundQos2(clientId));
  }

  listRetained(): Promise<StoredMessage[]> {
    return this.read('listRetained', (s) => s.listRetained());
  }

  listDelayed(): Promise<DelayedRecord[]> {
    return this.read('listDelayed', (s) => s.listDelayed());
  }

  /** Number of stored message bodies (introspection for the conformance suite and tests). */
  messageBodyCount(): Promise<number> {
    return this.read('messageBodyCount', (s) => s.bodies.size);
  }

  // -------------------------------------------------------------------------------------------

  /** `<name> storage at <where>`, the start of every error message. */
  protected prefixed(): string {
    return `${this.name} storage at ${this.where}`;
  }

  protected track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Takes the applies at the head of the queue (up to about `maxBytes`, at least one) and applies
   * them to the state one by one; a batch that breaks a rule is rejected alone. With
   * `refuseWhenFenced`, batches queued before the driver was fenced are refused here too.
   */
  protected takeGroup(maxBytes: number, refuseWhenFenced: boolean): { group: ApplyTask[]; undos: Undo[] } {
    const group: ApplyTask[] = [];
    const undos: Undo[] = [];
    let bytes = 0;
    while (this.queue[0]?.kind === 'apply' && (group.length === 0 || bytes + this.queue[0].bytes <= maxBytes)) {
      const task = this.queue.shift() as ApplyTask;
      if (refuseWhenFenced && this.fenced !== null) {
        task.reject(new StorageError(`${this.prefixed()}: apply() refused: ${this.fenced}`));
        continue;
      }
      try {
        undos.push(this.state.apply(task.ops));
      } catch (e: unknown) {
        // A batch that breaks a rule is rejected alone; the others of the group go on.
        task.reject(e instanceof StorageOpError ? e : new StorageError(`${this.prefixed()}: apply() failed: ${this.describeError(e)}`));
        continue;
      }
      group.push(task);
      bytes += task.bytes;
    }
    return { group, undos };
  }

  /** Undoes a group whose write failed, newest batch first. */
  protected rollback(undos: readonly Undo[]): void {
    for (let i = undos.length - 1; i >= 0; i--) undos[i]!();
  }

  private requireOpen(call: string): void {
    if (this.status !== 'open') {
      const why = this.status === 'new' ? 'not yet open' : this.status;
      throw new StorageError(`${this.prefixed()}: ${call}() called while ${why}`);
    }
  }

  /** Reads run in queue order, never while a write is in flight (its batches may be undone). */
  private read<T>(call: string, fn: (s: StorageState) => T): Promise<T> {
    try {
      this.requireOpen(call);
    } catch (e: unknown) {
      return Promise.reject(e);
    }
    const p = new Promise<T>((resolve, reject) => {
      this.queue.push({
        kind: 'read',
        run: () => {
          try {
            resolve(fn(this.state));
          } catch (e: unknown) {
            reject(e);
          }
        },
      });
    });
    this.kick();
    return this.track(p);
  }

}
