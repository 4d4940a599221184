// One segment: `<base>.log` plus its in-memory sparse indexes (persisted as `.index` and
// `.timeindex` when sealed or on clean close).
import fs from 'node:fs';
import path from 'node:path';
import { CorruptSegmentError } from './errors.js';
import { fdatasync, fsyncDir, join, readAt, unlinkIfExists, writeFileAtomic } from './fs-io.js';
import { checkBatch, decodeRecords, encodeBatch, readU64, sealBatch, writeU64, type AppendRecord, type BatchHeader, type StoredRecord } from './record-batch.js';
import { INDEX_EXT, LOG_EXT, TIME_INDEX_EXT, TRUNCATE_INTENT_SUFFIX, segmentFileName } from './segment-files.js';
import { OffsetIndex, TimeIndex, encodeOffsetIndex, encodeTimeIndex, type SegmentMeta } from './segment-index.js';

const READ_CHUNK_BYTES = 64 * 1024;
const SCAN_CHUNK_BYTES = 1024 * 1024;

/** `<base>.log.truncate`: u64 cut position, then the re-encoded prefix batch to write there. */
export function encodeTruncateIntent(cut: number, prefix: Buffer): Buffer {
  const b = Buffer.alloc(8 + prefix.length);
  writeU64(b, cut, 0);
  prefix.copy(b, 8);
  return b;
}

/** Redoes an interrupted split-batch truncation; returns false if the intent is unusable. */
export function applyTruncateIntent(logFile: string, intent: Buffer, maxBatchBytes: number): boolean {
  if (intent.length < 8) return false;
  const cut = readU64(intent, 0);
  const prefix = intent.subarray(8);
  const check = checkBatch(prefix, 0, prefix.length, -1, true, maxBatchBytes);
  if (cut < 0 || check.kind !== 'ok' || check.header.length !== prefix.length) return false;
  const fd = fs.openSync(logFile, 'r+');
  try {
    if (fs.fstatSync(fd).size < cut) return false;
    fs.ftruncateSync(fd, cut);
    fs.writeSync(fd, prefix, 0, prefix.length, cut);
    fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

export interface SegmentLimits {
  indexIntervalBytes: number;
  maxBatchBytes: number;
}

export interface ScanFailure {
  position: number;
  reason: string;
}

/** Called for each batch; return false to stop. `buf[off]` is the batch start, `position` its file position. */
export type BatchVisitor = (buf: Buffer, off: number, h: BatchHeader, position: number) => boolean;

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  readonly fd: number;
  size = 0;
  nextOffset: number;
  maxTimestamp = -Infinity;
  firstTimestamp = 0;
  offsetIndex = new OffsetIndex();
  timeIndex = new TimeIndex();
  /** Bytes written since the last fdatasync. */
  dirty = false;
  private bytesSinceOffsetEntry = 0;
  private bytesSinceTimeEntry = 0;
  private closed = false;

  private constructor(
    dir: string,
    baseOffset: number,
    fd: number,
    private readonly limits: SegmentLimits,
  ) {
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.fd = fd;
    this.logPath = join(dir, segmentFileName(baseOffset, LOG_EXT));
    this.indexPath = join(dir, segmentFileName(baseOffset, INDEX_EXT));
    this.timeIndexPath = join(dir, segmentFileName(baseOffset, TIME_INDEX_EXT));
  }

  /** Creates (or empties) `<base>.log`. The caller fsyncs the directory. */
  static create(dir: string, baseOffset: number, limits: SegmentLimits): Segment {
    const fd = fs.openSync(join(dir, segmentFileName(baseOffset, LOG_EXT)), 'w+');
    return new Segment(dir, baseOffset, fd, limits);
  }

  /** Opens an existing log; its state is unknown until `scan` or `adopt` runs. */
  static openExisting(dir: string, baseOffset: number, limits: SegmentLimits): Segment {
    const fd = fs.openSync(join(dir, segmentFileName(baseOffset, LOG_EXT)), 'r+');
    const s = new Segment(dir, baseOffset, fd, limits);
    s.size = fs.fstatSync(fd).size;
    return s;
  }

  get fileSize(): number {
    return fs.fstatSync(this.fd).size;
  }

  get recordCount(): number {
    return this.nextOffset - this.baseOffset;
  }

  meta(): SegmentMeta {
    return {
      baseOffset: this.baseOffset,
      nextOffset: this.nextOffset,
      logSize: this.size,
      maxTimestamp: this.maxTimestamp,
      firstTimestamp: this.firstTimestamp,
    };
  }

  /** Takes state from trusted index files (clean open). */
  adopt(meta: SegmentMeta, offsetIndex: OffsetIndex, timeIndex: TimeIndex): void {
    this.size = meta.logSize;
    this.nextOffset = meta.nextOffset;
    this.maxTimestamp = meta.maxTimestamp;
    this.firstTimestamp = meta.firstTimestamp;
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.bytesSinceOffsetEntry = offsetIndex.n > 0 ? meta.logSize - offsetIndex.pos[offsetIndex.n - 1]! : meta.logSize;
    this.bytesSinceTimeEntry = 0;
  }

  /** Updates size and indexes after a batch landed at `position`. Scans call it too, so a rebuilt index equals the written one. */
  recordBatch(position: number, h: Pick<BatchHeader, 'baseOffset' | 'recordCount' | 'length' | 'firstTimestamp' | 'maxTimestamp'>): void {
    if (this.bytesSinceOffsetEntry >= this.limits.indexIntervalBytes) {
      this.offsetIndex.append(h.baseOffset - this.baseOffset, position);
      this.bytesSinceOffsetEntry = 0;
    }
    this.bytesSinceOffsetEntry += h.length;
    if (position === 0) this.firstTimestamp = h.firstTimestamp;
    if (h.maxTimestamp > this.maxTimestamp) this.maxTimestamp = h.maxTimestamp;
    this.nextOffset = h.baseOffset + h.recordCount;
    this.size = position + h.length;
    this.bytesSinceTimeEntry += h.length;
    if (this.bytesSinceTimeEntry >= this.limits.indexIntervalBytes && this.maxTimestamp > this.timeIndex.lastTimestamp()) {
      this.timeIndex.append(this.maxTimestamp, this.nextOffset - 1 - this.baseOffset);
      this.bytesSinceTimeEntry = 0;
    }
  }

  private resetState(): void {
    this.size = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -Infinity;
    this.firstTimestamp = 0;
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.bytesSinceOffsetEntry = 0;
    this.bytesSinceTimeEntry = 0;
  }

  /**
   * Rebuilds size, offsets and indexes by reading the whole log from byte 0. Stops at the first
   * batch that is torn, fails its structure checks or (if `verifyCrc`) its CRC, and reports where;
   * the state then describes the valid prefix.
   */
  async rebuild(verifyCrc: boolean, onBatch?: BatchVisitor): Promise<ScanFailure | null> {
    const fileSize = this.fileSize;
    this.resetState();
    let pos = 0;
    let chunk: Buffer = Buffer.alloc(0);
    let chunkPos = 0;
    while (pos < fileSize) {
      let off = pos - chunkPos;
      let check = checkBatch(chunk, off, chunk.length - off, this.nextOffset, verifyCrc, this.limits.maxBatchBytes);
      while (check.kind === 'short') {
        if (pos + check.need > fileSize) return { position: pos, reason: `torn batch: needs ${check.need} bytes, ${fileSize - pos} left in file` };
        const want = Math.min(Math.max(SCAN_CHUNK_BYTES, check.need), fileSize - pos);
        chunk = await readAt(this.fd, want, pos);
        if (chunk.length < want) return { position: pos, reason: 'file shrank while scanning' };
        chunkPos = pos;
        off = 0;
        check = checkBatch(chunk, off, chunk.length, this.nextOffset, verifyCrc, this.limits.maxBatchBytes);
      }
      if (check.kind === 'corrupt') return { position: pos, reason: check.reason };
      if (onBatch && !onBatch(chunk, off, check.header, pos)) return { position: pos, reason: 'rejected by scan visitor' };
      this.recordBatch(pos, check.header);
      pos += check.header.length;
    }
    return null;
  }

  /**
   * Visits CRC-checked batches from the index entry at or below `fromOffset` up to `endPos`
   * (defaults to the current size). Throws CorruptSegmentError on any bad batch. If the very first
   * batch at an index position is bad, the index (not the log) may be wrong, so it retries once
   * from byte 0 before blaming the log.
   */
  async visit(fromOffset: number, visitor: BatchVisitor, endPos = this.size): Promise<void> {
    const start = this.offsetIndex.floor(Math.max(0, fromOffset - this.baseOffset));
    try {
      await this.visitFrom(start.pos, this.baseOffset + start.rel, endPos, visitor);
    } catch (e: unknown) {
      if (start.pos > 0 && e instanceof CorruptSegmentError && e.position === start.pos) {
        await this.visitFrom(0, this.baseOffset, endPos, visitor);
        return;
      }
      throw e;
    }
  }

  private async visitFrom(pos: number, expected: number, endPos: number, visitor: BatchVisitor): Promise<void> {
    let chunk: Buffer = Buffer.alloc(0);
    let chunkPos = pos;
    while (pos < endPos) {
      let off = pos - chunkPos;
      let check = checkBatch(chunk, off, chunk.length - off, expected, true, this.limits.maxBatchBytes);
      while (check.kind === 'short') {
        if (pos + check.need > endPos) throw this.corrupt(pos, 'batch runs past the end of the log');
        const want = Math.min(Math.max(READ_CHUNK_BYTES, check.need), endPos - pos);
        chunk = await readAt(this.fd, want, pos);
        if (chunk.length < want) throw this.corrupt(pos, 'log file shorter than expected');
        chunkPos = pos;
        off = 0;
        check = checkBatch(chunk, off, chunk.length, expected, true, this.limits.maxBatchBytes);
      }
      if (check.kind === 'corrupt') throw this.corrupt(pos, check.reason);
      if (!visitor(chunk, off, check.header, pos)) return;
      expected = check.header.baseOffset + check.header.recordCount;
      pos += check.header.length;
    }
  }

  corrupt(position: number, reason: string): CorruptSegmentError {
    return new CorruptSegmentError({ file: this.logPath, position, reason });
  }

  /**
   * Appends records with offsets in [fromOffset, ...) to `out`, honouring the caps. Returns the
   * byte total and whether a cap stopped it.
   */
  async readRecords(fromOffset: number, maxRecords: number, maxBytes: number, out: StoredRecord[], bytes: number): Promise<{ bytes: number; full: boolean }> {
    let full = false;
    await this.visit(fromOffset, (buf, off, h, position) => {
      if (h.baseOffset + h.recordCount <= fromOffset) return true;
      const before = out.length;
      try {
        bytes = decodeRecords(buf, off, h, fromOffset, out, maxRecords, maxBytes, bytes);
      } catch (e: unknown) {
        out.length = before;
        throw this.corrupt(position, `record framing: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (out.length - before < h.baseOffset + h.recordCount - Math.max(fromOffset, h.baseOffset) || out.length >= maxRecords) {
        full = true;
        return false;
      }
      return true;
    });
    return { bytes, full };
  }

  /** Cuts the segment so that `offset` becomes its next offset, re-encoding a split batch. */
  async truncateTo(offset: number): Promise<void> {
    if (offset <= this.baseOffset) {
      fs.ftruncateSync(this.fd, 0);
      this.resetState();
      this.dirty = true;
      return;
    }
    let cut = -1;
    let prefix: Buffer | null = null;
    await this.visit(offset, (buf, off, h, position) => {
      if (h.baseOffset + h.recordCount <= offset) return true;
      cut = position;
      if (offset > h.baseOffset) {
        const recs: StoredRecord[] = [];
        decodeRecords(buf, off, h, h.baseOffset, recs, offset - h.baseOffset, Infinity, 0);
        const keep: AppendRecord[] = recs.map((r) => ({ value: r.value, key: r.key ?? null, headers: r.headers ?? [], timestamp: r.timestamp }));
        const enc = encodeBatch(keep, 0, Number.MAX_SAFE_INTEGER);
        sealBatch(enc, h.baseOffset);
        prefix = enc.buf;
      }
      return false;
    });
    if (cut < 0) return;
    const intent = `${this.logPath}${TRUNCATE_INTENT_SUFFIX}`;
    if (prefix !== null) {
      // Rewriting a split batch in place is not atomic; the intent file lets open() redo it.
      await writeFileAtomic(intent, encodeTruncateIntent(cut, prefix));
      await fsyncDir(path.dirname(this.logPath));
    }
    fs.ftruncateSync(this.fd, cut);
    if (prefix !== null) {
      fs.writeSync(this.fd, prefix, 0, (prefix as Buffer).length, cut);
      await fdatasync(this.fd);
      // The caller fsyncs the directory before reporting success, so the intent cannot
      // reappear after later appends and cut them off.
      await unlinkIfExists(intent);
    }
    this.dirty = true;
    const failure = await this.rebuild(true);
    if (failure) throw this.corrupt(failure.position, `after truncation: ${failure.reason}`);
  }

  async sync(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await fdatasync(this.fd);
    } catch (e: unknown) {
      this.dirty = true;
      throw e;
    }
  }

  /** Persists both indexes (temp + rename). The caller fsyncs the directory. */
  async writeIndexes(): Promise<void> {
    const meta = this.meta();
    await writeFileAtomic(this.indexPath, encodeOffsetIndex(meta, this.offsetIndex));
    await writeFileAtomic(this.timeIndexPath, encodeTimeIndex(meta, this.timeIndex));
  }

  async deleteIndexFiles(): Promise<void> {
    await unlinkIfExists(this.indexPath);
    await unlinkIfExists(this.timeIndexPath);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

