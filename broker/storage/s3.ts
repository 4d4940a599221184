// The S3 driver (minio client; MinIO, AWS S3 or any S3-compatible server). Writes are batched into
// objects so that the cost per message stays low, and the state is served from memory:
//
// - apply() calls queue up; whenever no write is in flight, the queued calls are validated and
//   applied to the in-memory state (s3-state.ts) one by one, and those that pass are written
//   together as ONE immutable object `batches/<seq>` (group commit). The calls resolve when the
//   PUT has succeeded; if it fails they all reject and the state is rolled back. The next object
//   reuses the sequence number, so a failed PUT leaves no gap.
// - After `compactAfterBatches` objects (or `compactAfterBytes` bytes) the whole state is written
//   as `snapshots/<seq>`; then the batch objects it covers and older snapshots are deleted.
// - open() reads the newest snapshot and replays the batch objects after it, in order; a missing
//   sequence number or a damaged object fails open() rather than silently losing data.
//
// Consistency and durability model: README.md ("s3"). In short: an apply() that resolved is in an
// object the server acknowledged (on AWS S3: stored redundantly before the PUT returns); the
// driver relies on strong read-after-write and list-after-write consistency (AWS S3 since 2020,
// MinIO, s3rver) and on being the only writer of its prefix.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { StorageError } from './driver.js';
import { decodeBatches, decodeSnapshot, encodeBatches, encodeSnapshot } from './s3-codec.js';
import { batchKey, batchesDir, normalizePrefix, seqOf, snapshotKey, snapshotsDir, writerKey } from './s3-keys.js';
import { minioObjectStore, type ObjectStore, type S3Endpoint } from './s3-object-store.js';
import { StorageState, type Undo } from './s3-state.js';
import { StateBackedStorage, type ApplyTask } from './state-backed-storage.js';

export interface S3StorageOptions extends Partial<S3Endpoint> {
  /** Key prefix of this broker's objects (default "robustmq/storage/"); one writer per prefix. */
  prefix?: string;
  /** Write a snapshot after this many batch objects (default 500). */
  compactAfterBatches?: number;
  /** ... or after this many bytes of batch objects (default 64 MiB). */
  compactAfterBytes?: number;
  /** Queued apply() calls join one object up to about this many bytes (default 8 MiB). */
  maxObjectBytes?: number;
  /** The object store to use instead of a minio client for `endpoint` (tests inject faults). */
  store?: ObjectStore;
}

/** Concurrent GETs while replaying batch objects on open(). */
const FETCH_CONCURRENCY = 8;

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  let text = typeof code === 'string' && !e.message.includes(code) ? `${e.message} [${code}]` : e.message;
  if (e.cause !== undefined) text += `: ${describe(e.cause)}`;
  return text;
}

export class S3Storage extends StateBackedStorage {
  readonly name = 's3';
  /** host:port/bucket/prefix, used in every error message. */
  readonly label: string;
  readonly prefix: string;
  private readonly store: ObjectStore;
  private readonly compactAfterBatches: number;
  private readonly compactAfterBytes: number;
  private readonly maxObjectBytes: number;
  /** Sequence of the last batch object written (0: none yet). */
  private seq = 0;
  private snapshotSeq = 0;
  private batchesSinceSnapshot = 0;
  private bytesSinceSnapshot = 0;
  private writing = false;
  private compaction: Promise<void> | null = null;
  private readonly writerToken = randomBytes(16).toString('hex');

  constructor(opts: S3StorageOptions) {
    super();
    this.prefix = normalizePrefix(opts.prefix ?? 'robustmq/storage/');
    if (opts.store !== undefined) {
      this.store = opts.store;
    } else {
      const { endpoint, bucket, accessKey, secretKey } = opts;
      if (!endpoint || !bucket || accessKey === undefined || secretKey === undefined) {
        throw new TypeError('S3Storage: endpoint, bucket, accessKey and secretKey are required (storage.s3.*)');
      }
      const cfg: S3Endpoint = { endpoint, bucket, accessKey, secretKey };
      if (opts.region !== undefined) cfg.region = opts.region;
      if (opts.pathStyle !== undefined) cfg.pathStyle = opts.pathStyle;
      if (opts.timeoutMs !== undefined) cfg.timeoutMs = opts.timeoutMs;
      this.store = minioObjectStore(cfg);
    }
    this.label = `${this.store.label}/${this.prefix}`;
    this.compactAfterBatches = positive(opts.compactAfterBatches ?? 500, 'compactAfterBatches');
    this.compactAfterBytes = positive(opts.compactAfterBytes ?? 64 * 1024 * 1024, 'compactAfterBytes');
    this.maxObjectBytes = positive(opts.maxObjectBytes ?? 8 * 1024 * 1024, 'maxObjectBytes');
  }

  /** Sequence of the last batch object and of the newest snapshot (for tests and metrics). */
  position(): { seq: number; snapshotSeq: number } {
    return { seq: this.seq, snapshotSeq: this.snapshotSeq };
  }

  /** Resolves once a compaction in progress (if any) has finished. */
  async compacted(): Promise<void> {
    while (this.compaction !== null) await this.compaction;
  }

  // -------------------------------------------------------------------------------------------

  protected get where(): string {
    return this.label;
  }

  protected describeError(e: unknown): string {
    return describe(e);
  }

  protected async connect(): Promise<void> {
    await this.load();
    await this.store.put(
      writerKey(this.prefix),
      Buffer.from(JSON.stringify({ token: this.writerToken, host: hostname(), pid: process.pid, openedAt: new Date().toISOString() })),
    );
  }

  protected opened(): void {
    // Leftovers of a compaction that was interrupted after its snapshot was written.
    this.compaction = this.track(
      this.collect(this.snapshotSeq)
        .catch(() => undefined)
        .finally(() => {
          this.compaction = null;
        }),
    );
  }

  protected release(): void {
    this.store.close();
  }

  protected kick(): void {
    while (!this.writing && this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === 'read') {
        this.queue.shift();
        head.run();
        continue;
      }
      // Batches queued before a fencing are still written: only a later apply() is refused.
      const { group, undos } = this.takeGroup(this.maxObjectBytes, false);
      if (group.length > 0) {
        this.writing = true;
        void this.write(group, undos);
      }
    }
  }

  private async write(group: ApplyTask[], undos: Undo[]): Promise<void> {
    const seq = this.seq + 1;
    const key = batchKey(this.prefix, seq);
    let size = 0;
    try {
      const body = encodeBatches(seq, group.map((t) => t.ops));
      size = body.length;
      await this.store.put(key, body);
    } catch (e: unknown) {
      this.rollback(undos);
      const err = new StorageError(`s3 storage at ${this.label}: apply() could not write ${key}, nothing applied: ${describe(e)}`, {
        cause: e,
      });
      for (const t of group) t.reject(err);
      this.writing = false;
      this.kick();
      return;
    }
    this.seq = seq;
    this.batchesSinceSnapshot++;
    this.bytesSinceSnapshot += size;
    for (const t of group) t.resolve();
    this.writing = false;
    // Here the state is exactly "after batch object seq": the moment to take a snapshot.
    this.maybeCompact();
    this.kick();
  }

  private maybeCompact(): void {
    if (this.compaction !== null || this.status !== 'open') return;
    if (this.batchesSinceSnapshot < this.compactAfterBatches && this.bytesSinceSnapshot < this.compactAfterBytes) return;
    const seq = this.seq;
    const body = encodeSnapshot(seq, this.state);
    this.batchesSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    const run = async (): Promise<void> => {
      try {
        await this.checkWriter();
        await this.store.put(snapshotKey(this.prefix, seq), body);
      } catch {
        // The batch objects still hold everything; try again a quarter of the interval later.
        this.batchesSinceSnapshot = Math.floor((this.compactAfterBatches * 3) / 4);
        return;
      }
      this.snapshotSeq = seq;
      // What this leaves behind if it fails is removed by the next compaction or open().
      await this.collect(seq).catch(() => undefined);
    };
    this.compaction = this.track(
      run().finally(() => {
        this.compaction = null;
      }),
    );
  }

  /** Fences this driver when another one opened the same prefix after it. */
  private async checkWriter(): Promise<void> {
    const raw = await this.store.get(writerKey(this.prefix));
    if (raw === null) return;
    let token: unknown;
    try {
      token = (JSON.parse(raw.toString('utf8')) as { token?: unknown }).token;
    } catch {
      return;
    }
    if (token !== this.writerToken) {
      this.fenced = `another driver opened the prefix after this one (${raw.toString('utf8')}); one writer per prefix`;
      throw new StorageError(`s3 storage at ${this.label}: ${this.fenced}`);
    }
  }

  /**
   * Deletes the batch objects a snapshot covers and the snapshots older than it. The newest
   * covered batch object stays (open() skips it): on servers that store objects as files and
   * remove a directory once it is empty (s3rver), deleting every object under `batches/` would
   * race with the PUT of the next batch into that directory.
   */
  private async collect(snapshotSeq: number): Promise<void> {
    if (snapshotSeq === 0) return;
    const bdir = batchesDir(this.prefix);
    const covered = (await this.store.list(bdir)).filter((n) => {
      const s = seqOf(bdir, n);
      return s !== null && s < snapshotSeq;
    });
    await this.store.remove(covered);
    const sdir = snapshotsDir(this.prefix);
    const older = (await this.store.list(sdir)).filter((n) => {
      const s = seqOf(sdir, n);
      return s !== null && s < snapshotSeq;
    });
    await this.store.remove(older);
  }

  /** Newest snapshot, then every batch object after it, in order. */
  private async load(): Promise<void> {
    const state = new StorageState();
    const sdir = snapshotsDir(this.prefix);
    let snapshotSeq = 0;
    for (const n of await this.store.list(sdir)) snapshotSeq = Math.max(snapshotSeq, seqOf(sdir, n) ?? 0);
    if (snapshotSeq > 0) {
      const name = snapshotKey(this.prefix, snapshotSeq);
      const buf = await this.store.get(name);
      if (buf === null) throw new StorageError(`cannot open s3 storage at ${this.label}: ${name} was listed but cannot be read`);
      this.decode(() => decodeSnapshot(snapshotSeq, buf, name, state));
    }
    const bdir = batchesDir(this.prefix);
    const seqs = (await this.store.list(bdir, batchKey(this.prefix, snapshotSeq)))
      .map((n) => seqOf(bdir, n))
      .filter((s): s is number => s !== null && s > snapshotSeq)
      .sort((a, b) => a - b);
    seqs.forEach((s, i) => {
      if (s !== snapshotSeq + 1 + i) {
        throw new StorageError(
          `cannot open s3 storage at ${this.label}: batch object ${snapshotSeq + 1 + i} is missing (the next one is ${s}); ` +
            'refusing to start without it',
        );
      }
    });
    let bytes = 0;
    // Fetch ahead, apply strictly in order.
    const fetches: Array<Promise<Buffer | null>> = [];
    const fetch = (i: number): void => {
      if (i >= seqs.length) return;
      const p = this.store.get(batchKey(this.prefix, seqs[i]!));
      // Awaited in order below; a failure of one fetched ahead must not go unhandled meanwhile.
      p.catch(() => undefined);
      fetches[i] = p;
    };
    for (let i = 0; i < FETCH_CONCURRENCY; i++) fetch(i);
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      const name = batchKey(this.prefix, seq);
      const buf = await fetches[i]!;
      fetch(i + FETCH_CONCURRENCY);
      if (buf === null) throw new StorageError(`cannot open s3 storage at ${this.label}: ${name} was listed but cannot be read`);
      bytes += buf.length;
      for (const ops of this.decode(() => decodeBatches(seq, buf, name))) {
        this.decode(() => state.apply(ops), `${name} does not apply to the state before it`);
      }
    }
    this.state = state;
    this.snapshotSeq = snapshotSeq;
    this.seq = seqs.length > 0 ? seqs[seqs.length - 1]! : snapshotSeq;
    this.batchesSinceSnapshot = seqs.length;
    this.bytesSinceSnapshot = bytes;
  }

  private decode<T>(fn: () => T, context?: string): T {
    try {
      return fn();
    } catch (e: unknown) {
      const what = context === undefined ? describe(e) : `${context}: ${describe(e)}`;
      throw new StorageError(`cannot open s3 storage at ${this.label}: ${what}`, { cause: e });
    }
  }
}

function positive(n: number, what: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new TypeError(`S3Storage: ${what} must be a positive number`);
  return n;
}
