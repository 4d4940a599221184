// On-disk record batch format (little-endian). One append() becomes one batch.
//
//   batch header, 40 bytes
//     0  u32  batchLength     whole batch including this header
//     4  u32  crc             CRC-32C over bytes [8, batchLength): everything after the crc
//     8  u64  baseOffset      offset of the first record; records follow densely
//     16 u8   magic 0x4A ('J')
//     17 u8   version 1
//     18 u16  attributes      0 (reserved)
//     20 u32  recordCount     >= 1
//     24 i64  firstTimestamp  timestamp of the first record
//     32 i64  maxTimestamp    largest record timestamp in the batch
//   records, recordCount times
//     u32  recordLength       bytes after this field
//     i48  timestamp          ms, 6 bytes signed
//     i32  keyLength          -1 = no key
//     ...  key
//     u16  headerCount
//       u16 nameLength, name (UTF-8), u32 valueLength, value   (headerCount times)
//     ...  value              the rest of the record
import { crc32c } from './crc32c.js';
import { JournalStorageError } from './errors.js';

export const BATCH_HEADER_BYTES = 40;
export const BATCH_MAGIC = 0x4a;
export const BATCH_VERSION = 1;
const MAX_TIMESTAMP = 2 ** 47 - 1;
const RECORD_FIXED_BYTES = 4 + 6 + 4 + 2;

export interface AppendRecord {
  value: Uint8Array;
  key?: Uint8Array | null;
  headers?: ReadonlyArray<readonly [string, Uint8Array]>;
  /** ms since epoch; defaults to the log's clock at append() time. */
  timestamp?: number;
}

export interface StoredRecord {
  offset: number;
  timestamp: number;
  key?: Buffer;
  /** Present only when the record had at least one header. */
  headers?: [string, Buffer][];
  value: Buffer;
  /** Encoded size of the record (what maxBytes counts). */
  sizeBytes: number;
}

export interface BatchHeader {
  length: number;
  crc: number;
  baseOffset: number;
  recordCount: number;
  firstTimestamp: number;
  maxTimestamp: number;
}

/** A batch encoded except for baseOffset and crc, which `sealBatch` fills once the offset is known. */
export interface EncodedBatch {
  buf: Buffer;
  recordCount: number;
  firstTimestamp: number;
  maxTimestamp: number;
  /** Keys (latin1, so any byte string maps 1:1) by record index, for the key index. */
  keys: (string | undefined)[];
}

function invalid(i: number, why: string): never {
  throw new JournalStorageError('JR_INVALID_RECORD', `record ${i}: ${why}`, { index: i });
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Validates and encodes records; throws JR_INVALID_RECORD / JR_INVALID_ARGUMENT / JR_BATCH_TOO_LARGE. */
export function encodeBatch(records: readonly AppendRecord[], defaultTimestamp: number, maxBatchBytes: number): EncodedBatch {
  if (!Array.isArray(records) || records.length === 0) {
    throw new JournalStorageError('JR_INVALID_ARGUMENT', 'append needs a non-empty array of records');
  }
  let total = BATCH_HEADER_BYTES;
  const names: Buffer[][] = [];
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    if (r === null || typeof r !== 'object') invalid(i, 'not an object');
    if (!isBytes(r.value)) invalid(i, 'value must be a Buffer/Uint8Array');
    if (r.key !== undefined && r.key !== null && !isBytes(r.key)) invalid(i, 'key must be a Buffer/Uint8Array');
    if (r.timestamp !== undefined && (!Number.isSafeInteger(r.timestamp) || Math.abs(r.timestamp) > MAX_TIMESTAMP)) {
      invalid(i, `timestamp must be an integer within ±2^47, got ${String(r.timestamp)}`);
    }
    let size = RECORD_FIXED_BYTES + r.value.length + (r.key ? r.key.length : 0);
    const hn: Buffer[] = [];
    if (r.headers !== undefined) {
      if (!Array.isArray(r.headers)) invalid(i, 'headers must be an array of [name, value]');
      if (r.headers.length > 0xffff) invalid(i, 'more than 65535 headers');
      for (const h of r.headers) {
        if (!Array.isArray(h) || typeof h[0] !== 'string' || !isBytes(h[1])) invalid(i, 'header must be [string, Buffer]');
        const n = Buffer.from(h[0], 'utf8');
        if (n.length > 0xffff) invalid(i, 'header name longer than 65535 bytes');
        hn.push(n);
        size += 2 + n.length + 4 + h[1].length;
      }
    }
    names.push(hn);
    total += size;
    if (total > maxBatchBytes) {
      throw new JournalStorageError('JR_BATCH_TOO_LARGE', `batch exceeds max_batch_bytes=${maxBatchBytes}`, { maxBatchBytes });
    }
  }

  const buf = Buffer.allocUnsafe(total);
  buf.fill(0, 0, BATCH_HEADER_BYTES);
  let p = BATCH_HEADER_BYTES;
  let firstTs = 0;
  let maxTs = -Infinity;
  const keys: (string | undefined)[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const ts = r.timestamp ?? defaultTimestamp;
    if (i === 0) firstTs = ts;
    if (ts > maxTs) maxTs = ts;
    const start = p;
    p += 4;
    buf.writeIntLE(ts, p, 6);
    p += 6;
    if (r.key) {
      buf.writeInt32LE(r.key.length, p);
      p += 4;
      buf.set(r.key, p);
      p += r.key.length;
      keys[i] = Buffer.from(r.key.buffer, r.key.byteOffset, r.key.length).toString('latin1');
    } else {
      buf.writeInt32LE(-1, p);
      p += 4;
    }
    const hs = r.headers ?? [];
    buf.writeUInt16LE(hs.length, p);
    p += 2;
    const hn = names[i]!;
    for (let h = 0; h < hs.length; h++) {
      const n = hn[h]!;
      const v = hs[h]![1];
      buf.writeUInt16LE(n.length, p);
      p += 2;
      buf.set(n, p);
      p += n.length;
      buf.writeUInt32LE(v.length, p);
      p += 4;
      buf.set(v, p);
      p += v.length;
    }
    buf.set(r.value, p);
    p += r.value.length;
    buf.writeUInt32LE(p - start - 4, start);
  }
  buf.writeUInt32LE(total, 0);
  buf[16] = BATCH_MAGIC;
  buf[17] = BATCH_VERSION;
  buf.writeUInt32LE(records.length, 20);
  buf.writeBigInt64LE(BigInt(firstTs), 24);
  buf.writeBigInt64LE(BigInt(maxTs), 32);
  return { buf, recordCount: records.length, firstTimestamp: firstTs, maxTimestamp: maxTs, keys };
}

/** Writes the base offset and the CRC; the batch is then final. */
export function sealBatch(b: EncodedBatch, baseOffset: number): void {
  writeU64(b.buf, baseOffset, 8);
  b.buf.writeUInt32LE(crc32c(b.buf, 8, b.buf.length), 4);
}

export function writeU64(buf: Buffer, v: number, at: number): void {
  buf.writeUInt32LE(v % 2 ** 32, at);
  buf.writeUInt32LE(Math.floor(v / 2 ** 32), at + 4);
}

/** Reads a u64 that must fit in a safe integer; returns -1 when it does not. */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi >= 2 ** 21) return -1;
  return hi * 2 ** 32 + buf.readUInt32LE(at);
}

export type BatchCheck =
  | { kind: 'ok'; header: BatchHeader }
  /** The batch claims more bytes than `available`: a torn tail if at end of file. */
  | { kind: 'short'; need: number }
  | { kind: 'corrupt'; reason: string };

/**
 * Checks the batch at `buf[pos]` with `available` readable bytes: structure and, if `verifyCrc`,
 * the CRC. `expectedBase` (>= 0) enforces offset continuity.
 */
export function checkBatch(buf: Buffer, pos: number, available: number, expectedBase: number, verifyCrc: boolean, maxBatchBytes: number): BatchCheck {
  if (available < BATCH_HEADER_BYTES) return { kind: 'short', need: BATCH_HEADER_BYTES };
  const length = buf.readUInt32LE(pos);
  if (length < BATCH_HEADER_BYTES + RECORD_FIXED_BYTES || length > maxBatchBytes) {
    return { kind: 'corrupt', reason: `batch length ${length} out of range` };
  }
  if (buf[pos + 16] !== BATCH_MAGIC || buf[pos + 17] !== BATCH_VERSION) return { kind: 'corrupt', reason: 'bad magic/version' };
  const baseOffset = readU64(buf, pos + 8);
  if (baseOffset < 0) return { kind: 'corrupt', reason: 'base offset beyond 2^53' };
  if (expectedBase >= 0 && baseOffset !== expectedBase) {
    return { kind: 'corrupt', reason: `base offset ${baseOffset} where ${expectedBase} was expected` };
  }
  const recordCount = buf.readUInt32LE(pos + 20);
  if (recordCount < 1 || recordCount * RECORD_FIXED_BYTES > length - BATCH_HEADER_BYTES) {
    return { kind: 'corrupt', reason: `record count ${recordCount} impossible for length ${length}` };
  }
  if (available < length) return { kind: 'short', need: length };
  const crc = buf.readUInt32LE(pos + 4);
  if (verifyCrc && crc32c(buf, pos + 8, pos + length) !== crc) return { kind: 'corrupt', reason: 'CRC mismatch' };
  const firstTimestamp = Number(buf.readBigInt64LE(pos + 24));
  const maxTimestamp = Number(buf.readBigInt64LE(pos + 32));
  return { kind: 'ok', header: { length, crc, baseOffset, recordCount, firstTimestamp, maxTimestamp } };
}

/**
 * Decodes the records of a batch whose structure and CRC were checked. Buffers are views into
 * `buf` (no copy). Throws a plain Error with the reason if the record framing is inconsistent
 * (possible only if the CRC collided); callers turn it into JR_CORRUPT_SEGMENT.
 */
export function decodeRecords(buf: Buffer, pos: number, h: BatchHeader, fromOffset: number, out: StoredRecord[], maxRecords: number, maxBytes: number, bytesSoFar: number): number {
  const end = pos + h.length;
  let p = pos + BATCH_HEADER_BYTES;
  let bytes = bytesSoFar;
  for (let i = 0; i < h.recordCount; i++) {
    if (p + RECORD_FIXED_BYTES > end) throw new Error('record header past batch end');
    const len = buf.readUInt32LE(p);
    const recEnd = p + 4 + len;
    if (len < RECORD_FIXED_BYTES - 4 || recEnd > end) throw new Error('record length past batch end');
    const offset = h.baseOffset + i;
    if (offset < fromOffset) {
      p = recEnd;
      continue;
    }
    if (out.length >= maxRecords) return bytes;
    if (out.length > 0 && bytes + len + 4 > maxBytes) return bytes;
    let q = p + 4;
    const timestamp = buf.readIntLE(q, 6);
    q += 6;
    const keyLen = buf.readInt32LE(q);
    q += 4;
    let key: Buffer | undefined;
    if (keyLen >= 0) {
      if (q + keyLen > recEnd) throw new Error('key past record end');
      key = buf.subarray(q, q + keyLen);
      q += keyLen;
    } else if (keyLen !== -1) throw new Error('negative key length');
    if (q + 2 > recEnd) throw new Error('header count past record end');
    const hc = buf.readUInt16LE(q);
    q += 2;
    let headers: [string, Buffer][] | undefined;
    for (let k = 0; k < hc; k++) {
      if (q + 2 > recEnd) throw new Error('header past record end');
      const nl = buf.readUInt16LE(q);
      q += 2;
      if (q + nl + 4 > recEnd) throw new Error('header name past record end');
      const name = buf.toString('utf8', q, q + nl);
      q += nl;
      const vl = buf.readUInt32LE(q);
      q += 4;
      if (q + vl > recEnd) throw new Error('header value past record end');
      (headers ??= []).push([name, buf.subarray(q, q + vl)]);
      q += vl;
    }
    const rec: StoredRecord = { offset, timestamp, value: buf.subarray(q, recEnd), sizeBytes: len + 4 };
    if (key !== undefined) rec.key = key;
    if (headers !== undefined) rec.headers = headers;
    out.push(rec);
    bytes += len + 4;
    p = recEnd;
  }
  if (p !== end) throw new Error('bytes left after the last record');
  return bytes;
}

/** Keys (latin1) and timestamps of each record of a checked batch, for index rebuilds. */
export function scanRecordKeys(buf: Buffer, pos: number, h: BatchHeader, onKey: (key: string, offset: number) => void): void {
  let p = pos + BATCH_HEADER_BYTES;
  for (let i = 0; i < h.recordCount; i++) {
    const len = buf.readUInt32LE(p);
    const keyLen = buf.readInt32LE(p + 10);
    if (keyLen >= 0) onKey(buf.toString('latin1', p + 14, p + 14 + keyLen), h.baseOffset + i);
    p += 4 + len;
  }
}
