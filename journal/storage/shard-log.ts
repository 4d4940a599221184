// ShardLog: the local, segmented, indexed append-only log of one shard.
//
// Concurrency model: every mutation (append groups, truncateTo, applyRetention, flush, close)
// runs in one FIFO pipeline, so offsets are assigned in call order and a truncation or retention
// never interleaves with a write. Reads run concurrently with appends (they only look below
// the log end they saw when they started) and take a shared lock that truncation, retention and
// close take exclusively.
//
// Group commit: appends that queue up while the pipeline is busy (typically during an fsync)
// are written together with one writev and share the next fsync.
import fs from 'node:fs';
import { JournalStorageError } from './errors.js';
import { fsyncDir, join, unlinkIfExists, writeFileAtomic, writevAllSync } from './fs-io.js';
import { resolveShardLogOptions, type ShardLogOptions } from './options.js';
import { decodeRecords, encodeBatch, sealBatch, type AppendRecord, type EncodedBatch, type StoredRecord } from './record-batch.js';
import { encodeCleanMarker, openSegments, type RecoveryReport } from './recovery.js';
import { RwLock } from './rw-lock.js';
import { Segment, type SegmentLimits } from './segment.js';
import { CLEAN_SHUTDOWN_FILE } from './segment-files.js';
import { acquireShardLock } from './shard-lock.js';

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

export interface AppendOptions {
  /** Refuse (JR_OFFSET_MISMATCH) unless the batch would start exactly here; followers use it. */
  expectedBaseOffset?: number;
}

export interface ReadQuery {
  offset: number;
  /** Default 500. */
  maxRecords?: number;
  /** Cap on the summed encoded record sizes; at least one record is returned if any exists. Default 1 MiB. */
  maxBytes?: number;
  /** Exclusive upper bound, e.g. a replication high watermark. Default: the log end. */
  maxOffset?: number;
}

export interface RetentionResult {
  deletedSegments: number[];
  earliestOffset: number;
}

/** Counters since open (for metrics, and to observe group commit). */
export interface ShardLogStats {
  appends: number;
  records: number;
  /** writev calls on log files. */
  writes: number;
  /** fdatasync calls on the active segment (rolls excluded). */
  fsyncs: number;
  rolls: number;
}

export interface SegmentInfo {
  baseOffset: number;
  nextOffset: number;
  sizeBytes: number;
  /** null when the segment is empty. */
  maxTimestamp: number | null;
}

type AppendOp = {
  kind: 'append';
  enc: EncodedBatch;
  expectedBaseOffset: number | undefined;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
};
type ControlOp = { kind: 'control'; run: () => Promise<unknown>; resolve: (v: unknown) => void; reject: (e: unknown) => void };
type Op = AppendOp | ControlOp;

/** Linux IOV_MAX; larger groups are written in several writev calls. */
const MAX_IOV = 1024;

function checkOffsetArg(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new JournalStorageError('JR_INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${String(v)}`, { [name]: v });
  }
  return v;
}

export class ShardLog {
  readonly dir: string;
  readonly options: Readonly<ShardLogOptions>;
  /** What open() found and did. */
  readonly recovery: RecoveryReport;
  private segments: Segment[];
  private readonly limits: SegmentLimits;
  private readonly keyMap: Map<string, number> | null;
  private readonly lock = new RwLock();
  private readonly releaseDirLock: () => void;
  private queue: Op[] = [];
  private pumping = false;
  private failure: JournalStorageError | null = null;
  private closePromise: Promise<void> | null = null;
  private closed = false;
  private durable: number;
  private syncTimer: NodeJS.Timeout | null = null;
  private lastSyncAt = performance.now();
  private readonly counters: ShardLogStats = { appends: 0, records: 0, writes: 0, fsyncs: 0, rolls: 0 };

  private constructor(dir: string, options: Readonly<ShardLogOptions>, limits: SegmentLimits, segments: Segment[], recovery: RecoveryReport, keyMap: Map<string, number> | null, release: () => void) {
    this.dir = dir;
    this.options = options;
    this.limits = limits;
    this.segments = segments;
    this.recovery = recovery;
    this.keyMap = keyMap;
    this.releaseDirLock = release;
    this.durable = this.nextOffset();
    if (options.fsync === 'interval') {
      this.syncTimer = setInterval(() => {
        if (this.active.dirty && this.queue.length === 0) void this.flush().catch(() => undefined);
      }, options.fsync_interval_ms);
      this.syncTimer.unref();
    }
  }

  /** Opens (creating if needed) the shard directory, recovering after an unclean stop. */
  static async open(dir: string, opts: Partial<ShardLogOptions> = {}): Promise<ShardLog> {
    const options = resolveShardLogOptions(opts);
    await fs.promises.mkdir(dir, { recursive: true });
    const release = acquireShardLock(dir);
    try {
      const limits: SegmentLimits = { indexIntervalBytes: options.index_interval_bytes, maxBatchBytes: options.max_batch_bytes };
      const keyMap = options.key_index ? new Map<string, number>() : null;
      const { segments, report } = await openSegments(dir, limits, keyMap);
      return new ShardLog(dir, options, limits, segments, report, keyMap, release);
    } catch (e: unknown) {
      release();
      throw e;
    }
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** First offset still stored (retention moves it forward). */
  earliestOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  /** One past the last written record: the offset the next append gets. */
  nextOffset(): number {
    return this.active.nextOffset;
  }

  /** One past the last record known fsynced (equals nextOffset after each append under fsync 'always'). */
  durableOffset(): number {
    return this.durable;
  }

  segmentInfo(): SegmentInfo[] {
    return this.segments.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.size,
      maxTimestamp: s.maxTimestamp === -Infinity ? null : s.maxTimestamp,
    }));
  }

  stats(): ShardLogStats {
    return { ...this.counters };
  }

  sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  private assertOpen(): void {
    if (this.closePromise !== null) throw new JournalStorageError('JR_CLOSED', `shard log ${this.dir} is closed`);
  }

  /**
   * Appends one batch; its records get consecutive offsets. Resolves once the batch is written
   * and, under fsync 'always', fsynced. Validation errors reject before anything is queued.
   */
  append(records: readonly AppendRecord[], opts: AppendOptions = {}): Promise<AppendResult> {
    try {
      this.assertOpen();
      if (this.failure) throw this.failure;
      if (opts.expectedBaseOffset !== undefined) checkOffsetArg('expectedBaseOffset', opts.expectedBaseOffset);
      const enc = encodeBatch(records, this.options.clock(), this.options.max_batch_bytes);
      return new Promise<AppendResult>((resolve, reject) => {
        this.queue.push({ kind: 'append', enc, expectedBaseOffset: opts.expectedBaseOffset, resolve, reject });
        this.pump();
      });
    } catch (e: unknown) {
      return Promise.reject(e);
    }
  }

  private control<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: 'control', run, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.kind === 'control') {
          this.queue.shift();
          try {
            head.resolve(await head.run());
          } catch (e: unknown) {
            head.reject(e);
          }
          continue;
        }
        const group: AppendOp[] = [];
        while (this.queue.length > 0 && this.queue[0]!.kind === 'append') group.push(this.queue.shift() as AppendOp);
        await this.writeGroup(group);
      }
    } finally {
      this.pumping = false;
    }
  }

  private async writeGroup(group: AppendOp[]): Promise<void> {
    if (this.failure) {
      for (const op of group) op.reject(this.failure);
      return;
    }
    const done: { op: AppendOp; result: AppendResult }[] = [];
    try {
      let bufs: Buffer[] = [];
      let pending: { pos: number; enc: EncodedBatch; base: number }[] = [];
      let writePos = this.active.size;
      let next = this.active.nextOffset;
      const flush = (): void => {
        if (bufs.length === 0) return;
        const seg = this.active;
        writevAllSync(seg.fd, bufs, seg.size);
        seg.dirty = true;
        this.counters.writes++;
        for (const p of pending) {
          seg.recordBatch(p.pos, { baseOffset: p.base, recordCount: p.enc.recordCount, length: p.enc.buf.length, firstTimestamp: p.enc.firstTimestamp, maxTimestamp: p.enc.maxTimestamp });
          if (this.keyMap) {
            for (let i = 0; i < p.enc.keys.length; i++) {
              const k = p.enc.keys[i];
              if (k !== undefined) this.keyMap.set(k, p.base + i);
            }
          }
        }
        bufs = [];
        pending = [];
      };
      for (const op of group) {
        if (op.expectedBaseOffset !== undefined && op.expectedBaseOffset !== next) {
          op.reject(new JournalStorageError('JR_OFFSET_MISMATCH', `batch expected at ${op.expectedBaseOffset}, log ends at ${next}`, { expected: op.expectedBaseOffset, nextOffset: next }));
          continue;
        }
        const len = op.enc.buf.length;
        if (writePos > 0 && (writePos + len > this.options.segment_bytes || op.enc.maxTimestamp - this.active.firstTimestamp >= this.options.segment_ms)) {
          flush();
          await this.roll();
          writePos = 0;
        }
        sealBatch(op.enc, next);
        bufs.push(op.enc.buf);
        pending.push({ pos: writePos, enc: op.enc, base: next });
        done.push({ op, result: { baseOffset: next, lastOffset: next + op.enc.recordCount - 1 } });
        this.counters.appends++;
        this.counters.records += op.enc.recordCount;
        next += op.enc.recordCount;
        writePos += len;
        if (bufs.length >= MAX_IOV) flush();
      }
      flush();
      if (this.options.fsync === 'always') await this.syncNow();
      else if (this.options.fsync === 'interval' && performance.now() - this.lastSyncAt >= this.options.fsync_interval_ms) {
        // Under sustained load the idle timer never fires; the pipeline keeps the promise instead.
        for (const d of done) d.op.resolve(d.result);
        done.length = 0;
        await this.syncNow();
      }
    } catch (e: unknown) {
      // After a failed write or fsync the file content is unknown (fsyncgate): stop writing
      // until a reopen runs recovery.
      this.failure = new JournalStorageError('JR_IO_ERROR', `write to ${this.dir} failed: ${e instanceof Error ? e.message : String(e)}`, {}, e);
      for (const d of done) d.op.reject(this.failure);
      for (const op of group) if (!done.some((d) => d.op === op)) op.reject(this.failure);
      return;
    }
    for (const d of done) d.op.resolve(d.result);
  }

  private async syncNow(): Promise<void> {
    const end = this.nextOffset();
    this.lastSyncAt = performance.now();
    if (this.active.dirty) this.counters.fsyncs++;
    await this.active.sync();
    if (end > this.durable) this.durable = end;
  }

  /** Seals the active segment (fsync + index files) and starts a new one at its next offset. */
  private async roll(): Promise<void> {
    const old = this.active;
    // Sealed segments are always durable, whatever the fsync policy: recovery then walks their
    // headers instead of verifying every CRC, and only the active segment can be torn.
    await old.sync();
    this.durable = Math.max(this.durable, old.nextOffset);
    await old.writeIndexes();
    const seg = Segment.create(this.dir, old.nextOffset, this.limits);
    this.segments = [...this.segments, seg];
    this.counters.rolls++;
    await fsyncDir(this.dir);
  }

  /** fsyncs whatever was written so far (useful with fsync 'interval' or 'never'). */
  flush(): Promise<void> {
    try {
      this.assertOpen();
    } catch (e: unknown) {
      return Promise.reject(e);
    }
    return this.control(async () => {
      if (this.failure) throw this.failure;
      await this.syncNow();
    });
  }

  /**
   * Records from `offset`, in order, dense. Throws JR_OFFSET_OUT_OF_RANGE outside
   * [earliestOffset, nextOffset] and JR_CORRUPT_SEGMENT (naming file and byte position) when a
   * batch on the way fails its checks; corrupt bytes are never returned.
   */
  async read(q: ReadQuery): Promise<StoredRecord[]> {
    if (q === null || typeof q !== 'object') throw new JournalStorageError('JR_INVALID_ARGUMENT', 'read needs { offset, maxRecords?, maxBytes?, maxOffset? }');
    const offset = checkOffsetArg('offset', q.offset);
    const maxRecords = q.maxRecords ?? 500;
    const maxBytes = q.maxBytes ?? 1024 * 1024;
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new JournalStorageError('JR_INVALID_ARGUMENT', `maxRecords must be a positive integer, got ${String(maxRecords)}`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new JournalStorageError('JR_INVALID_ARGUMENT', `maxBytes must be a positive integer, got ${String(maxBytes)}`);
    if (q.maxOffset !== undefined) checkOffsetArg('maxOffset', q.maxOffset);
    this.assertOpen();
    return this.lock.shared(() => this.readLocked(offset, maxRecords, maxBytes, q.maxOffset));
  }

  private async readLocked(offset: number, maxRecords: number, maxBytes: number, maxOffset: number | undefined): Promise<StoredRecord[]> {
    if (this.closed) throw new JournalStorageError('JR_CLOSED', `shard log ${this.dir} is closed`);
    const segs = this.segments;
    const earliest = segs[0]!.baseOffset;
    const next = segs[segs.length - 1]!.nextOffset;
    if (offset < earliest || offset > next) {
      throw new JournalStorageError('JR_OFFSET_OUT_OF_RANGE', `offset ${offset} outside [${earliest}, ${next}]`, { offset, earliestOffset: earliest, nextOffset: next });
    }
    const end = Math.min(next, maxOffset ?? next);
    if (offset >= end) return [];
    const cap = Math.min(maxRecords, end - offset);
    const out: StoredRecord[] = [];
    let bytes = 0;
    for (let i = this.segmentIndexFor(segs, offset); i < segs.length && out.length < cap; i++) {
      const from = out.length > 0 ? out[out.length - 1]!.offset + 1 : offset;
      const r = await segs[i]!.readRecords(from, cap, maxBytes, out, bytes);
      bytes = r.bytes;
      if (r.full) break;
    }
    return out;
  }

  private segmentIndexFor(segs: readonly Segment[], offset: number): number {
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (segs[mid]!.baseOffset <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The first offset whose record timestamp is >= ts, or null if no stored record is that new. */
  async offsetForTime(ts: number): Promise<number | null> {
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts)) throw new JournalStorageError('JR_INVALID_ARGUMENT', `timestamp must be an integer, got ${String(ts)}`);
    this.assertOpen();
    return this.lock.shared(async () => {
      for (const seg of this.segments) {
        if (seg.maxTimestamp < ts) continue;
        const from = seg.baseOffset + seg.timeIndex.scanStart(ts);
        let found: number | null = null;
        await seg.visit(from, (buf, off, h, position) => {
          if (h.baseOffset + h.recordCount <= from || h.maxTimestamp < ts) return true;
          const recs: StoredRecord[] = [];
          try {
            decodeRecords(buf, off, h, from, recs, Infinity, Infinity, 0);
          } catch (e: unknown) {
            throw seg.corrupt(position, `record framing: ${e instanceof Error ? e.message : String(e)}`);
          }
          const hit = recs.find((r) => r.timestamp >= ts);
          if (hit === undefined) return true;
          found = hit.offset;
          return false;
        });
        if (found !== null) return found;
      }
      return null;
    });
  }

  /** The latest stored record with this key, or null. Needs `key_index: true`. */
  async readByKey(key: Uint8Array): Promise<StoredRecord | null> {
    if (!(key instanceof Uint8Array)) throw new JournalStorageError('JR_INVALID_ARGUMENT', 'key must be a Buffer/Uint8Array');
    if (this.keyMap === null) throw new JournalStorageError('JR_KEY_INDEX_DISABLED', `shard log ${this.dir} was opened without key_index`);
    this.assertOpen();
    const k = Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
    return this.lock.shared(async () => {
      const offset = this.keyMap!.get(k);
      if (offset === undefined) return null;
      if (offset < this.earliestOffset() || offset >= this.nextOffset()) {
        this.keyMap!.delete(k);
        return null;
      }
      const recs = await this.readLocked(offset, 1, 1, undefined);
      return recs[0] ?? null;
    });
  }

  /**
   * Removes every record at or after `offset` (a follower truncating to the leader epoch
   * boundary). offset must lie in [earliestOffset, nextOffset]. Durable when it resolves.
   */
  truncateTo(offset: number): Promise<void> {
    try {
      checkOffsetArg('offset', offset);
      this.assertOpen();
    } catch (e: unknown) {
      return Promise.reject(e);
    }
    return this.control(() =>
      this.lock.exclusive(async () => {
        if (this.failure) throw this.failure;
        const earliest = this.earliestOffset();
        const next = this.nextOffset();
        if (offset < earliest || offset > next) {
          throw new JournalStorageError('JR_OFFSET_OUT_OF_RANGE', `cannot truncate to ${offset}: log holds [${earliest}, ${next})`, { offset, earliestOffset: earliest, nextOffset: next });
        }
        if (offset === next) return;
        // Whole segments go first, newest first, so a crash midway leaves a clean prefix.
        while (this.segments.length > 1 && this.active.baseOffset >= offset) {
          const seg = this.active;
          this.segments = this.segments.slice(0, -1);
          seg.close();
          await unlinkIfExists(seg.logPath);
          await seg.deleteIndexFiles();
        }
        const seg = this.active;
        await seg.deleteIndexFiles();
        await seg.truncateTo(offset);
        await seg.sync();
        await fsyncDir(this.dir);
        this.durable = Math.min(this.durable, offset);
        if (this.keyMap) await this.rebuildKeyMap();
      }),
    );
  }

  private async rebuildKeyMap(): Promise<void> {
    const map = this.keyMap!;
    map.clear();
    for (const seg of this.segments) {
      await seg.visit(seg.baseOffset, (buf, off, h) => {
        const recs: StoredRecord[] = [];
        decodeRecords(buf, off, h, h.baseOffset, recs, Infinity, Infinity, 0);
        for (const r of recs) if (r.key !== undefined) map.set(r.key.toString('latin1'), r.offset);
        return true;
      });
    }
  }

  /**
   * Deletes whole sealed segments from the oldest: while the oldest's newest record is older than
   * `now - retention_ms`, or while the remaining segments alone still hold at least
   * `retention_bytes` (Kafka's rule). The active segment is never deleted.
   */
  applyRetention(now: number = this.options.clock()): Promise<RetentionResult> {
    try {
      this.assertOpen();
      if (!Number.isSafeInteger(now)) throw new JournalStorageError('JR_INVALID_ARGUMENT', `now must be an integer, got ${String(now)}`);
    } catch (e: unknown) {
      return Promise.reject(e);
    }
    return this.control(() =>
      this.lock.exclusive(async () => {
        const { retention_ms: ms, retention_bytes: bytes } = this.options;
        const deleted: number[] = [];
        let total = this.sizeBytes();
        while (this.segments.length > 1) {
          const seg = this.segments[0]!;
          const byAge = ms >= 0 && seg.maxTimestamp < now - ms;
          const bySize = bytes >= 0 && total - seg.size >= bytes;
          if (!byAge && !bySize) break;
          this.segments = this.segments.slice(1);
          seg.close();
          // Log first: a crash between the unlinks leaves orphan index files, which open() removes.
          await unlinkIfExists(seg.logPath);
          await seg.deleteIndexFiles();
          total -= seg.size;
          deleted.push(seg.baseOffset);
        }
        if (deleted.length > 0) {
          await fsyncDir(this.dir);
          if (this.keyMap) {
            const earliest = this.earliestOffset();
            for (const [k, o] of this.keyMap) if (o < earliest) this.keyMap.delete(k);
          }
        }
        return { deletedSegments: deleted, earliestOffset: this.earliestOffset() };
      }),
    );
  }

  /**
   * Waits for queued appends, fsyncs, writes the active segment's indexes and the clean-shutdown
   * marker (so the next open skips recovery), and releases the directory.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.syncTimer) clearInterval(this.syncTimer);
    const p = this.control(() =>
      this.lock.exclusive(async () => {
        try {
          if (!this.failure) {
            await this.syncNow();
            await this.active.writeIndexes();
            await fsyncDir(this.dir);
            await writeFileAtomic(join(this.dir, CLEAN_SHUTDOWN_FILE), encodeCleanMarker(this.segments));
            await fsyncDir(this.dir);
          }
        } finally {
          this.closed = true;
          for (const s of this.segments) s.close();
          this.releaseDirLock();
        }
      }),
    );
    this.closePromise = p;
    return p;
  }
}
