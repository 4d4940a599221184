// Decoding of one complete packet body (everything after the fixed header) into a packet object.
// The fixed header was validated by the parser; every rule here cites its clause. Failures are
// thrown as DecodeFailure and returned to the caller by the parser.

import {
  AUTH_REASON_CODES,
  CONNACK_REASON_CODES,
  CONNACK_RETURN_CODES,
  DISCONNECT_REASON_CODES,
  NAME_BY_TYPE,
  CMD_BY_TYPE,
  PacketType,
  PUBACK_REASON_CODES,
  PUBREL_REASON_CODES,
  SUBACK_REASON_CODES,
  SUBACK_RETURN_CODES,
  UNSUBACK_REASON_CODES,
} from './constants.js';
import { cite, codecError, DecodeFailure } from './errors.js';
import type {
  AckProperties,
  AuthProperties,
  ConnackProperties,
  ConnectProperties,
  DisconnectProperties,
  IAuthPacket,
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubackPacket,
  ISubscribePacket,
  ISubscription,
  IUnsubackPacket,
  IUnsubscribePacket,
  Packet,
  ProtocolVersion,
  PublishProperties,
  QoS,
  SubscribeProperties,
  UnsubscribeProperties,
  WillProperties,
} from './packets.js';
import { readProperties, WILL } from './properties.js';
import { Reader } from './reader.js';

/**
 * Decodes buf[start, end), the body of a packet of `type` whose fixed-header flags are `flags`.
 * `version` is the connection's protocol version (CONNECT reads its own).
 */
export function decodeBody(
  type: number,
  flags: number,
  buf: Buffer,
  start: number,
  end: number,
  owned: boolean,
  version: ProtocolVersion,
): Packet {
  const r = new Reader(buf, start, end, version, NAME_BY_TYPE[type], CMD_BY_TYPE[type] as string, owned);
  switch (type) {
    case PacketType.CONNECT:
      return decodeConnect(r);
    case PacketType.CONNACK:
      return decodeConnack(r);
    case PacketType.PUBLISH:
      return decodePublish(r, flags);
    case PacketType.PUBACK:
    case PacketType.PUBREC:
    case PacketType.PUBREL:
    case PacketType.PUBCOMP:
      return decodePubAck(r, type);
    case PacketType.SUBSCRIBE:
      return decodeSubscribe(r);
    case PacketType.SUBACK:
      return decodeSuback(r);
    case PacketType.UNSUBSCRIBE:
      return decodeUnsubscribe(r);
    case PacketType.UNSUBACK:
      return decodeUnsuback(r);
    case PacketType.PINGREQ:
      r.expectEnd('the fixed header');
      return { cmd: 'pingreq' };
    case PacketType.PINGRESP:
      r.expectEnd('the fixed header');
      return { cmd: 'pingresp' };
    case PacketType.DISCONNECT:
      return decodeDisconnect(r);
    default:
      // The parser only passes AUTH to MQTT 5 connections.
      return decodeAuth(r);
  }
}

const MQTT = [0x4d, 0x51, 0x54, 0x54]; // "MQTT"
const MQISDP = [0x4d, 0x51, 0x49, 0x73, 0x64, 0x70]; // "MQIsdp"

function bytesEqual(buf: Buffer, start: number, len: number, want: number[]): boolean {
  if (len !== want.length) return false;
  for (let i = 0; i < len; i++) if (buf[start + i] !== want[i]) return false;
  return true;
}

function refuseConnect(
  kind: 'unsupported_protocol_version' | 'unsupported_protocol_name',
  message: string,
  answerVersion: ProtocolVersion | undefined,
): never {
  throw new DecodeFailure(codecError(kind, message, 'connect', answerVersion));
}

function decodeConnect(r: Reader): IConnectPacket {
  // Protocol Name and Level decide which rules apply, so they are checked before anything else
  // and the error says which CONNACK format the client can read.
  const nameLen = r.u16('Protocol Name length');
  const nameStart = r.pos;
  if (r.remaining() < nameLen) {
    r.malformed(`CONNECT Protocol Name: declared length ${nameLen} exceeds the ${r.remaining()} bytes left`);
  }
  r.pos += nameLen;
  const isMqtt = bytesEqual(r.buf, nameStart, nameLen, MQTT);
  const isMqisdp = !isMqtt && bytesEqual(r.buf, nameStart, nameLen, MQISDP);
  if (!isMqtt && !isMqisdp) {
    const shown = JSON.stringify(r.buf.toString('latin1', nameStart, nameStart + Math.min(nameLen, 32)));
    // [MQTT-3.1.2-1] (MQTT 5) lets the server answer 0x84 when the client speaks level 5.
    const level = r.remaining() > 0 ? r.buf[r.pos] : -1;
    refuseConnect(
      'unsupported_protocol_name',
      `[MQTT-3.1.2-1] CONNECT Protocol Name ${shown} is neither "MQTT" (3.1.1, 5.0) nor "MQIsdp" (3.1)`,
      level === 5 ? 5 : undefined,
    );
  }
  const levelByte = r.u8('Protocol Level');
  // Bit 7 marks a bridge connection (mosquitto's extension); the level is in bits 0-6.
  const bridgeMode = levelByte >= 0x80 && ((levelByte & 0x7f) === 3 || (levelByte & 0x7f) === 4 || (levelByte & 0x7f) === 5);
  const level = bridgeMode ? levelByte & 0x7f : levelByte;
  if (isMqtt ? level !== 4 && level !== 5 : level !== 3) {
    const answer: ProtocolVersion = level >= 5 ? 5 : isMqisdp ? 3 : 4;
    refuseConnect(
      'unsupported_protocol_version',
      `[MQTT-3.1.2-2] CONNECT Protocol Level ${levelByte} is not supported with Protocol Name ` +
        `"${isMqtt ? 'MQTT' : 'MQIsdp'}" (supported: "MQIsdp" level 3, "MQTT" level 4 or 5)`,
      answer,
    );
  }
  const v = level as ProtocolVersion;
  const cr = new Reader(r.buf, r.pos, r.end, v, 'CONNECT', 'connect', r.owned);

  const flags = cr.u8('Connect Flags');
  if (flags & 0x01) {
    cr.malformed('[MQTT-3.1.2-3] CONNECT reserved flag (bit 0 of Connect Flags) must be 0');
  }
  const clean = (flags & 0x02) !== 0;
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 0x03;
  const willRetain = (flags & 0x20) !== 0;
  const passwordFlag = (flags & 0x40) !== 0;
  const usernameFlag = (flags & 0x80) !== 0;
  if (!willFlag) {
    if (willQos !== 0) {
      cr.malformed(
        `${cite(v, '[MQTT-3.1.2-11]', '[MQTT-3.1.2-13]')} CONNECT Will QoS must be 0 when the Will Flag is 0, got ${willQos}`,
      );
    }
    if (willRetain) {
      cr.malformed(`${cite(v, '[MQTT-3.1.2-13]', '[MQTT-3.1.2-15]')} CONNECT Will Retain must be 0 when the Will Flag is 0`);
    }
  } else if (willQos === 3) {
    cr.malformed(`${cite(v, '[MQTT-3.1.2-12]', '[MQTT-3.1.2-14]')} CONNECT Will QoS must not be 3`);
  }
  if (passwordFlag && !usernameFlag && v !== 5) {
    cr.malformed('[MQTT-3.1.2-22] CONNECT Password Flag is set without the User Name Flag');
  }
  const keepalive = cr.u16('Keep Alive');
  const properties = v === 5 ? (readProperties(cr, PacketType.CONNECT, 'properties') as ConnectProperties | undefined) : undefined;
  const clientId = cr.utf8('Client Identifier');

  const packet: IConnectPacket = {
    cmd: 'connect',
    protocolId: isMqtt ? 'MQTT' : 'MQIsdp',
    protocolVersion: v,
    clean,
    keepalive,
    clientId,
  };
  if (bridgeMode) packet.bridgeMode = true;
  if (properties !== undefined) packet.properties = properties;
  if (willFlag) {
    const willProperties = v === 5 ? (readProperties(cr, WILL, 'Will Properties') as WillProperties | undefined) : undefined;
    const topic = cr.utf8('Will Topic');
    const payload = cr.binary('Will Payload');
    packet.will = { topic, payload, qos: willQos as QoS, retain: willRetain };
    if (willProperties !== undefined) packet.will.properties = willProperties;
  }
  if (usernameFlag) packet.username = cr.utf8('User Name');
  if (passwordFlag) packet.password = cr.binary('Password');
  cr.expectEnd('its last payload field');
  return packet;
}

function decodeConnack(r: Reader): IConnackPacket {
  const flags = r.u8('Connect Acknowledge Flags');
  if (flags & 0xfe) {
    r.malformed(`${cite(r.version, '[MQTT-3.2.2-1]', 'MQTT 3.1.1 §3.2.2.1')} CONNACK Connect Acknowledge Flags bits 7-1 are reserved and must be 0, got 0x${flags.toString(16)}`);
  }
  const code = r.u8(r.version === 5 ? 'Reason Code' : 'Connect Return code');
  const packet: IConnackPacket = { cmd: 'connack', sessionPresent: flags === 1 };
  if (r.version === 5) {
    if (!CONNACK_REASON_CODES[code]) r.malformed(`CONNACK Reason Code 0x${code.toString(16)} is not defined (MQTT 5 §3.2.2.2)`);
    packet.reasonCode = code;
    const props = readProperties(r, PacketType.CONNACK, 'properties') as ConnackProperties | undefined;
    if (props !== undefined) packet.properties = props;
  } else {
    if (!CONNACK_RETURN_CODES[code]) r.malformed(`CONNACK Connect Return code ${code} is reserved (MQTT 3.1.1 §3.2.2.3)`);
    packet.returnCode = code;
  }
  r.expectEnd(r.version === 5 ? 'its properties' : 'the Connect Return code');
  return packet;
}

function decodePublish(r: Reader, flags: number): IPublishPacket {
  const qos = ((flags >> 1) & 0x03) as QoS;
  const topic = r.utf8('Topic Name');
  let messageId: number | undefined;
  if (qos > 0) {
    messageId = r.u16('Packet Identifier');
    if (messageId === 0) {
      r.protocolError(`${cite(r.version, '[MQTT-2.2.1-3]', '[MQTT-2.3.1-1]')} PUBLISH with QoS ${qos} must have a non-zero Packet Identifier`);
    }
  }
  const properties = r.version === 5 ? (readProperties(r, PacketType.PUBLISH, 'properties') as PublishProperties | undefined) : undefined;
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic,
    payload: r.rest(),
    qos,
    dup: (flags & 0x08) !== 0,
    retain: (flags & 0x01) !== 0,
  };
  if (messageId !== undefined) packet.messageId = messageId;
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodePubAck(r: Reader, type: number): Packet {
  const cmd = r.cmd as 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
  const messageId = r.u16('Packet Identifier');
  if (r.version !== 5) {
    r.expectEnd('the Packet Identifier');
    return { cmd, messageId };
  }
  // MQTT 5 §3.4.2.1: the Reason Code may be omitted (0x00); with Remaining Length < 4 there is
  // no Property Length.
  let reasonCode = 0;
  let properties: AckProperties | undefined;
  if (r.remaining() > 0) {
    reasonCode = r.u8('Reason Code');
    const table = type === PacketType.PUBACK || type === PacketType.PUBREC ? PUBACK_REASON_CODES : PUBREL_REASON_CODES;
    if (!table[reasonCode]) r.malformed(`${r.name} Reason Code 0x${reasonCode.toString(16)} is not defined (MQTT 5 §3.4.2.1, §3.5.2.1, §3.6.2.1, §3.7.2.1)`);
    if (r.remaining() > 0) properties = readProperties(r, type, 'properties') as AckProperties | undefined;
  }
  r.expectEnd('its properties');
  const packet = { cmd, messageId, reasonCode } as { cmd: typeof cmd; messageId: number; reasonCode: number; properties?: AckProperties };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function readNonZeroPacketId(r: Reader): number {
  const id = r.u16('Packet Identifier');
  if (id === 0) {
    r.protocolError(`${cite(r.version, '[MQTT-2.2.1-3]', '[MQTT-2.3.1-1]')} ${r.name} must have a non-zero Packet Identifier`);
  }
  return id;
}

function decodeSubscribe(r: Reader): ISubscribePacket {
  const v = r.version;
  const messageId = readNonZeroPacketId(r);
  const properties = v === 5 ? (readProperties(r, PacketType.SUBSCRIBE, 'properties') as SubscribeProperties | undefined) : undefined;
  const subscriptions: ISubscription[] = [];
  while (r.remaining() > 0) {
    const topic = r.utf8('Topic Filter');
    const options = r.u8('Subscription Options');
    const qos = options & 0x03;
    if (v === 5) {
      if (options & 0xc0) {
        r.malformed(`[MQTT-3.8.3-5] SUBSCRIBE Subscription Options reserved bits 7-6 must be 0, got 0x${options.toString(16)}`);
      }
      if (qos === 3) r.protocolError('SUBSCRIBE Subscription Options Maximum QoS must not be 3 (MQTT 5 §3.8.3.1: a Protocol Error)');
      const rh = (options >> 4) & 0x03;
      if (rh === 3) r.protocolError('SUBSCRIBE Subscription Options Retain Handling must not be 3 (MQTT 5 §3.8.3.1: a Protocol Error)');
      subscriptions.push({ topic, qos: qos as QoS, nl: (options & 0x04) !== 0, rap: (options & 0x08) !== 0, rh: rh as 0 | 1 | 2 });
    } else {
      if (options & 0xfc || qos === 3) {
        r.malformed(`[MQTT-3-8.3-4] SUBSCRIBE Requested QoS byte must be 0, 1 or 2 with bits 7-2 zero, got 0x${options.toString(16)}`);
      }
      subscriptions.push({ topic, qos: qos as QoS });
    }
  }
  if (subscriptions.length === 0) {
    r.protocolError(`${cite(v, '[MQTT-3.8.3-2]', '[MQTT-3.8.3-3]')} SUBSCRIBE must contain at least one Topic Filter`);
  }
  const packet: ISubscribePacket = { cmd: 'subscribe', messageId, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeSuback(r: Reader): ISubackPacket {
  const messageId = r.u16('Packet Identifier');
  const properties = r.version === 5 ? (readProperties(r, PacketType.SUBACK, 'properties') as AckProperties | undefined) : undefined;
  const table = r.version === 5 ? SUBACK_REASON_CODES : SUBACK_RETURN_CODES;
  const granted: number[] = [];
  while (r.remaining() > 0) {
    const code = r.u8('Reason Code');
    if (!table[code]) {
      r.malformed(`${cite(r.version, 'MQTT 5 §3.9.3', '[MQTT-3.9.3-2]')} SUBACK return code 0x${code.toString(16)} is not defined`);
    }
    granted.push(code);
  }
  if (granted.length === 0) r.malformed('SUBACK must contain a return code for each Topic Filter, got none (§3.9.3)');
  const packet: ISubackPacket = { cmd: 'suback', messageId, granted };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeUnsubscribe(r: Reader): IUnsubscribePacket {
  const messageId = readNonZeroPacketId(r);
  const properties = r.version === 5 ? (readProperties(r, PacketType.UNSUBSCRIBE, 'properties') as UnsubscribeProperties | undefined) : undefined;
  const unsubscriptions: string[] = [];
  while (r.remaining() > 0) unsubscriptions.push(r.utf8('Topic Filter'));
  if (unsubscriptions.length === 0) {
    r.protocolError('[MQTT-3.10.3-2] UNSUBSCRIBE must contain at least one Topic Filter');
  }
  const packet: IUnsubscribePacket = { cmd: 'unsubscribe', messageId, unsubscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeUnsuback(r: Reader): IUnsubackPacket {
  const messageId = r.u16('Packet Identifier');
  if (r.version !== 5) {
    r.expectEnd('the Packet Identifier');
    return { cmd: 'unsuback', messageId };
  }
  const properties = readProperties(r, PacketType.UNSUBACK, 'properties') as AckProperties | undefined;
  const granted: number[] = [];
  while (r.remaining() > 0) {
    const code = r.u8('Reason Code');
    if (!UNSUBACK_REASON_CODES[code]) r.malformed(`UNSUBACK Reason Code 0x${code.toString(16)} is not defined (MQTT 5 §3.11.3)`);
    granted.push(code);
  }
  if (granted.length === 0) r.malformed('UNSUBACK must contain a Reason Code for each Topic Filter, got none (MQTT 5 §3.11.3)');
  const packet: IUnsubackPacket = { cmd: 'unsuback', messageId, granted };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeDisconnect(r: Reader): IDisconnectPacket {
  if (r.version !== 5) {
    r.expectEnd('the fixed header');
    return { cmd: 'disconnect' };
  }
  // MQTT 5 §3.14.2.1: Remaining Length 0 means Reason Code 0x00; below 2 there are no properties.
  let reasonCode = 0;
  let properties: DisconnectProperties | undefined;
  if (r.remaining() > 0) {
    reasonCode = r.u8('Reason Code');
    if (!DISCONNECT_REASON_CODES[reasonCode]) r.malformed(`DISCONNECT Reason Code 0x${reasonCode.toString(16)} is not defined (MQTT 5 §3.14.2.1)`);
    if (r.remaining() > 0) properties = readProperties(r, PacketType.DISCONNECT, 'properties') as DisconnectProperties | undefined;
  }
  r.expectEnd('its properties');
  const packet: IDisconnectPacket = { cmd: 'disconnect', reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function decodeAuth(r: Reader): IAuthPacket {
  // MQTT 5 §3.15.2.1: Remaining Length 0 means Reason Code 0x00 and no properties.
  let reasonCode = 0;
  let properties: AuthProperties | undefined;
  if (r.remaining() > 0) {
    reasonCode = r.u8('Reason Code');
    if (!AUTH_REASON_CODES[reasonCode]) r.malformed(`AUTH Reason Code 0x${reasonCode.toString(16)} is not defined (MQTT 5 §3.15.2.1)`);
    if (r.remaining() > 0) properties = readProperties(r, PacketType.AUTH, 'properties') as AuthProperties | undefined;
  }
  r.expectEnd('its properties');
  const packet: IAuthPacket = { cmd: 'auth', reasonCode };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}
