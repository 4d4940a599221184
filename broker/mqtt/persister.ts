// Group commit in front of the storage driver. Handlers add ops and register callbacks; once per
// event-loop turn the pending ops go to the driver as one batch, and each callback runs when the
// batch holding every op added before it is durable. Callbacks run in registration order, so acks
// leave in the order their packets arrived. While a batch is being written the next one gathers.

import type { StorageDriver, StorageOp, StoredMessage } from '../storage/driver.js';

type Callback = (err: Error | null) => void;

interface Batch {
  ops: StorageOp[];
  callbacks: Callback[];
  messageIds: Set<string>;
}

export class Persister {
  private gathering: Batch = newBatch();
  private writing: Batch | null = null;
  private scheduled = false;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  batches = 0;
  opsWritten = 0;
  failures = 0;

  constructor(private readonly storage: StorageDriver) {}

  add(op: StorageOp): void {
    this.gathering.ops.push(op);
    this.schedule();
  }

  /** Adds `msg.put` unless this batch already stores that message. */
  putMessage(message: StoredMessage): void {
    if (this.gathering.messageIds.has(message.id)) return;
    this.gathering.messageIds.add(message.id);
    this.add({ op: 'msg.put', message });
  }

  /**
   * Runs `cb` once everything added so far is durable; at once when nothing is pending, so the
   * hot path of clean sessions never waits for storage.
   */
  after(cb: Callback): void {
    if (this.gathering.ops.length === 0) {
      if (this.writing === null) {
        cb(null);
        return;
      }
      if (this.gathering.callbacks.length === 0) {
        this.writing.callbacks.push(cb);
        return;
      }
    }
    this.gathering.callbacks.push(cb);
    this.schedule();
  }

  get pending(): boolean {
    return this.writing !== null || this.gathering.ops.length > 0 || this.gathering.callbacks.length > 0;
  }

  /** Resolves when every op added so far has been written (or failed). */
  drain(): Promise<void> {
    if (!this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.schedule();
    });
  }

  close(): void {
    this.closed = true;
  }

  private schedule(): void {
    if (this.scheduled || this.writing !== null) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.writing !== null) return;
    const batch = this.gathering;
    if (batch.ops.length === 0 && batch.callbacks.length === 0) {
      this.wakeIdle();
      return;
    }
    this.gathering = newBatch();
    this.writing = batch;
    const done = (err: Error | null): void => {
      this.writing = null;
      this.batches++;
      this.opsWritten += batch.ops.length;
      if (err) this.failures++;
      for (const cb of batch.callbacks) cb(err);
      if (this.gathering.ops.length > 0 || this.gathering.callbacks.length > 0) this.flush();
      else this.wakeIdle();
    };
    if (batch.ops.length === 0) {
      done(null);
      return;
    }
    if (this.closed) {
      done(new Error('storage is closed'));
      return;
    }
    this.storage.apply(batch.ops).then(
      () => done(null),
      (e: unknown) => done(e instanceof Error ? e : new Error(String(e))),
    );
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function newBatch(): Batch {
  return { ops: [], callbacks: [], messageIds: new Set() };
}
