// Deep copies of the records, field by field. structuredClone would turn a Buffer into a plain
// Uint8Array, and copying only the known fields keeps the memory driver's output identical to
// what a serialising driver returns. An absent optional field stays absent in the copy.

import type {
  DelayedRecord,
  MessageProperties,
  OutboundEntry,
  SessionRecord,
  StoredMessage,
  SubscriptionRecord,
} from './driver.js';

function copyBytes(b: Uint8Array): Buffer {
  return Buffer.from(b);
}

export function cloneProperties(p: MessageProperties): MessageProperties {
  const out: MessageProperties = {};
  if (p.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = copyBytes(p.correlationData);
  if (p.userProperties !== undefined) {
    // fromEntries defines own properties, so a user property named "__proto__" stays data.
    out.userProperties = Object.fromEntries(
      Object.entries(p.userProperties).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]),
    );
  }
  return out;
}

export function cloneMessage(m: StoredMessage): StoredMessage {
  const out: StoredMessage = {
    id: m.id,
    topic: m.topic,
    payload: copyBytes(m.payload),
    qos: m.qos,
    retain: m.retain,
    createdAt: m.createdAt,
  };
  if (m.properties !== undefined) out.properties = cloneProperties(m.properties);
  if (m.expiresAt !== undefined) out.expiresAt = m.expiresAt;
  if (m.origin !== undefined) out.origin = m.origin;
  return out;
}

export function cloneSession(s: SessionRecord): SessionRecord {
  const out: SessionRecord = {
    clientId: s.clientId,
    protocolVersion: s.protocolVersion,
    expiryInterval: s.expiryInterval,
    disconnectedAt: s.disconnectedAt,
  };
  if (s.will === null) out.will = null;
  else if (s.will !== undefined) out.will = { message: cloneMessage(s.will.message), delayInterval: s.will.delayInterval };
  return out;
}

export function cloneSubscription(s: SubscriptionRecord): SubscriptionRecord {
  const out: SubscriptionRecord = {
    clientId: s.clientId,
    filter: s.filter,
    qos: s.qos,
    noLocal: s.noLocal,
    retainAsPublished: s.retainAsPublished,
    retainHandling: s.retainHandling,
  };
  if (s.subscriptionId !== undefined) out.subscriptionId = s.subscriptionId;
  return out;
}

export function cloneOutbound(e: OutboundEntry): OutboundEntry {
  const out: OutboundEntry = {
    clientId: e.clientId,
    seq: e.seq,
    messageId: e.messageId,
    qos: e.qos,
    state: e.state,
  };
  if (e.packetId !== undefined) out.packetId = e.packetId;
  if (e.subscriptionIds !== undefined) out.subscriptionIds = [...e.subscriptionIds];
  if (e.retain !== undefined) out.retain = e.retain;
  return out;
}

export function cloneDelayed(r: DelayedRecord): DelayedRecord {
  return { id: r.id, message: cloneMessage(r.message), fireAt: r.fireAt };
}
