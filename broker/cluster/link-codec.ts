// A StoredMessage on the inter-broker link (proto/broker.proto LinkMessage) and back. Message
// properties travel as JSON, correlation data as base64: they are rare and small, and JSON keeps
// the wire format independent of mqtt-packet's property object shape.

import { create } from '@bufbuild/protobuf';
import { LinkMessageSchema, type LinkMessage } from '../../proto/gen/broker_pb.js';
import type { MessageProperties, QoS, StoredMessage } from '../storage/driver.js';

export function toLinkMessage(m: StoredMessage, sharedGroups: string[], retainOnly: boolean): LinkMessage {
  return create(LinkMessageSchema, {
    topic: m.topic,
    payload: m.payload,
    qos: m.qos,
    retain: m.retain,
    properties: m.properties === undefined ? '' : encodeProperties(m.properties),
    createdAtMs: m.createdAt,
    expiresAtMs: m.expiresAt ?? 0,
    origin: m.origin ?? '',
    sharedGroups,
    retainOnly,
    id: m.id,
  });
}

/** The message as the receiving broker keeps it, under the id the publishing broker gave it (if any). */
export function fromLinkMessage(l: LinkMessage): StoredMessage {
  const payload = Buffer.from(l.payload.buffer, l.payload.byteOffset, l.payload.byteLength);
  return {
    id: l.id, topic: l.topic, payload, qos: (l.qos > 2 ? 2 : l.qos) as QoS, retain: l.retain,
    properties: l.properties === '' ? undefined : decodeProperties(l.properties),
    createdAt: l.createdAtMs, expiresAt: l.expiresAtMs === 0 ? undefined : l.expiresAtMs,
    origin: l.origin === '' ? undefined : l.origin,
  };
}

export function encodeProperties(p: MessageProperties): string {
  const { correlationData, ...rest } = p;
  return JSON.stringify(correlationData === undefined ? rest : { ...rest, correlationData: correlationData.toString('base64') });
}

export function decodeProperties(json: string): MessageProperties {
  const o = JSON.parse(json) as MessageProperties & { correlationData?: string };
  const { correlationData, ...rest } = o;
  return correlationData === undefined ? rest : { ...rest, correlationData: Buffer.from(correlationData, 'base64') };
}
