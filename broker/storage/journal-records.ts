// The records the journal driver writes into a generation shard (README.md, "journal"). Each
// journal record's value is:
//   "RMQJ" | format (1) | kind (u8) | seq (f64) | part (u32) | parts (u32) | chunk
// kind 1 = part of a group of apply() batches (s3-codec.ts `encodeBatches`, checksummed),
// kind 2 = part of a snapshot of the whole state (`encodeSnapshot`), kind 3 = the "live" marker
// that makes a generation the current one. A body larger than one record is split into parts
// written in order; the reader joins them and ignores a group whose last part never came.

const MAGIC = Buffer.from('RMQJ', 'latin1');
const FORMAT = 1;
export const RECORD_HEADER_BYTES = 4 + 1 + 1 + 8 + 4 + 4;

export const RECORD_KIND = { batch: 1, snapshot: 2, live: 3 } as const;
export type RecordKind = keyof typeof RECORD_KIND;
const KIND_BY_CODE = new Map<number, RecordKind>(Object.entries(RECORD_KIND).map(([k, v]) => [v, k as RecordKind]));

export interface DecodedRecord {
  kind: RecordKind;
  /** batch: the group's sequence; snapshot: the last group it includes; live: the last group before it. */
  seq: number;
  part: number;
  parts: number;
  chunk: Buffer;
}

export class CorruptRecord extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'CorruptRecord';
  }
}

function header(kind: RecordKind, seq: number, part: number, parts: number): Buffer {
  const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
  MAGIC.copy(h, 0);
  h.writeUInt8(FORMAT, 4);
  h.writeUInt8(RECORD_KIND[kind], 5);
  h.writeDoubleBE(seq, 6);
  h.writeUInt32BE(part, 14);
  h.writeUInt32BE(parts, 18);
  return h;
}

/** The records holding `body`, each at most `maxRecordBytes` long (header included). */
export function encodeRecords(kind: RecordKind, seq: number, body: Buffer, maxRecordBytes: number): Buffer[] {
  const room = maxRecordBytes - RECORD_HEADER_BYTES;
  if (!Number.isSafeInteger(room) || room < 1) throw new RangeError(`maxRecordBytes must exceed ${RECORD_HEADER_BYTES}`);
  const parts = Math.max(1, Math.ceil(body.length / room));
  const out: Buffer[] = [];
  for (let i = 0; i < parts; i++) {
    out.push(Buffer.concat([header(kind, seq, i, parts), body.subarray(i * room, Math.min(body.length, (i + 1) * room))]));
  }
  return out;
}

export function encodeLive(seq: number): Buffer {
  return header('live', seq, 0, 1);
}

export function decodeRecord(value: Uint8Array): DecodedRecord {
  const b = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (b.length < RECORD_HEADER_BYTES || !b.subarray(0, 4).equals(MAGIC)) throw new CorruptRecord('not a storage record (bad magic)');
  if (b.readUInt8(4) !== FORMAT) throw new CorruptRecord(`unknown record format ${b.readUInt8(4)}`);
  const kind = KIND_BY_CODE.get(b.readUInt8(5));
  if (kind === undefined) throw new CorruptRecord(`unknown record kind ${b.readUInt8(5)}`);
  const seq = b.readDoubleBE(6);
  const part = b.readUInt32BE(14);
  const parts = b.readUInt32BE(18);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new CorruptRecord(`bad sequence ${seq}`);
  if (parts < 1 || part >= parts) throw new CorruptRecord(`bad part ${part} of ${parts}`);
  return { kind, seq, part, parts, chunk: b.subarray(RECORD_HEADER_BYTES) };
}
