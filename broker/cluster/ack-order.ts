// Acknowledgements of one publisher in the order its PUBLISH packets arrived [MQTT-4.6.0-2],
// although a forwarded message waits for remote brokers and a local one only for local storage.
// While nothing of a connection waits remotely its callbacks go straight to the persister (whose
// callbacks already run in order), so the common case allocates nothing.

import type { Persister } from '../mqtt/persister.js';
import type { PendingBatch } from './peer-link.js';

type Callback = (err: Error | null) => void;

interface Entry {
  done: boolean;
  err: Error | null;
  cb: Callback;
}

export class AckOrder {
  private readonly queues = new WeakMap<object, Entry[]>();

  constructor(private readonly persister: Persister) {}

  /** Runs `cb` when local storage and every batch in `remote` are done, after earlier callbacks of `conn`. */
  after(conn: object, remote: readonly PendingBatch[] | null, cb: Callback): void {
    const queue = this.queues.get(conn);
    if (remote === null && (queue === undefined || queue.length === 0)) {
      this.persister.after(cb);
      return;
    }
    const entry: Entry = { done: false, err: null, cb };
    let q = queue;
    if (q === undefined) this.queues.set(conn, (q = []));
    q.push(entry);
    let pending = 1 + (remote?.length ?? 0);
    const one = (err: Error | null): void => {
      if (err !== null && entry.err === null) entry.err = err;
      if (--pending > 0) return;
      entry.done = true;
      this.release(q);
    };
    this.persister.after(one);
    if (remote !== null) for (const b of remote) b.wait(one);
  }

  private release(q: Entry[]): void {
    while (q.length > 0 && q[0]!.done) {
      const e = q.shift()!;
      e.cb(e.err);
    }
  }
}
