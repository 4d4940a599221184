// A whole session (MqttBroker.SessionState) as bytes, for the takeover answer on the link. JSON
// with base64 payloads: a takeover happens once per reconnect, not per message, and a readable
// format is easier to check than a second protobuf schema of every record.

import type { SessionState } from '../mqtt/broker.js';
import type { OutMsg } from '../mqtt/session.js';
import type { StoredMessage, WillRecord } from '../storage/driver.js';
import { decodeProperties, encodeProperties } from './link-codec.js';

interface WireMessage {
  id: string;
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties?: string;
  createdAt: number;
  expiresAt?: number;
  origin?: string;
}

function messageOut(m: StoredMessage): WireMessage {
  return {
    id: m.id, topic: m.topic, payload: m.payload.toString('base64'), qos: m.qos, retain: m.retain,
    properties: m.properties === undefined ? undefined : encodeProperties(m.properties),
    createdAt: m.createdAt, expiresAt: m.expiresAt, origin: m.origin,
  };
}

function messageIn(w: WireMessage): StoredMessage {
  const m: StoredMessage = { id: w.id, topic: w.topic, payload: Buffer.from(w.payload, 'base64'), qos: w.qos, retain: w.retain, createdAt: w.createdAt };
  if (w.properties !== undefined) m.properties = decodeProperties(w.properties);
  if (w.expiresAt !== undefined) m.expiresAt = w.expiresAt;
  if (w.origin !== undefined) m.origin = w.origin;
  return m;
}

function willOut(w: WillRecord | null | undefined): unknown {
  return w === null || w === undefined ? null : { message: messageOut(w.message), delayInterval: w.delayInterval };
}

/**
 * `cutSeq`: the last batch the handing-over broker had put on its link to the receiver when it
 * let the session go; what it forwards in later batches was routed after, so the receiver delivers
 * those to the session too (see BrokerCluster.claimSession).
 */
export function encodeSessionState(s: SessionState, cutSeq = 0): Uint8Array {
  return Buffer.from(JSON.stringify({
    cutSeq,
    record: { ...s.record, will: willOut(s.record.will) },
    subscriptions: s.subscriptions,
    outbound: s.outbound.map((e) => ({
      seq: e.seq, message: messageOut(e.message), qos: e.qos, retain: e.retain, subIds: e.subIds,
      packetId: e.packetId, state: e.state, group: e.group,
    })),
    inbound2: s.inbound2,
    nextSeq: s.nextSeq,
  }));
}

export function decodeSessionState(bytes: Uint8Array): SessionState & { cutSeq: number } {
  const o = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as {
    cutSeq?: number;
    record: SessionState['record'] & { will: { message: WireMessage; delayInterval: number } | null };
    subscriptions: SessionState['subscriptions'];
    outbound: Array<Omit<OutMsg, 'message' | 'persisted'> & { message: WireMessage }>;
    inbound2: number[];
    nextSeq: number;
  };
  const w = o.record.will;
  return {
    record: { ...o.record, will: w === null ? null : { message: messageIn(w.message), delayInterval: w.delayInterval } },
    subscriptions: o.subscriptions,
    outbound: o.outbound.map((e) => ({ ...e, message: messageIn(e.message), persisted: false })),
    inbound2: o.inbound2,
    nextSeq: o.nextSeq,
    cutSeq: o.cutSeq ?? 0,
  };
}

/** What placement's session object carries for other brokers (`data`): the will, so a survivor can publish it. */
export interface SessionMeta {
  will: WillRecord | null;
  expiryInterval: number;
}

export function encodeSessionMeta(m: SessionMeta): Uint8Array {
  return Buffer.from(JSON.stringify({ will: willOut(m.will), expiryInterval: m.expiryInterval }));
}

/** Undefined for an empty or unreadable `data` (an object written by an older broker, say). */
export function decodeSessionMeta(bytes: Uint8Array): SessionMeta | undefined {
  if (bytes.byteLength === 0) return undefined;
  try {
    const o = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as {
      will: { message: WireMessage; delayInterval: number } | null;
      expiryInterval: number;
    };
    const w = o.will;
    return { will: w === null ? null : { message: messageIn(w.message), delayInterval: w.delayInterval }, expiryInterval: o.expiryInterval };
  } catch {
    return undefined;
  }
}
