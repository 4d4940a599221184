// Compact binary values for the leveldb driver. Every value starts with a format byte so a later
// release can change a layout and still read old data. Payloads are copied in raw (no base64), so
// a several-MB message costs one copy. Fields that the key already holds (client id, seq,
// filter) are not repeated in the value. An absent optional field is encoded as absent and decodes
// to a missing property, so records round-trip exactly.

import type {
  MessageProperties,
  OutboundEntry,
  QoS,
  SessionRecord,
  StoredMessage,
  SubscriptionRecord,
} from './driver.js';
import { ByteReader } from './byte-reader.js';

const FORMAT_V1 = 1;

export class CorruptValue extends Error {
  constructor(what: string, reason: string) {
    super(`corrupt ${what} value: ${reason}`);
    this.name = 'CorruptValue';
  }
}

class Writer {
  private buf: Buffer;
  private pos = 0;

  constructor(sizeHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, sizeHint));
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.pos);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  str(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.u32(len);
    this.ensure(len);
    this.buf.write(s, this.pos, len, 'utf8');
    this.pos += len;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

class Reader extends ByteReader {
  constructor(buf: Buffer, what: string) {
    super(buf, (reason) => new CorruptValue(what, reason), true);
  }

  format(): void {
    const f = this.u8();
    if (f !== FORMAT_V1) this.fail(`unknown format ${f}`);
  }
}

function qosOf(bits: number, what: string): QoS {
  if (bits > 2) throw new CorruptValue(what, `qos ${bits}`);
  return bits as QoS;
}

// Message flags: bits 0-1 qos, 2 retain, 3 expiresAt, 4 origin, 5 properties.
// Property flags: 0 payloadFormatIndicator present, 1 its value, 2 messageExpiryInterval,
// 3 contentType, 4 responseTopic, 5 correlationData, 6 userProperties.

function writeProperties(w: Writer, p: MessageProperties): void {
  let flags = 0;
  if (p.payloadFormatIndicator !== undefined) flags |= 1 | (p.payloadFormatIndicator ? 2 : 0);
  if (p.messageExpiryInterval !== undefined) flags |= 4;
  if (p.contentType !== undefined) flags |= 8;
  if (p.responseTopic !== undefined) flags |= 16;
  if (p.correlationData !== undefined) flags |= 32;
  if (p.userProperties !== undefined) flags |= 64;
  w.u8(flags);
  if (p.messageExpiryInterval !== undefined) w.u32(p.messageExpiryInterval);
  if (p.contentType !== undefined) w.str(p.contentType);
  if (p.responseTopic !== undefined) w.str(p.responseTopic);
  if (p.correlationData !== undefined) w.bytes(p.correlationData);
  if (p.userProperties !== undefined) {
    const entries = Object.entries(p.userProperties);
    w.u32(entries.length);
    for (const [k, v] of entries) {
      w.str(k);
      if (Array.isArray(v)) {
        w.u8(1);
        w.u32(v.length);
        for (const s of v) w.str(s);
      } else {
        w.u8(0);
        w.str(v);
      }
    }
  }
}

function readProperties(r: Reader): MessageProperties {
  const flags = r.u8();
  const p: MessageProperties = {};
  if (flags & 1) p.payloadFormatIndicator = (flags & 2) !== 0;
  if (flags & 4) p.messageExpiryInterval = r.u32();
  if (flags & 8) p.contentType = r.str();
  if (flags & 16) p.responseTopic = r.str();
  if (flags & 32) p.correlationData = r.bytes();
  if (flags & 64) {
    const n = r.u32();
    const entries: Array<[string, string | string[]]> = [];
    for (let i = 0; i < n; i++) {
      const k = r.str();
      if (r.u8() === 1) {
        const m = r.u32();
        const list: string[] = [];
        for (let j = 0; j < m; j++) list.push(r.str());
        entries.push([k, list]);
      } else {
        entries.push([k, r.str()]);
      }
    }
    // fromEntries defines own properties, so a user property named "__proto__" stays data.
    p.userProperties = Object.fromEntries(entries);
  }
  return p;
}

function writeMessageFields(w: Writer, m: StoredMessage): void {
  let flags = m.qos | (m.retain ? 4 : 0);
  if (m.expiresAt !== undefined) flags |= 8;
  if (m.origin !== undefined) flags |= 16;
  if (m.properties !== undefined) flags |= 32;
  w.u8(flags);
  w.str(m.id);
  w.str(m.topic);
  w.f64(m.createdAt);
  if (m.expiresAt !== undefined) w.f64(m.expiresAt);
  if (m.origin !== undefined) w.str(m.origin);
  if (m.properties !== undefined) writeProperties(w, m.properties);
  w.bytes(m.payload);
}

function readMessageFields(r: Reader, what: string): StoredMessage {
  const flags = r.u8();
  const id = r.str();
  const topic = r.str();
  const createdAt = r.f64();
  const expiresAt = flags & 8 ? r.f64() : undefined;
  const origin = flags & 16 ? r.str() : undefined;
  const properties = flags & 32 ? readProperties(r) : undefined;
  const m: StoredMessage = {
    id,
    topic,
    payload: r.bytes(),
    qos: qosOf(flags & 3, what),
    retain: (flags & 4) !== 0,
    createdAt,
  };
  if (properties !== undefined) m.properties = properties;
  if (expiresAt !== undefined) m.expiresAt = expiresAt;
  if (origin !== undefined) m.origin = origin;
  return m;
}

function messageSizeHint(m: StoredMessage): number {
  return m.payload.length + m.id.length * 3 + m.topic.length * 3 + 64;
}

export function encodeMessage(m: StoredMessage): Buffer {
  const w = new Writer(messageSizeHint(m));
  w.u8(FORMAT_V1);
  writeMessageFields(w, m);
  return w.finish();
}

export function decodeMessage(buf: Buffer): StoredMessage {
  const r = new Reader(buf, 'message');
  r.format();
  const m = readMessageFields(r, 'message');
  r.end();
  return m;
}

// Session flags: bit 0 disconnectedAt present, bit 1 will is null, bit 2 will present.
export function encodeSession(s: SessionRecord): Buffer {
  const w = new Writer(s.will ? messageSizeHint(s.will.message) + 32 : 32);
  w.u8(FORMAT_V1);
  w.u8(s.protocolVersion);
  w.u32(s.expiryInterval);
  let flags = 0;
  if (s.disconnectedAt !== null) flags |= 1;
  if (s.will === null) flags |= 2;
  else if (s.will !== undefined) flags |= 4;
  w.u8(flags);
  if (s.disconnectedAt !== null) w.f64(s.disconnectedAt);
  if (s.will) {
    w.u32(s.will.delayInterval);
    writeMessageFields(w, s.will.message);
  }
  return w.finish();
}

export function decodeSession(clientId: string, buf: Buffer): SessionRecord {
  const r = new Reader(buf, 'session');
  r.format();
  const protocolVersion = r.u8();
  if (protocolVersion !== 3 && protocolVersion !== 4 && protocolVersion !== 5) {
    throw new CorruptValue('session', `protocol version ${protocolVersion}`);
  }
  const expiryInterval = r.u32();
  const flags = r.u8();
  const s: SessionRecord = {
    clientId,
    protocolVersion,
    expiryInterval,
    disconnectedAt: flags & 1 ? r.f64() : null,
  };
  if (flags & 2) s.will = null;
  else if (flags & 4) {
    const delayInterval = r.u32();
    s.will = { message: readMessageFields(r, 'session will'), delayInterval };
  }
  r.end();
  return s;
}

// Subscription flags: bits 0-1 qos, 2 noLocal, 3 retainAsPublished, 4-5 retainHandling,
// 6 subscriptionId present.
export function encodeSubscription(s: SubscriptionRecord): Buffer {
  const w = new Writer(8);
  w.u8(FORMAT_V1);
  let flags = s.qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (s.retainHandling << 4);
  if (s.subscriptionId !== undefined) flags |= 64;
  w.u8(flags);
  if (s.subscriptionId !== undefined) w.u32(s.subscriptionId);
  return w.finish();
}

export function decodeSubscription(clientId: string, filter: string, buf: Buffer): SubscriptionRecord {
  const r = new Reader(buf, 'subscription');
  r.format();
  const flags = r.u8();
  const retainHandling = (flags >> 4) & 3;
  if (retainHandling > 2) throw new CorruptValue('subscription', `retain handling ${retainHandling}`);
  const s: SubscriptionRecord = {
    clientId,
    filter,
    qos: qosOf(flags & 3, 'subscription'),
    noLocal: (flags & 4) !== 0,
    retainAsPublished: (flags & 8) !== 0,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
  if (flags & 64) s.subscriptionId = r.u32();
  r.end();
  return s;
}

const STATES = ['queued', 'sent', 'pubrel'] as const;

// Outbound flags: bits 0-1 qos, 2-3 state, 4 packetId present, 5 subscriptionIds present,
// 6 retain present, 7 retain value.
export function encodeOutbound(e: OutboundEntry): Buffer {
  const w = new Writer(16 + e.messageId.length * 3 + (e.subscriptionIds?.length ?? 0) * 4);
  w.u8(FORMAT_V1);
  let flags = e.qos | (STATES.indexOf(e.state) << 2);
  if (e.packetId !== undefined) flags |= 16;
  if (e.subscriptionIds !== undefined) flags |= 32;
  if (e.retain !== undefined) flags |= 64 | (e.retain ? 128 : 0);
  w.u8(flags);
  w.str(e.messageId);
  if (e.packetId !== undefined) w.u16(e.packetId);
  if (e.subscriptionIds !== undefined) {
    w.u32(e.subscriptionIds.length);
    for (const id of e.subscriptionIds) w.u32(id);
  }
  return w.finish();
}

export function decodeOutbound(clientId: string, seq: number, buf: Buffer): OutboundEntry {
  const r = new Reader(buf, 'outbound entry');
  r.format();
  const flags = r.u8();
  const state = STATES[(flags >> 2) & 3];
  if (state === undefined) throw new CorruptValue('outbound entry', `state ${(flags >> 2) & 3}`);
  const e: OutboundEntry = {
    clientId,
    seq,
    messageId: r.str(),
    qos: qosOf(flags & 3, 'outbound entry'),
    state,
  };
  if (flags & 16) e.packetId = r.u16();
  if (flags & 32) {
    const n = r.u32();
    const ids: number[] = [];
    for (let i = 0; i < n; i++) ids.push(r.u32());
    e.subscriptionIds = ids;
  }
  if (flags & 64) e.retain = (flags & 128) !== 0;
  r.end();
  return e;
}

/** The message id of an encoded outbound entry, without decoding the rest. */
export function outboundMessageId(buf: Buffer): string {
  const r = new Reader(buf, 'outbound entry');
  r.format();
  r.u8();
  return r.str();
}

export function encodeDelayed(fireAt: number, message: StoredMessage): Buffer {
  const w = new Writer(messageSizeHint(message) + 8);
  w.u8(FORMAT_V1);
  w.f64(fireAt);
  writeMessageFields(w, message);
  return w.finish();
}

export function decodeDelayed(id: string, buf: Buffer): { id: string; fireAt: number; message: StoredMessage } {
  const r = new Reader(buf, 'delayed record');
  r.format();
  const fireAt = r.f64();
  const message = readMessageFields(r, 'delayed record');
  r.end();
  return { id, message, fireAt };
}
