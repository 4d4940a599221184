// The binary format of the s3 driver's objects. Both kinds share a header:
//   "RMQS" | kind (1 = batches, 2 = snapshot) | format (1) | sequence (u64) | SHA-256 of body | body
// A batch object holds the apply() batches written together (group commit), each a list of ops;
// a snapshot holds the whole state after the batch object of its sequence. The checksum catches
// a truncated or damaged object; records inside use record-codec.ts (the leveldb driver's values).

import { createHash } from 'node:crypto';
import type { OutboundEntry, StorageOp } from './driver.js';
import {
  decodeDelayed,
  decodeMessage,
  decodeOutbound,
  decodeSession,
  decodeSubscription,
  encodeDelayed,
  encodeMessage,
  encodeOutbound,
  encodeSession,
  encodeSubscription,
} from './record-codec.js';
import type { StorageState } from './s3-state.js';
import { ByteReader } from './byte-reader.js';

const MAGIC = Buffer.from('RMQS', 'latin1');
const FORMAT = 1;
const HEADER_BYTES = 4 + 1 + 1 + 8 + 32;

export const OBJECT_KIND = { batches: 1, snapshot: 2 } as const;
export type ObjectKind = keyof typeof OBJECT_KIND;

export class CorruptObject extends Error {
  constructor(name: string, reason: string) {
    super(`corrupt object ${name}: ${reason}`);
    this.name = 'CorruptObject';
  }
}

/** Appends to a list of chunks; payloads are referenced, not copied, until finish(). */
class Writer {
  private readonly chunks: Buffer[] = [];

  u8(v: number): void {
    this.chunks.push(Buffer.from([v]));
  }
  u16(v: number): void {
    const b = Buffer.allocUnsafe(2);
    b.writeUInt16BE(v);
    this.chunks.push(b);
  }
  u32(v: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v);
    this.chunks.push(b);
  }
  /** A seq: an integer up to 2^53-1, exact as a double. */
  f64(v: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleBE(v);
    this.chunks.push(b);
  }
  bytes(b: Buffer): void {
    this.u32(b.length);
    this.chunks.push(b);
  }
  str(s: string): void {
    this.bytes(Buffer.from(s, 'utf8'));
  }
  finish(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

class Reader extends ByteReader {
  constructor(buf: Buffer, name: string) {
    // Byte fields stay views: the whole object is decoded into state and then dropped.
    super(buf, (reason) => new CorruptObject(name, reason), false);
  }
}

function frame(kind: ObjectKind, seq: number, body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header[4] = OBJECT_KIND[kind];
  header[5] = FORMAT;
  header.writeBigUInt64BE(BigInt(seq), 6);
  createHash('sha256').update(body).digest().copy(header, 14);
  return Buffer.concat([header, body]);
}

function unframe(kind: ObjectKind, seq: number, buf: Buffer, name: string): Buffer {
  if (buf.length < HEADER_BYTES || !buf.subarray(0, 4).equals(MAGIC)) throw new CorruptObject(name, 'not a robustmq storage object');
  if (buf[4] !== OBJECT_KIND[kind]) throw new CorruptObject(name, `kind ${buf[4]}, expected ${OBJECT_KIND[kind]}`);
  if (buf[5] !== FORMAT) throw new CorruptObject(name, `unknown format ${buf[5]}`);
  const got = Number(buf.readBigUInt64BE(6));
  if (got !== seq) throw new CorruptObject(name, `holds sequence ${got}, its name says ${seq}`);
  const body = buf.subarray(HEADER_BYTES);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(14, HEADER_BYTES))) {
    throw new CorruptObject(name, 'checksum mismatch (truncated or damaged)');
  }
  return body;
}

// Op kinds on the wire; never renumber.
const OP_CODES = {
  'session.put': 1,
  'session.delete': 2,
  'sub.put': 3,
  'sub.delete': 4,
  'msg.put': 5,
  'out.put': 6,
  'out.delete': 7,
  'in2.put': 8,
  'in2.delete': 9,
  'retain.put': 10,
  'retain.delete': 11,
  'delayed.put': 12,
  'delayed.delete': 13,
} as const;

function writeOp(w: Writer, op: StorageOp): void {
  w.u8(OP_CODES[op.op]);
  switch (op.op) {
    case 'session.put':
      w.str(op.session.clientId);
      w.bytes(encodeSession(op.session));
      return;
    case 'session.delete':
      w.str(op.clientId);
      return;
    case 'sub.put':
      w.str(op.sub.clientId);
      w.str(op.sub.filter);
      w.bytes(encodeSubscription(op.sub));
      return;
    case 'sub.delete':
      w.str(op.clientId);
      w.str(op.filter);
      return;
    case 'msg.put':
    case 'retain.put':
      w.bytes(encodeMessage(op.message));
      return;
    case 'out.put':
      w.str(op.entry.clientId);
      w.f64(op.entry.seq);
      w.bytes(encodeOutbound(op.entry));
      return;
    case 'out.delete':
      w.str(op.clientId);
      w.f64(op.seq);
      return;
    case 'in2.put':
    case 'in2.delete':
      w.str(op.clientId);
      w.u16(op.packetId);
      return;
    case 'retain.delete':
      w.str(op.topic);
      return;
    case 'delayed.put':
      w.str(op.record.id);
      w.bytes(encodeDelayed(op.record.fireAt, op.record.message));
      return;
    case 'delayed.delete':
      w.str(op.id);
      return;
  }
}

function readOp(r: Reader): StorageOp {
  const code = r.u8();
  switch (code) {
    case 1: {
      const clientId = r.str();
      return { op: 'session.put', session: decodeSession(clientId, r.bytes()) };
    }
    case 2:
      return { op: 'session.delete', clientId: r.str() };
    case 3: {
      const clientId = r.str();
      const filter = r.str();
      return { op: 'sub.put', sub: decodeSubscription(clientId, filter, r.bytes()) };
    }
    case 4: {
      const clientId = r.str();
      return { op: 'sub.delete', clientId, filter: r.str() };
    }
    case 5:
      return { op: 'msg.put', message: decodeMessage(r.bytes()) };
    case 6: {
      const clientId = r.str();
      const seq = r.f64();
      return { op: 'out.put', entry: decodeOutbound(clientId, seq, r.bytes()) };
    }
    case 7: {
      const clientId = r.str();
      return { op: 'out.delete', clientId, seq: r.f64() };
    }
    case 8:
    case 9: {
      const clientId = r.str();
      return { op: code === 8 ? 'in2.put' : 'in2.delete', clientId, packetId: r.u16() };
    }
    case 10:
      return { op: 'retain.put', message: decodeMessage(r.bytes()) };
    case 11:
      return { op: 'retain.delete', topic: r.str() };
    case 12: {
      const id = r.str();
      const { fireAt, message } = decodeDelayed(id, r.bytes());
      return { op: 'delayed.put', record: { id, fireAt, message } };
    }
    case 13:
      return { op: 'delayed.delete', id: r.str() };
    default:
      throw new Error(`unknown op code ${code}`);
  }
}

/** One batch object: the batches of one group commit, in call order. */
export function encodeBatches(seq: number, batches: ReadonlyArray<readonly StorageOp[]>): Buffer {
  const w = new Writer();
  w.u32(batches.length);
  for (const ops of batches) {
    w.u32(ops.length);
    for (const op of ops) writeOp(w, op);
  }
  return frame('batches', seq, w.finish());
}

export function decodeBatches(seq: number, buf: Buffer, name: string): StorageOp[][] {
  const r = new Reader(unframe('batches', seq, buf, name), name);
  try {
    const out: StorageOp[][] = [];
    for (let n = r.u32(); n > 0; n--) {
      const ops: StorageOp[] = [];
      for (let k = r.u32(); k > 0; k--) ops.push(readOp(r));
      out.push(ops);
    }
    r.end();
    return out;
  } catch (e: unknown) {
    if (e instanceof CorruptObject) throw e;
    throw new CorruptObject(name, e instanceof Error ? e.message : String(e));
  }
}

/** The whole state, after the batch object `seq`. */
export function encodeSnapshot(seq: number, s: StorageState): Buffer {
  const w = new Writer();
  w.u32(s.sessions.size);
  for (const session of s.sessions.values()) {
    w.str(session.clientId);
    w.bytes(encodeSession(session));
  }
  let subs = 0;
  for (const m of s.subs.values()) subs += m.size;
  w.u32(subs);
  for (const m of s.subs.values()) {
    for (const sub of m.values()) {
      w.str(sub.clientId);
      w.str(sub.filter);
      w.bytes(encodeSubscription(sub));
    }
  }
  w.u32(s.bodies.size);
  for (const body of s.bodies.values()) w.bytes(encodeMessage(body.message));
  let entries = 0;
  for (const m of s.outbound.values()) entries += m.size;
  w.u32(entries);
  for (const m of s.outbound.values()) {
    for (const e of m.values()) {
      w.str(e.clientId);
      w.f64(e.seq);
      w.bytes(encodeOutbound(e));
    }
  }
  let in2 = 0;
  for (const ids of s.inbound2.values()) in2 += ids.size;
  w.u32(in2);
  for (const [clientId, ids] of s.inbound2) {
    for (const id of ids) {
      w.str(clientId);
      w.u16(id);
    }
  }
  w.u32(s.retained.size);
  for (const m of s.retained.values()) w.bytes(encodeMessage(m));
  w.u32(s.delayed.size);
  for (const d of s.delayed.values()) {
    w.str(d.id);
    w.bytes(encodeDelayed(d.fireAt, d.message));
  }
  return frame('snapshot', seq, w.finish());
}

/** Fills an empty state from a snapshot object. */
export function decodeSnapshot(seq: number, buf: Buffer, name: string, into: StorageState): void {
  const r = new Reader(unframe('snapshot', seq, buf, name), name);
  try {
    for (let n = r.u32(); n > 0; n--) {
      const clientId = r.str();
      into.sessions.set(clientId, decodeSession(clientId, r.bytes()));
    }
    for (let n = r.u32(); n > 0; n--) {
      const clientId = r.str();
      const filter = r.str();
      into.loadSubscription(decodeSubscription(clientId, filter, r.bytes()));
    }
    for (let n = r.u32(); n > 0; n--) into.loadBody(decodeMessage(r.bytes()));
    for (let n = r.u32(); n > 0; n--) {
      const clientId = r.str();
      const seqOf = r.f64();
      const e: OutboundEntry = decodeOutbound(clientId, seqOf, r.bytes());
      if (!into.loadEntry(e)) throw new CorruptObject(name, `entry ${seqOf} of ${JSON.stringify(clientId)} references a missing body`);
    }
    for (let n = r.u32(); n > 0; n--) {
      const clientId = r.str();
      into.loadInbound2(clientId, r.u16());
    }
    for (let n = r.u32(); n > 0; n--) {
      const m = decodeMessage(r.bytes());
      into.retained.set(m.topic, m);
    }
    for (let n = r.u32(); n > 0; n--) {
      const id = r.str();
      const { fireAt, message } = decodeDelayed(id, r.bytes());
      into.delayed.set(id, { id, fireAt, message });
    }
    r.end();
  } catch (e: unknown) {
    if (e instanceof CorruptObject) throw e;
    throw new CorruptObject(name, e instanceof Error ? e.message : String(e));
  }
  for (const [id, body] of into.bodies) {
    if (body.refs === 0) throw new CorruptObject(name, `body ${JSON.stringify(id)} is referenced by no entry`);
  }
}
