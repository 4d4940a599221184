// The broker's fan-out fast path: one PUBLISH, sized first, written into one Buffer.allocUnsafe,
// with no intermediate arrays and no global caches. encode() uses it for PUBLISH too.

import { EncodeError } from './errors.js';
import type { ProtocolVersion, PublishProperties, QoS } from './packets.js';
import { propertiesSize, writeProperties } from './properties.js';
import { checkPacketId, checkRemainingLength, vbiSize, writeVbi } from './wire-write.js';

export interface PublishToEncode {
  topic: string | Buffer;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  messageId?: number;
  properties?: PublishProperties;
}

export function encodePublish(p: PublishToEncode, protocolVersion: ProtocolVersion): Buffer {
  const topic = p.topic;
  const topicIsString = typeof topic === 'string';
  const topicLength = topicIsString ? Buffer.byteLength(topic, 'utf8') : topic.length;
  if (topicLength > 0xffff) {
    throw new EncodeError(`PUBLISH topic is ${topicLength} bytes; a UTF-8 string holds at most 65535 (MQTT 5 §1.5.4)`);
  }
  const qos = p.qos;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new EncodeError(`PUBLISH qos must be 0, 1 or 2, got ${String(qos)}`);
  if (qos === 0 && p.dup) throw new EncodeError('[MQTT-3.3.1-2] PUBLISH with QoS 0 must not set DUP');
  const payload = p.payload;
  if (!Buffer.isBuffer(payload)) throw new EncodeError('PUBLISH payload must be a Buffer');

  let length = 2 + topicLength + payload.length;
  if (qos > 0) {
    checkPacketId(p.messageId, 'PUBLISH');
    length += 2;
  }
  let propsLength = 0;
  if (protocolVersion === 5) {
    propsLength = propertiesSize(p.properties);
    length += vbiSize(propsLength) + propsLength;
  }
  checkRemainingLength(length, 'PUBLISH');

  const buf = Buffer.allocUnsafe(1 + vbiSize(length) + length);
  buf[0] = 0x30 | (p.dup ? 0x08 : 0) | (qos << 1) | (p.retain ? 0x01 : 0);
  let pos = writeVbi(buf, 1, length);
  buf[pos] = topicLength >>> 8;
  buf[pos + 1] = topicLength & 0xff;
  pos += 2;
  if (topicIsString) buf.write(topic, pos, 'utf8');
  else topic.copy(buf, pos);
  pos += topicLength;
  if (qos > 0) {
    const id = p.messageId as number;
    buf[pos] = id >>> 8;
    buf[pos + 1] = id & 0xff;
    pos += 2;
  }
  if (protocolVersion === 5) pos = writeProperties(buf, pos, p.properties, propsLength);
  payload.copy(buf, pos);
  return buf;
}
