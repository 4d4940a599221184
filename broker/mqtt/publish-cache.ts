// One encoding of a PUBLISH per distinct variant, shared by every subscriber that receives that
// variant (DESIGN.md section 2). A variant is (v3/v4 or v5, QoS, RETAIN); per-subscriber parts
// (packet id, DUP) are patched into a copy, so a fan-out to N subscribers encodes once, not N times.
// Deliveries that differ per subscriber (subscription identifiers, remaining expiry, topic
// aliases) are encoded on their own and never come here.

import { encodePublish } from './codec/index.js';
import type { StoredMessage } from '../storage/driver.js';

export interface Template {
  buf: Buffer;
  /** Offset of the packet id (QoS 1/2), 0 for QoS 0. */
  pidAt: number;
}

/**
 * The cache lives on the message object itself, not in a WeakMap: at millions of messages per
 * second a WeakMap's table grows faster than major GCs clear it (seen as an out-of-memory crash
 * under overload). Storage drivers copy messages field by field, so it never reaches storage.
 */
export interface CachedEncodings {
  encoded?: Array<Template | undefined>;
}

/** The encoded PUBLISH for this variant; QoS 1/2 get their own copy with `packetId` and `dup` set. */
export function sharedPublish(m: StoredMessage & CachedEncodings, v5: boolean, qos: 0 | 1 | 2, retain: boolean, dup: boolean, packetId: number | undefined): Buffer {
  let variants = m.encoded;
  if (variants === undefined) {
    variants = [];
    m.encoded = variants;
  }
  const key = (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
  let t = variants[key];
  if (t === undefined) {
    const buf = encodePublish(
      { topic: m.topic, payload: m.payload, qos, retain, dup: false, messageId: qos > 0 ? 1 : undefined, properties: v5 ? m.properties : undefined },
      v5 ? 5 : 4,
    );
    t = { buf, pidAt: qos > 0 ? packetIdOffset(buf) : 0 };
    variants[key] = t;
  }
  if (qos === 0) return t.buf;
  const out = Buffer.allocUnsafe(t.buf.length);
  t.buf.copy(out);
  out.writeUInt16BE(packetId!, t.pidAt);
  if (dup) out[0]! |= 0x08;
  return out;
}

/** Fixed header, then the topic (two-byte length + bytes), then the packet id. */
function packetIdOffset(buf: Buffer): number {
  let i = 1;
  while (buf[i]! & 0x80) i++;
  const topicAt = i + 1;
  return topicAt + 2 + buf.readUInt16BE(topicAt);
}
