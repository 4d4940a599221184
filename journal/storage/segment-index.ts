// Sparse per-segment indexes, held in memory and written whole (temp file + rename) when a
// segment is sealed or the log closes cleanly.
//
// Index file layout (little-endian), shared by `.index` and `.timeindex`:
//   0  u32 magic        'JIX1' (offset index) or 'JTX1' (time index)
//   4  u32 crc          CRC-32C over bytes [8, end)
//   8  u64 baseOffset   the segment's base offset
//   16 u64 nextOffset   one past the segment's last record
//   24 u64 logSize      byte size of the `.log` the index describes
//   32 i64 maxTimestamp largest record timestamp (MIN_SAFE_INTEGER if the segment is empty)
//   40 i64 firstTimestamp timestamp of the first record (drives segment_ms)
//   48 u32 entryCount
//   52 u32 reserved
//   56 entries: `.index` (u32 relativeOffset, u32 position); `.timeindex` (i64 timestamp, u32 relativeOffset)
//
// The header ties an index to the exact log bytes it was built from, so an index is trusted only
// when its CRC holds and logSize/nextOffset match the log; anything else means rebuild.
import { crc32c } from './crc32c.js';
import { readU64, writeU64 } from './record-batch.js';

const OFFSET_MAGIC = 0x3158494a; // 'JIX1'
const TIME_MAGIC = 0x3158544a; // 'JTX1'
export const INDEX_HEADER_BYTES = 56;
const EMPTY_TS = Number.MIN_SAFE_INTEGER;

export interface SegmentMeta {
  baseOffset: number;
  nextOffset: number;
  logSize: number;
  /** -Infinity for an empty segment. */
  maxTimestamp: number;
  firstTimestamp: number;
}

function grow<T extends Uint32Array | Float64Array>(a: T, n: number): T {
  if (n < a.length) return a;
  const b = new (a.constructor as new (len: number) => T)(Math.max(16, a.length * 2));
  b.set(a);
  return b;
}

/** relative offset → byte position of the batch whose base offset is that offset. */
export class OffsetIndex {
  rel = new Uint32Array(16);
  pos = new Uint32Array(16);
  n = 0;

  append(rel: number, pos: number): void {
    this.rel = grow(this.rel, this.n);
    this.pos = grow(this.pos, this.n);
    this.rel[this.n] = rel;
    this.pos[this.n] = pos;
    this.n++;
  }

  /** The last entry with rel <= target, or {rel: 0, pos: 0} (a segment starts with a batch). */
  floor(targetRel: number): { rel: number; pos: number } {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rel[mid]! <= targetRel) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? { rel: 0, pos: 0 } : { rel: this.rel[found]!, pos: this.pos[found]! };
  }

  /** Drops entries that point at or beyond `position`. */
  truncateToPosition(position: number): void {
    while (this.n > 0 && this.pos[this.n - 1]! >= position) this.n--;
  }

  /** Entries strictly increase in both fields, and stay inside the log. */
  isWellFormed(logSize: number, recordCount: number): boolean {
    for (let i = 0; i < this.n; i++) {
      if (this.pos[i]! >= logSize || this.rel[i]! >= recordCount) return false;
      if (i > 0 && (this.rel[i]! <= this.rel[i - 1]! || this.pos[i]! <= this.pos[i - 1]!)) return false;
    }
    return true;
  }
}

/**
 * Entry (T, rel): every record at relative offset <= rel has timestamp <= T, and T is the
 * largest so far. So the first record with timestamp >= ts lies after the last entry with T < ts,
 * which makes lookups exact even when timestamps are not monotonic.
 */
export class TimeIndex {
  ts = new Float64Array(16);
  rel = new Uint32Array(16);
  n = 0;

  lastTimestamp(): number {
    return this.n === 0 ? -Infinity : this.ts[this.n - 1]!;
  }

  append(ts: number, rel: number): void {
    this.ts = grow(this.ts, this.n);
    this.rel = grow(this.rel, this.n);
    this.ts[this.n] = ts;
    this.rel[this.n] = rel;
    this.n++;
  }

  /** Relative offset to start scanning from for the first record with timestamp >= ts. */
  scanStart(ts: number): number {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid]! < ts) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? 0 : this.rel[found]! + 1;
  }

  truncateToRel(rel: number): void {
    while (this.n > 0 && this.rel[this.n - 1]! >= rel) this.n--;
  }

  isWellFormed(recordCount: number, maxTimestamp: number): boolean {
    for (let i = 0; i < this.n; i++) {
      if (this.rel[i]! >= recordCount || this.ts[i]! > maxTimestamp) return false;
      if (i > 0 && (this.rel[i]! <= this.rel[i - 1]! || this.ts[i]! <= this.ts[i - 1]!)) return false;
    }
    return true;
  }
}

function header(magic: number, meta: SegmentMeta, count: number, entryBytes: number): Buffer {
  const buf = Buffer.alloc(INDEX_HEADER_BYTES + count * entryBytes);
  buf.writeUInt32LE(magic, 0);
  writeU64(buf, meta.baseOffset, 8);
  writeU64(buf, meta.nextOffset, 16);
  writeU64(buf, meta.logSize, 24);
  buf.writeBigInt64LE(BigInt(meta.maxTimestamp === -Infinity ? EMPTY_TS : meta.maxTimestamp), 32);
  buf.writeBigInt64LE(BigInt(meta.firstTimestamp), 40);
  buf.writeUInt32LE(count, 48);
  return buf;
}

export function encodeOffsetIndex(meta: SegmentMeta, idx: OffsetIndex): Buffer {
  const buf = header(OFFSET_MAGIC, meta, idx.n, 8);
  for (let i = 0; i < idx.n; i++) {
    buf.writeUInt32LE(idx.rel[i]!, INDEX_HEADER_BYTES + i * 8);
    buf.writeUInt32LE(idx.pos[i]!, INDEX_HEADER_BYTES + i * 8 + 4);
  }
  buf.writeUInt32LE(crc32c(buf, 8), 4);
  return buf;
}

export function encodeTimeIndex(meta: SegmentMeta, idx: TimeIndex): Buffer {
  const buf = header(TIME_MAGIC, meta, idx.n, 12);
  for (let i = 0; i < idx.n; i++) {
    buf.writeBigInt64LE(BigInt(idx.ts[i]!), INDEX_HEADER_BYTES + i * 12);
    buf.writeUInt32LE(idx.rel[i]!, INDEX_HEADER_BYTES + i * 12 + 8);
  }
  buf.writeUInt32LE(crc32c(buf, 8), 4);
  return buf;
}

function parseHeader(buf: Buffer, magic: number, entryBytes: number): { meta: SegmentMeta; count: number } | null {
  if (buf.length < INDEX_HEADER_BYTES || buf.readUInt32LE(0) !== magic) return null;
  if (crc32c(buf, 8) !== buf.readUInt32LE(4)) return null;
  const count = buf.readUInt32LE(48);
  if (buf.length !== INDEX_HEADER_BYTES + count * entryBytes) return null;
  const baseOffset = readU64(buf, 8);
  const nextOffset = readU64(buf, 16);
  const logSize = readU64(buf, 24);
  if (baseOffset < 0 || nextOffset < baseOffset || logSize < 0) return null;
  const rawMax = Number(buf.readBigInt64LE(32));
  const maxTimestamp = rawMax === EMPTY_TS ? -Infinity : rawMax;
  const firstTimestamp = Number(buf.readBigInt64LE(40));
  return { meta: { baseOffset, nextOffset, logSize, maxTimestamp, firstTimestamp }, count };
}

/** Parses and checks an `.index` file; null when it cannot be trusted. */
export function decodeOffsetIndex(buf: Buffer): { meta: SegmentMeta; index: OffsetIndex } | null {
  const h = parseHeader(buf, OFFSET_MAGIC, 8);
  if (!h) return null;
  const index = new OffsetIndex();
  for (let i = 0; i < h.count; i++) {
    index.append(buf.readUInt32LE(INDEX_HEADER_BYTES + i * 8), buf.readUInt32LE(INDEX_HEADER_BYTES + i * 8 + 4));
  }
  if (!index.isWellFormed(h.meta.logSize, h.meta.nextOffset - h.meta.baseOffset)) return null;
  return { meta: h.meta, index };
}

export function decodeTimeIndex(buf: Buffer): { meta: SegmentMeta; index: TimeIndex } | null {
  const h = parseHeader(buf, TIME_MAGIC, 12);
  if (!h) return null;
  const index = new TimeIndex();
  for (let i = 0; i < h.count; i++) {
    index.append(Number(buf.readBigInt64LE(INDEX_HEADER_BYTES + i * 12)), buf.readUInt32LE(INDEX_HEADER_BYTES + i * 12 + 8));
  }
  if (!index.isWellFormed(h.meta.nextOffset - h.meta.baseOffset, h.meta.maxTimestamp)) return null;
  return { meta: h.meta, index };
}
