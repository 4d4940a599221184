// The open/close life of a driver that holds one handle (a LevelDB database, a MySQL pool):
// states new -> opening -> open -> closing -> closed, calls refused with a StorageError naming the
// state, apply() calls run one after another in call order, and close() waits for every call in
// progress before closing the handle. Idempotent close; open() of an open driver does nothing.

import { StorageError } from './driver.js';

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

export class DriverLifecycle<H> {
  private state: State = 'new';
  private handle: H | null = null;
  private closing: Promise<void> | null = null;
  /** apply() calls run one after another, in call order. */
  private tail: Promise<void> = Promise.resolve();
  private readonly inflight = new Set<Promise<unknown>>();

  /** `label` starts every error message, e.g. "leveldb storage at /data". */
  constructor(private readonly label: string) {}

  /** Opens with `open` unless already open; a failed open leaves the driver closed. */
  async open(open: () => Promise<H>): Promise<void> {
    if (this.state === 'open') return;
    if (this.state === 'opening' || this.state === 'closing') {
      throw new StorageError(`${this.label}: open() while ${this.state}`);
    }
    this.state = 'opening';
    try {
      this.handle = await open();
    } catch (e: unknown) {
      this.state = 'closed';
      throw e;
    }
    this.state = 'open';
  }

  /** Waits for every call in progress, then closes the handle with `close`. Idempotent. */
  close(close: (handle: H) => Promise<void>, describe: (e: unknown) => string): Promise<void> {
    if (this.closing !== null) return this.closing;
    const handle = this.handle;
    if (this.state !== 'open' || handle === null) {
      if (this.state === 'new') this.state = 'closed';
      return Promise.resolve();
    }
    this.state = 'closing';
    this.closing = (async () => {
      try {
        await Promise.allSettled([...this.inflight]);
        await close(handle);
      } catch (e: unknown) {
        throw new StorageError(`${this.label}: close failed: ${describe(e)}`, { cause: e });
      } finally {
        this.handle = null;
        this.state = 'closed';
        this.closing = null;
      }
    })();
    return this.closing;
  }

  /** Runs `body` with the handle, tracked so close() waits for it; rejects while not open. */
  run<T>(call: string, body: (handle: H) => Promise<T>): Promise<T> {
    let handle: H;
    try {
      handle = this.require(call);
    } catch (e: unknown) {
      return Promise.reject(e);
    }
    const p = body(handle);
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** Like run(), after every earlier serial() call has settled (apply order). */
  serial(call: string, body: (handle: H) => Promise<void>): Promise<void> {
    return this.run(call, (handle) => {
      const p = this.tail.then(() => body(handle));
      this.tail = p.catch(() => undefined);
      return p;
    });
  }

  private require(call: string): H {
    if (this.state !== 'open' || this.handle === null) {
      const why = this.state === 'new' ? 'not yet open' : this.state;
      throw new StorageError(`${this.label}: ${call}() called while ${why}`);
    }
    return this.handle;
  }
}
