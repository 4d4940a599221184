// Packet object → bytes for every packet type. Byte-identical to mqtt-packet's generate() for the
// same input wherever mqtt-packet follows the spec (it also puts DUP on SUBSCRIBE when asked, or a
// Reason Code byte for an undefined Reason Code; we do not). Each packet is sized first and written
// into one Buffer.

import { CONNACK_RETURN_CODES } from './constants.js';
import { EncodeError } from './errors.js';
import { encodePublish } from './encode-publish.js';
import type {
  IAuthPacket,
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPubackPacket,
  IPubcompPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubackPacket,
  ISubscribePacket,
  IUnsubackPacket,
  IUnsubscribePacket,
  Packet,
  ProtocolVersion,
} from './packets.js';
import { propertiesSize, writeProperties } from './properties.js';
import {
  binarySize,
  checkPacketId,
  checkRemainingLength,
  checkU16,
  stringSize,
  vbiSize,
  writeBinary,
  writeU16,
  writeUtf8,
  writeVbi,
} from './wire-write.js';

/**
 * Encodes a packet for a connection of `protocolVersion` (CONNECT uses its own protocolVersion
 * field). Throws EncodeError for a packet object that cannot be put on the wire.
 */
export function encode(packet: Packet, protocolVersion: ProtocolVersion): Buffer {
  switch (packet.cmd) {
    case 'connect':
      return encodeConnect(packet);
    case 'connack':
      return encodeConnack(packet, protocolVersion);
    case 'publish':
      return encodePublish(packet, protocolVersion);
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
      return encodePubAck(packet, protocolVersion);
    case 'subscribe':
      return encodeSubscribe(packet, protocolVersion);
    case 'suback':
      return encodeSuback(packet, protocolVersion);
    case 'unsubscribe':
      return encodeUnsubscribe(packet, protocolVersion);
    case 'unsuback':
      return encodeUnsuback(packet, protocolVersion);
    case 'pingreq':
      return Buffer.from([0xc0, 0x00]);
    case 'pingresp':
      return Buffer.from([0xd0, 0x00]);
    case 'disconnect':
      return encodeDisconnect(packet, protocolVersion);
    case 'auth':
      return encodeAuth(packet, protocolVersion);
    default:
      throw new EncodeError(`unknown packet cmd ${JSON.stringify((packet as { cmd: unknown }).cmd)}`);
  }
}

/** Allocates the whole packet and writes byte 1 and the Remaining Length. */
function allocPacket(header: number, length: number, what: string): Buffer {
  checkRemainingLength(length, what);
  const buf = Buffer.allocUnsafe(1 + vbiSize(length) + length);
  buf[0] = header;
  writeVbi(buf, 1, length);
  return buf;
}

function bodyStart(length: number): number {
  return 1 + vbiSize(length);
}

function reasonByte(code: unknown, what: string): number {
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 0xff) {
    throw new EncodeError(`${what} must be an integer 0..255, got ${String(code)}`);
  }
  return code;
}

function encodeConnect(p: IConnectPacket): Buffer {
  const v = p.protocolVersion;
  if (v !== 3 && v !== 4 && v !== 5) throw new EncodeError(`CONNECT protocolVersion must be 3, 4 or 5, got ${String(v)}`);
  const protocolId = p.protocolId;
  if (protocolId !== 'MQTT' && protocolId !== 'MQIsdp') {
    throw new EncodeError(`CONNECT protocolId must be "MQTT" or "MQIsdp", got ${JSON.stringify(protocolId)}`);
  }
  const keepalive = checkU16(p.keepalive, 'CONNECT keepalive');
  const will = p.will;
  const hasUsername = p.username !== undefined && p.username !== null;
  const hasPassword = p.password !== undefined && p.password !== null;
  if (hasPassword && !hasUsername && v !== 5) {
    throw new EncodeError('[MQTT-3.1.2-22] CONNECT password needs a username before MQTT 5');
  }

  let length = 2 + protocolId.length + 1 + 1 + 2 + 2 + stringSize(p.clientId, 'CONNECT clientId');
  let propsLength = 0;
  if (v === 5) {
    propsLength = propertiesSize(p.properties);
    length += vbiSize(propsLength) + propsLength;
  }
  let willPropsLength = 0;
  if (will) {
    if (will.qos !== 0 && will.qos !== 1 && will.qos !== 2) throw new EncodeError(`CONNECT will.qos must be 0, 1 or 2, got ${String(will.qos)}`);
    length += 2 + stringSize(will.topic, 'CONNECT will.topic') + 2 + binarySize(will.payload, 'CONNECT will.payload');
    if (v === 5) {
      willPropsLength = propertiesSize(will.properties);
      length += vbiSize(willPropsLength) + willPropsLength;
    }
  }
  if (hasUsername) length += 2 + stringSize(p.username as string, 'CONNECT username');
  if (hasPassword) length += 2 + binarySize(p.password as Buffer, 'CONNECT password');

  const buf = allocPacket(0x10, length, 'CONNECT');
  let pos = bodyStart(length);
  pos = writeUtf8(buf, pos, protocolId);
  buf[pos++] = p.bridgeMode ? v | 0x80 : v;
  buf[pos++] =
    (hasUsername ? 0x80 : 0) |
    (hasPassword ? 0x40 : 0) |
    (will && will.retain ? 0x20 : 0) |
    (will ? (will.qos << 3) | 0x04 : 0) |
    (p.clean ? 0x02 : 0);
  pos = writeU16(buf, pos, keepalive);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLength);
  pos = writeUtf8(buf, pos, p.clientId);
  if (will) {
    if (v === 5) pos = writeProperties(buf, pos, will.properties, willPropsLength);
    pos = writeUtf8(buf, pos, will.topic);
    pos = writeBinary(buf, pos, will.payload);
  }
  if (hasUsername) pos = writeUtf8(buf, pos, p.username as string);
  if (hasPassword) writeBinary(buf, pos, p.password as Buffer);
  return buf;
}

function encodeConnack(p: IConnackPacket, v: ProtocolVersion): Buffer {
  const code = reasonByte(v === 5 ? (p.reasonCode ?? p.returnCode) : (p.returnCode ?? p.reasonCode), v === 5 ? 'CONNACK reasonCode' : 'CONNACK returnCode');
  if (v !== 5 && !CONNACK_RETURN_CODES[code]) {
    throw new EncodeError(`CONNACK returnCode ${code} is reserved before MQTT 5 (MQTT 3.1.1 §3.2.2.3: 0-5)`);
  }
  let length = 2;
  let propsLength = 0;
  if (v === 5) {
    propsLength = propertiesSize(p.properties);
    length += vbiSize(propsLength) + propsLength;
  }
  const buf = allocPacket(0x20, length, 'CONNACK');
  let pos = bodyStart(length);
  buf[pos++] = p.sessionPresent ? 1 : 0;
  buf[pos++] = code;
  if (v === 5) writeProperties(buf, pos, p.properties, propsLength);
  return buf;
}

const ACK_HEADER = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 } as const;

function encodePubAck(p: IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket, v: ProtocolVersion): Buffer {
  const header = ACK_HEADER[p.cmd];
  const id = checkU16(p.messageId, `${p.cmd.toUpperCase()} messageId`);
  if (v !== 5) {
    const buf = Buffer.allocUnsafe(4);
    buf[0] = header;
    buf[1] = 2;
    writeU16(buf, 2, id);
    return buf;
  }
  const code = reasonByte(p.reasonCode ?? 0, `${p.cmd.toUpperCase()} reasonCode`);
  // MQTT 5 §3.4.2.1: Reason Code 0x00 without properties may be left out (Remaining Length 2).
  if (p.properties === undefined || p.properties === null) {
    if (code === 0) {
      const buf = Buffer.allocUnsafe(4);
      buf[0] = header;
      buf[1] = 2;
      writeU16(buf, 2, id);
      return buf;
    }
    // mqtt-packet writes an explicit empty Property Length here; so do we, for identical bytes.
    const buf = Buffer.allocUnsafe(6);
    buf[0] = header;
    buf[1] = 4;
    writeU16(buf, 2, id);
    buf[4] = code;
    buf[5] = 0;
    return buf;
  }
  const propsLength = propertiesSize(p.properties);
  const length = 3 + vbiSize(propsLength) + propsLength;
  const buf = allocPacket(header, length, p.cmd.toUpperCase());
  let pos = writeU16(buf, bodyStart(length), id);
  buf[pos++] = code;
  writeProperties(buf, pos, p.properties, propsLength);
  return buf;
}

function encodeSubscribe(p: ISubscribePacket, v: ProtocolVersion): Buffer {
  const id = checkPacketId(p.messageId, 'SUBSCRIBE');
  const subs = p.subscriptions;
  if (!Array.isArray(subs) || subs.length === 0) {
    throw new EncodeError('[MQTT-3.8.3-3] SUBSCRIBE needs at least one subscription');
  }
  let length = 2;
  let propsLength = 0;
  if (v === 5) {
    propsLength = propertiesSize(p.properties);
    length += vbiSize(propsLength) + propsLength;
  }
  for (const s of subs) {
    if (s.qos !== 0 && s.qos !== 1 && s.qos !== 2) throw new EncodeError(`SUBSCRIBE qos must be 0, 1 or 2, got ${String(s.qos)}`);
    if (v === 5 && s.rh !== undefined && s.rh !== 0 && s.rh !== 1 && s.rh !== 2) {
      throw new EncodeError(`SUBSCRIBE rh (Retain Handling) must be 0, 1 or 2, got ${String(s.rh)}`);
    }
    length += 3 + stringSize(s.topic, 'SUBSCRIBE topic');
  }
  const buf = allocPacket(0x82, length, 'SUBSCRIBE');
  let pos = writeU16(buf, bodyStart(length), id);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLength);
  for (const s of subs) {
    pos = writeUtf8(buf, pos, s.topic);
    let options: number = s.qos;
    if (v === 5) options |= (s.nl ? 0x04 : 0) | (s.rap ? 0x08 : 0) | ((s.rh ?? 0) << 4);
    buf[pos++] = options;
  }
  return buf;
}

function writeCodes(buf: Buffer, pos: number, codes: number[], what: string): number {
  for (const c of codes) buf[pos++] = reasonByte(c, what);
  return pos;
}

function encodeSuback(p: ISubackPacket, v: ProtocolVersion): Buffer {
  const id = checkU16(p.messageId, 'SUBACK messageId');
  const granted = p.granted;
  if (!Array.isArray(granted) || granted.length === 0) throw new EncodeError('SUBACK needs one granted code per subscription');
  let length = 2 + granted.length;
  let propsLength = 0;
  if (v === 5) {
    propsLength = propertiesSize(p.properties);
    length += vbiSize(propsLength) + propsLength;
  }
  const buf = allocPacket(0x90, length, 'SUBACK');
  let pos = writeU16(buf, bodyStart(length), id);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLength);
  writeCodes(buf, pos, granted, 'SUBACK granted code');
  return buf;
}

function encodeUnsubscribe(p: IUnsubscribePacket, v: ProtocolVersion): Buffer {
  const id = checkPacketId(p.messageId, 'UNSUBSCRIBE');
  const topics = p.unsubscriptions;
  if (!Array.isArray(topics) || topics.length === 0) {
    throw new EncodeError('[MQTT-3.10.3-2] UNSUBSCRIBE needs at least one topic filter');
  }
  let length = 2;
  for (const t of topics) length += 2 + stringSize(t, 'UNSUBSCRIBE topic');
  let propsLength = 0;
  if (v === 5) {
    propsLength = propertiesSize(p.properties);
    length += vbiSize(propsLength) + propsLength;
  }
  const buf = allocPacket(0xa2, length, 'UNSUBSCRIBE');
  let pos = writeU16(buf, bodyStart(length), id);
  if (v === 5) pos = writeProperties(buf, pos, p.properties, propsLength);
  for (const t of topics) pos = writeUtf8(buf, pos, t);
  return buf;
}

function encodeUnsuback(p: IUnsubackPacket, v: ProtocolVersion): Buffer {
  const id = checkU16(p.messageId, 'UNSUBACK messageId');
  if (v !== 5) {
    const buf = Buffer.allocUnsafe(4);
    buf[0] = 0xb0;
    buf[1] = 2;
    writeU16(buf, 2, id);
    return buf;
  }
  const granted = p.granted;
  if (!Array.isArray(granted) || granted.length === 0) throw new EncodeError('MQTT 5 UNSUBACK needs one reason code per topic filter');
  const propsLength = propertiesSize(p.properties);
  const length = 2 + vbiSize(propsLength) + propsLength + granted.length;
  const buf = allocPacket(0xb0, length, 'UNSUBACK');
  let pos = writeU16(buf, bodyStart(length), id);
  pos = writeProperties(buf, pos, p.properties, propsLength);
  writeCodes(buf, pos, granted, 'UNSUBACK reason code');
  return buf;
}

function encodeDisconnect(p: IDisconnectPacket, v: ProtocolVersion): Buffer {
  if (v !== 5) return Buffer.from([0xe0, 0x00]);
  const code = reasonByte(p.reasonCode ?? 0, 'DISCONNECT reasonCode');
  const propsLength = propertiesSize(p.properties);
  const length = 1 + vbiSize(propsLength) + propsLength;
  const buf = allocPacket(0xe0, length, 'DISCONNECT');
  const pos = bodyStart(length);
  buf[pos] = code;
  writeProperties(buf, pos + 1, p.properties, propsLength);
  return buf;
}

function encodeAuth(p: IAuthPacket, v: ProtocolVersion): Buffer {
  if (v !== 5) throw new EncodeError('AUTH exists only in MQTT 5 (MQTT 5 §3.15)');
  const code = reasonByte(p.reasonCode ?? 0, 'AUTH reasonCode');
  const propsLength = propertiesSize(p.properties);
  const length = 1 + vbiSize(propsLength) + propsLength;
  const buf = allocPacket(0xf0, length, 'AUTH');
  const pos = bodyStart(length);
  buf[pos] = code;
  writeProperties(buf, pos + 1, p.properties, propsLength);
  return buf;
}
