// The messages of one forwarded batch as one byte string (ForwardBatch.packed in
// proto/broker.proto). Every publish that crosses brokers goes through here, so it is written by
// hand: one allocation per batch, no per-message protobuf objects (which cost more CPU and GC than
// the rest of the hop; see docs/performance.md). Big-endian, strings and bytes u32-length-prefixed:
//
//   u8 version (1), u32 count, then per message:
//   u8 flags   bits 0-1 QoS, 2 retain, 3 retain_only, 4 shared_only, 5 redelivery,
//              6 has expiry, 7 has properties
//   str topic, bytes payload, str id, str origin ("" = none), f64 created_at_ms,
//   [f64 expires_at_ms], [str properties JSON], u16 publisher_packet_id,
//   u16 shared group count, str group...

import type { QoS, StoredMessage } from '../storage/driver.js';
import { ByteReader } from '../storage/byte-reader.js';
import { decodeProperties, encodeProperties } from './link-codec.js';
import { ClusterError } from './cluster-error.js';

/** One message on the link, with what the receiver does with it (see LinkMessage in proto/broker.proto). */
export interface Forwarded {
  message: StoredMessage;
  sharedGroups: readonly string[];
  retainOnly: boolean;
  sharedOnly: boolean;
  /** QoS 2 from a client: its packet id; 0 otherwise. */
  publisherPacketId: number;
  redelivery: boolean;
}

const VERSION = 1;
const NO_GROUPS: readonly string[] = Object.freeze([]);

export function forwarded(message: StoredMessage, sharedGroups: readonly string[] = NO_GROUPS, retainOnly = false): Forwarded {
  return { message, sharedGroups, retainOnly, sharedOnly: false, publisherPacketId: 0, redelivery: false };
}

export function encodeForwarded(list: readonly Forwarded[]): Buffer {
  const props: Array<string | undefined> = new Array(list.length);
  let size = 5;
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const m = f.message;
    size += 1 + 4 + Buffer.byteLength(m.topic) + 4 + m.payload.length + 4 + Buffer.byteLength(m.id) + 4 + Buffer.byteLength(m.origin ?? '') + 8 + 2 + 2;
    if (m.expiresAt !== undefined) size += 8;
    if (m.properties !== undefined) {
      const p = encodeProperties(m.properties);
      props[i] = p;
      size += 4 + Buffer.byteLength(p);
    }
    for (const g of f.sharedGroups) size += 4 + Buffer.byteLength(g);
  }
  const buf = Buffer.allocUnsafe(size);
  let pos = buf.writeUInt8(VERSION, 0);
  pos = buf.writeUInt32BE(list.length, pos);
  const str = (s: string): void => {
    const n = buf.write(s, pos + 4, 'utf8');
    buf.writeUInt32BE(n, pos);
    pos += 4 + n;
  };
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    const m = f.message;
    const p = props[i];
    let flags = m.qos;
    if (m.retain) flags |= 4;
    if (f.retainOnly) flags |= 8;
    if (f.sharedOnly) flags |= 16;
    if (f.redelivery) flags |= 32;
    if (m.expiresAt !== undefined) flags |= 64;
    if (p !== undefined) flags |= 128;
    pos = buf.writeUInt8(flags, pos);
    str(m.topic);
    pos = buf.writeUInt32BE(m.payload.length, pos);
    pos += m.payload.copy(buf, pos);
    str(m.id);
    str(m.origin ?? '');
    pos = buf.writeDoubleBE(m.createdAt, pos);
    if (m.expiresAt !== undefined) pos = buf.writeDoubleBE(m.expiresAt, pos);
    if (p !== undefined) str(p);
    pos = buf.writeUInt16BE(f.publisherPacketId, pos);
    pos = buf.writeUInt16BE(f.sharedGroups.length, pos);
    for (const g of f.sharedGroups) str(g);
  }
  return buf;
}

function properties_(json: string): StoredMessage['properties'] {
  try {
    return decodeProperties(json);
  } catch (err: unknown) {
    throw new ClusterError('PEER_PROTOCOL', `forwarded batch: message properties: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Throws ClusterError PEER_PROTOCOL for bytes that do not decode (the batch is refused, not half routed). */
export function decodeForwarded(bytes: Uint8Array): Forwarded[] {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Payloads are copied out: a queued message must not pin the whole batch.
  const r = new ByteReader(buf, (reason) => new ClusterError('PEER_PROTOCOL', `forwarded batch: ${reason}`), true);
  const version = r.u8();
  if (version !== VERSION) throw new ClusterError('PEER_PROTOCOL', `forwarded batch: unknown encoding version ${version}`);
  const count = r.u32();
  const out: Forwarded[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    const topic = r.str();
    const payload = r.bytes();
    const id = r.str();
    const origin = r.str();
    const createdAt = r.f64();
    const expiresAt = flags & 64 ? r.f64() : undefined;
    const properties = flags & 128 ? properties_(r.str()) : undefined;
    const publisherPacketId = r.u16();
    const groups = r.u16();
    const sharedGroups: string[] = [];
    for (let g = 0; g < groups; g++) sharedGroups.push(r.str());
    const qos = flags & 3;
    if (qos === 3) throw new ClusterError('PEER_PROTOCOL', 'forwarded batch: QoS 3');
    const message: StoredMessage = {
      id, topic, payload, qos: qos as QoS, retain: (flags & 4) !== 0, properties, createdAt, expiresAt,
      origin: origin === '' ? undefined : origin,
    };
    out.push({ message, sharedGroups, retainOnly: (flags & 8) !== 0, sharedOnly: (flags & 16) !== 0, publisherPacketId, redelivery: (flags & 32) !== 0 });
  }
  r.end();
  return out;
}
