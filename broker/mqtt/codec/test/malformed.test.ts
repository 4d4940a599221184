// One case per parser rule, named by the spec clause it enforces. Each feeds hand-built bytes and
// checks the error kind, the MQTT 5 Reason Code and that the message cites the clause.

import { describe, expect, test } from 'vitest';
import { encode, MqttParser, REASON_CODE } from '../index.js';
import type { CodecErrorKind, Packet, ProtocolVersion } from '../index.js';
import { parseAll } from './helpers.js';

// ---- byte builders ----

function vbi(n: number): number[] {
  const out: number[] = [];
  do {
    let d = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) d |= 0x80;
    out.push(d);
  } while (n > 0);
  return out;
}

type Bytes = number[] | Buffer;
const cat = (...parts: Bytes[]): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)));
const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const str = (s: string | Buffer): Buffer => {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  return cat(u16(b.length), b);
};
/** A whole packet: byte 1, Remaining Length, body. */
const pkt = (first: number, ...body: Bytes[]): Buffer => {
  const b = cat(...body);
  return cat([first, ...vbi(b.length)], b);
};
/** A property block: Property Length, then the raw properties. */
const props = (...raw: Bytes[]): Buffer => {
  const b = cat(...raw);
  return cat(vbi(b.length), b);
};

interface ConnectSpec {
  name?: string | Buffer;
  level?: number;
  flags?: number;
  properties?: Buffer;
  payload?: Bytes[];
}
function connect(c: ConnectSpec = {}): Buffer {
  const level = c.level ?? 4;
  const v5 = (level & 0x7f) === 5;
  return pkt(
    0x10,
    str(c.name ?? (level === 3 ? 'MQIsdp' : 'MQTT')),
    [level, c.flags ?? 0x02],
    u16(60),
    v5 ? (c.properties ?? [0]) : [],
    ...(c.payload ?? [str('client')]),
  );
}

// ---- the table ----

interface Case {
  name: string;
  /** Protocol version the parser is already in (undefined = before CONNECT). */
  version?: ProtocolVersion;
  bytes: Buffer;
  kind: CodecErrorKind;
  /** Substring the message must contain (usually the spec id). */
  cites: string;
  answerVersion?: ProtocolVersion;
  maxPacketSize?: number;
}

const CASES: Case[] = [
  // Fixed header
  { name: '[MQTT-1.5.5-1] Remaining Length not minimally encoded', version: 4, bytes: Buffer.from([0xc0, 0x80, 0x00]), kind: 'malformed', cites: '[MQTT-1.5.5-1]' },
  { name: 'Remaining Length longer than four bytes (§1.5.5)', version: 4, bytes: Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), kind: 'malformed', cites: 'longer than four bytes' },
  { name: 'packet too large, detected from the fixed header before the body arrives', version: 5, bytes: Buffer.from([0x30, 0xe8, 0x07]), kind: 'packet_too_large', cites: 'Maximum Packet Size of 100', maxPacketSize: 100 },
  { name: '[MQTT-2.2.2-1] [MQTT-2.2.2-2] SUBSCRIBE with reserved flags 0x0 (3.1.1)', version: 4, bytes: pkt(0x80, u16(1), str('a'), [0]), kind: 'malformed', cites: '[MQTT-2.2.2-2]' },
  { name: '[MQTT-2.2.2-1] [MQTT-2.2.2-2] PUBREL with reserved flags 0x0 (3.1.1)', version: 4, bytes: pkt(0x60, u16(1)), kind: 'malformed', cites: '[MQTT-2.2.2-1]' },
  { name: '[MQTT-2.2.2-1] [MQTT-2.2.2-2] UNSUBSCRIBE with reserved flags 0x3, before CONNECT', bytes: pkt(0xa3, u16(1), str('a')), kind: 'malformed', cites: '[MQTT-2.2.2-2]' },
  { name: '[MQTT-2.1.3-1] PUBACK with reserved flags 0x1 (5.0)', version: 5, bytes: pkt(0x41, u16(1)), kind: 'malformed', cites: '[MQTT-2.1.3-1]' },
  { name: '[MQTT-2.2.2-1] CONNECT with reserved flags 0x1 (before CONNECT: 3.1.1 rules)', bytes: Buffer.from([0x11, 0x00]), kind: 'malformed', cites: 'CONNECT fixed header flags' },
  { name: 'packet type 0 is forbidden (§2.1.2)', version: 5, bytes: Buffer.from([0x00, 0x00]), kind: 'malformed', cites: 'type 0' },
  { name: 'packet type 15 (AUTH) is forbidden in 3.1.1 (§2.2.1)', version: 4, bytes: Buffer.from([0xf0, 0x00]), kind: 'malformed', cites: 'type 15' },
  { name: 'packet type 15 (AUTH) is forbidden in 3.1', version: 3, bytes: Buffer.from([0xf0, 0x00]), kind: 'malformed', cites: 'type 15' },
  { name: 'AUTH before CONNECT parses as 3.1.1 and is refused', bytes: Buffer.from([0xf0, 0x00]), kind: 'malformed', cites: 'type 15' },
  { name: '[MQTT-3.3.1-4] PUBLISH with QoS 3', version: 4, bytes: pkt(0x36, str('t'), u16(1)), kind: 'malformed', cites: '[MQTT-3.3.1-4]' },
  { name: '[MQTT-3.3.1-2] PUBLISH with QoS 0 and DUP', version: 5, bytes: pkt(0x38, str('t'), [0]), kind: 'malformed', cites: '[MQTT-3.3.1-2]' },

  // Packet Identifier
  { name: '[MQTT-2.3.1-1] PUBLISH QoS 1 with Packet Identifier 0 (3.1.1)', version: 4, bytes: pkt(0x32, str('t'), u16(0)), kind: 'protocol_error', cites: '[MQTT-2.3.1-1]' },
  { name: '[MQTT-2.2.1-3] PUBLISH QoS 2 with Packet Identifier 0 (5.0)', version: 5, bytes: pkt(0x34, str('t'), u16(0), [0]), kind: 'protocol_error', cites: '[MQTT-2.2.1-3]' },
  { name: '[MQTT-2.2.1-3] SUBSCRIBE with Packet Identifier 0', version: 5, bytes: pkt(0x82, u16(0), [0], str('a'), [0]), kind: 'protocol_error', cites: '[MQTT-2.2.1-3]' },
  { name: '[MQTT-2.3.1-1] UNSUBSCRIBE with Packet Identifier 0', version: 4, bytes: pkt(0xa2, u16(0), str('a')), kind: 'protocol_error', cites: '[MQTT-2.3.1-1]' },

  // UTF-8 strings
  { name: '[MQTT-1.5.4-1] topic with an encoded surrogate (ED A0 80)', version: 5, bytes: pkt(0x30, str(Buffer.from([0x61, 0xed, 0xa0, 0x80])), [0]), kind: 'malformed', cites: '[MQTT-1.5.4-1]' },
  { name: '[MQTT-1.5.3-1] topic with an overlong encoding (C0 AF) (3.1.1)', version: 4, bytes: pkt(0x30, str(Buffer.from([0xc0, 0xaf]))), kind: 'malformed', cites: '[MQTT-1.5.3-1]' },
  { name: '[MQTT-1.5.4-1] client id with a truncated sequence (E2 82)', bytes: connect({ level: 5, payload: [str(Buffer.from([0x41, 0xe2, 0x82]))] }), kind: 'malformed', cites: '[MQTT-1.5.4-1]' },
  { name: '[MQTT-1.5.4-2] topic containing U+0000', version: 5, bytes: pkt(0x30, str('a\u0000b'), [0]), kind: 'malformed', cites: '[MQTT-1.5.4-2]' },
  { name: '[MQTT-1.5.3-2] topic filter containing U+0000 (3.1.1)', version: 4, bytes: pkt(0x82, u16(1), str('a/\u0000'), [0]), kind: 'malformed', cites: '[MQTT-1.5.3-2]' },
  { name: '[MQTT-1.5.7-1] User Property value with ill-formed UTF-8', version: 5, bytes: pkt(0x30, str('t'), props([0x26], str('k'), str(Buffer.from([0xff])))), kind: 'malformed', cites: '[MQTT-1.5.4-1]' },

  // CONNECT
  { name: '[MQTT-3.1.2-1] Protocol Name neither MQTT nor MQIsdp (level 4: close without CONNACK)', bytes: connect({ name: 'MQTX', level: 4 }), kind: 'unsupported_protocol_name', cites: '[MQTT-3.1.2-1]' },
  { name: '[MQTT-3.1.2-1] Protocol Name wrong at level 5: may answer CONNACK 0x84', bytes: connect({ name: 'mqtt', level: 5 }), kind: 'unsupported_protocol_name', cites: '[MQTT-3.1.2-1]', answerVersion: 5 },
  { name: '[MQTT-3.1.2-2] "MQTT" with level 6 is answered in the 5.0 format (0x84)', bytes: connect({ level: 6 }), kind: 'unsupported_protocol_version', cites: '[MQTT-3.1.2-2]', answerVersion: 5 },
  { name: '[MQTT-3.1.2-2] "MQTT" with level 3 is answered in the 3.1.1 format (0x01)', bytes: connect({ name: 'MQTT', level: 3 }), kind: 'unsupported_protocol_version', cites: '[MQTT-3.1.2-2]', answerVersion: 4 },
  { name: '[MQTT-3.1.2-2] "MQIsdp" with level 4 is answered in the 3.1 format (0x01)', bytes: connect({ name: 'MQIsdp', level: 4 }), kind: 'unsupported_protocol_version', cites: '[MQTT-3.1.2-2]', answerVersion: 3 },
  { name: '[MQTT-3.1.2-2] "MQTT" with level 0', bytes: connect({ level: 0 }), kind: 'unsupported_protocol_version', cites: '[MQTT-3.1.2-2]', answerVersion: 4 },
  { name: '[MQTT-3.1.2-3] reserved Connect Flag bit 0 set', bytes: connect({ flags: 0x03 }), kind: 'malformed', cites: '[MQTT-3.1.2-3]' },
  { name: '[MQTT-3.1.2-13] Will QoS 1 without the Will Flag (3.1.1; also [MQTT-3.1.2-11])', bytes: connect({ flags: 0x0a }), kind: 'malformed', cites: '[MQTT-3.1.2-13]' },
  { name: '[MQTT-3.1.2-11] Will QoS 2 without the Will Flag (5.0)', bytes: connect({ level: 5, flags: 0x12 }), kind: 'malformed', cites: '[MQTT-3.1.2-11]' },
  { name: '[MQTT-3.1.2-15] Will Retain without the Will Flag (3.1.1)', bytes: connect({ flags: 0x22 }), kind: 'malformed', cites: '[MQTT-3.1.2-15]' },
  { name: '[MQTT-3.1.2-13] Will Retain without the Will Flag (5.0)', bytes: connect({ level: 5, flags: 0x22 }), kind: 'malformed', cites: '[MQTT-3.1.2-13]' },
  { name: '[MQTT-3.1.2-14] Will QoS 3 (3.1.1)', bytes: connect({ flags: 0x1e, payload: [str('c'), str('w'), str('p')] }), kind: 'malformed', cites: '[MQTT-3.1.2-14]' },
  { name: '[MQTT-3.1.2-12] Will QoS 3 (5.0)', bytes: connect({ level: 5, flags: 0x1e, payload: [str('c'), [0], str('w'), str('p')] }), kind: 'malformed', cites: '[MQTT-3.1.2-12]' },
  { name: '[MQTT-3.1.2-22] Password Flag without User Name Flag (3.1.1)', bytes: connect({ flags: 0x42, payload: [str('c'), str('pw')] }), kind: 'malformed', cites: '[MQTT-3.1.2-22]' },
  { name: '[MQTT-3.1.2-22] Password Flag without User Name Flag (3.1)', bytes: connect({ level: 3, flags: 0x42, payload: [str('c'), str('pw')] }), kind: 'malformed', cites: '[MQTT-3.1.2-22]' },
  { name: 'CONNECT with a byte after its last field (§3.1.3)', bytes: connect({ payload: [str('c'), [0x00]] }), kind: 'malformed', cites: 'unexpected byte' },
  { name: 'CONNECT whose User Name Flag promises a missing field', bytes: connect({ flags: 0x82 }), kind: 'malformed', cites: 'User Name length' },

  // Properties
  { name: 'property: unknown identifier 0x05 (§2.2.2.2)', version: 5, bytes: pkt(0x30, str('t'), props([0x05, 0x00])), kind: 'malformed', cites: 'unknown property identifier 0x05' },
  { name: 'property: Topic Alias is not allowed in CONNECT (§2.2.2.2)', bytes: connect({ level: 5, properties: props([0x23], u16(1)) }), kind: 'malformed', cites: 'not allowed' },
  { name: 'property: Session Expiry Interval is not allowed in PUBLISH (§2.2.2.2)', version: 5, bytes: pkt(0x30, str('t'), props([0x11, 0, 0, 0, 1])), kind: 'malformed', cites: 'not allowed' },
  { name: 'property: Will Delay Interval is not allowed in CONNECT properties', bytes: connect({ level: 5, properties: props([0x18, 0, 0, 0, 1]) }), kind: 'malformed', cites: 'not allowed' },
  { name: 'property: Reason String is not allowed in UNSUBSCRIBE', version: 5, bytes: pkt(0xa2, u16(1), props([0x1f], str('r')), str('a')), kind: 'malformed', cites: 'not allowed' },
  { name: 'property: Session Expiry Interval twice is a Protocol Error (§3.1.2.11.2)', bytes: connect({ level: 5, properties: props([0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]) }), kind: 'protocol_error', cites: 'more than once' },
  { name: 'property: Subscription Identifier twice in SUBSCRIBE is a Protocol Error (§3.8.2.1.2)', version: 5, bytes: pkt(0x82, u16(1), props([0x0b, 1, 0x0b, 2]), str('a'), [0]), kind: 'protocol_error', cites: 'more than once' },
  { name: 'property: Receive Maximum 0 is a Protocol Error (§3.1.2.11.3)', bytes: connect({ level: 5, properties: props([0x21], u16(0)) }), kind: 'protocol_error', cites: 'Receive Maximum (0x21) must not be 0' },
  { name: 'property: Maximum Packet Size 0 is a Protocol Error (§3.1.2.11.4)', bytes: connect({ level: 5, properties: props([0x27, 0, 0, 0, 0]) }), kind: 'protocol_error', cites: 'Maximum Packet Size (0x27) must not be 0' },
  { name: '[MQTT-3.3.2-8] property: Topic Alias 0 is a Protocol Error', version: 5, bytes: pkt(0x30, str('t'), props([0x23], u16(0))), kind: 'protocol_error', cites: '[MQTT-3.3.2-8]' },
  { name: 'property: Subscription Identifier 0 is a Protocol Error (§3.8.2.1.2)', version: 5, bytes: pkt(0x82, u16(1), props([0x0b, 0]), str('a'), [0]), kind: 'protocol_error', cites: 'Subscription Identifier (0x0b) must not be 0' },
  { name: 'property: Payload Format Indicator 2 is a Protocol Error (§3.3.2.3.2)', version: 5, bytes: pkt(0x30, str('t'), props([0x01, 2])), kind: 'protocol_error', cites: 'must be 0 or 1' },
  { name: 'property: Request Problem Information 2 is a Protocol Error (§3.1.2.11.7)', bytes: connect({ level: 5, properties: props([0x17, 2]) }), kind: 'protocol_error', cites: 'must be 0 or 1' },
  { name: 'property: Maximum QoS 2 is a Protocol Error (§3.2.2.3.4)', version: 5, bytes: pkt(0x20, [0, 0], props([0x24, 2])), kind: 'protocol_error', cites: 'must be 0 or 1' },
  { name: 'property: Authentication Data without Authentication Method is a Protocol Error (§3.1.2.11.10)', bytes: connect({ level: 5, properties: props([0x16], str('d')) }), kind: 'protocol_error', cites: 'without Authentication Method' },
  { name: 'property: Property Length beyond the packet (§2.2.2.1)', version: 5, bytes: pkt(0x30, str('t'), [0x05, 0x01]), kind: 'malformed', cites: 'Property Length 5 exceeds' },
  { name: 'property: a value running past the Property Length', version: 5, bytes: pkt(0x30, str('t'), [0x02, 0x02, 0x00, 0x00, 0x00, 0x00]), kind: 'malformed', cites: 'Message Expiry Interval' },
  { name: '[MQTT-1.5.5-1] property: Subscription Identifier not minimally encoded', version: 5, bytes: pkt(0x30, str('t'), props([0x0b, 0x81, 0x00])), kind: 'malformed', cites: '[MQTT-1.5.5-1]' },

  // SUBSCRIBE / UNSUBSCRIBE
  { name: '[MQTT-3.8.3-3] SUBSCRIBE with no Topic Filter (3.1.1)', version: 4, bytes: pkt(0x82, u16(1)), kind: 'protocol_error', cites: '[MQTT-3.8.3-3]' },
  { name: '[MQTT-3.8.3-2] SUBSCRIBE with no Topic Filter (5.0)', version: 5, bytes: pkt(0x82, u16(1), [0]), kind: 'protocol_error', cites: '[MQTT-3.8.3-2]' },
  { name: '[MQTT-3.10.3-2] UNSUBSCRIBE with no Topic Filter', version: 4, bytes: pkt(0xa2, u16(1)), kind: 'protocol_error', cites: '[MQTT-3.10.3-2]' },
  { name: '[MQTT-3.8.3-5] Subscription Options reserved bits 7-6 set (5.0)', version: 5, bytes: pkt(0x82, u16(1), [0], str('a'), [0x41]), kind: 'malformed', cites: '[MQTT-3.8.3-5]' },
  { name: '[MQTT-3-8.3-4] Requested QoS byte with reserved bits set (3.1.1)', version: 4, bytes: pkt(0x82, u16(1), str('a'), [0x04]), kind: 'malformed', cites: '[MQTT-3-8.3-4]' },
  { name: '[MQTT-3-8.3-4] Requested QoS 3 (3.1.1)', version: 4, bytes: pkt(0x82, u16(1), str('a'), [0x03]), kind: 'malformed', cites: '[MQTT-3-8.3-4]' },
  { name: 'Subscription Options Maximum QoS 3 is a Protocol Error (5.0 §3.8.3.1)', version: 5, bytes: pkt(0x82, u16(1), [0], str('a'), [0x03]), kind: 'protocol_error', cites: 'Maximum QoS must not be 3' },
  { name: 'Subscription Options Retain Handling 3 is a Protocol Error (5.0 §3.8.3.1)', version: 5, bytes: pkt(0x82, u16(1), [0], str('a'), [0x30]), kind: 'protocol_error', cites: 'Retain Handling must not be 3' },
  { name: 'SUBSCRIBE topic filter without its options byte', version: 5, bytes: pkt(0x82, u16(1), [0], str('a')), kind: 'malformed', cites: 'Subscription Options' },

  // Declared lengths that do not add up
  { name: 'string length beyond the Remaining Length', version: 4, bytes: pkt(0x30, u16(10), Buffer.from('abc')), kind: 'malformed', cites: 'declared string length 10' },
  { name: 'PUBACK with Remaining Length 3 (3.1.1 requires 2)', version: 4, bytes: pkt(0x40, u16(1), [0]), kind: 'malformed', cites: 'unexpected byte' },
  { name: 'PUBACK with Remaining Length 1', version: 5, bytes: pkt(0x40, [1]), kind: 'malformed', cites: 'Packet Identifier' },
  { name: 'PINGREQ with Remaining Length 1 (§3.12.1)', version: 4, bytes: pkt(0xc0, [0]), kind: 'malformed', cites: 'unexpected byte' },
  { name: 'DISCONNECT with a body in 3.1.1', version: 4, bytes: pkt(0xe0, [0]), kind: 'malformed', cites: 'unexpected byte' },
  { name: 'PUBLISH with QoS 1 and no room for its Packet Identifier', version: 4, bytes: pkt(0x32, str('t'), [1]), kind: 'malformed', cites: 'Packet Identifier' },
  { name: 'UNSUBACK with Remaining Length 3 (3.1.1 requires 2)', version: 4, bytes: pkt(0xb0, u16(1), [0]), kind: 'malformed', cites: 'unexpected byte' },
  { name: 'CONNACK with reserved acknowledge flag bits (§3.2.2.1)', version: 4, bytes: pkt(0x20, [0x02, 0x00]), kind: 'malformed', cites: 'bits 7-1' },

  // Reason codes outside their tables
  { name: 'PUBACK Reason Code 0x05 is not defined (5.0 §3.4.2.1)', version: 5, bytes: pkt(0x40, u16(1), [0x05]), kind: 'malformed', cites: 'Reason Code 0x5' },
  { name: 'DISCONNECT Reason Code 0x01 is not defined (5.0 §3.14.2.1)', version: 5, bytes: pkt(0xe0, [0x01]), kind: 'malformed', cites: 'Reason Code 0x1' },
  { name: '[MQTT-3.9.3-2] SUBACK return code 0x03 (3.1.1)', version: 4, bytes: pkt(0x90, u16(1), [0x03]), kind: 'malformed', cites: '[MQTT-3.9.3-2]' },
  { name: 'CONNACK return code 6 is reserved (3.1.1 §3.2.2.3)', version: 4, bytes: pkt(0x20, [0x00, 0x06]), kind: 'malformed', cites: 'reserved' },
];

describe('malformed input table', () => {
  test.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const parser = new MqttParser({ maxPacketSize: c.maxPacketSize ?? 1 << 20 });
    parser.protocolVersion = c.version;
    const packets: Packet[] = [];
    const err = parser.parse(c.bytes, (p) => packets.push(p));
    expect(packets).toEqual([]);
    expect(err).not.toBeNull();
    if (err === null) return;
    expect(err.kind).toBe(c.kind);
    expect(err.reasonCode).toBe(REASON_CODE[c.kind]);
    expect(err.message).toContain(c.cites);
    expect(err.answerVersion).toBe(c.answerVersion);
    // The parser is dead: the same error again, no packets, whatever comes next.
    expect(parser.parse(Buffer.from([0xc0, 0x00]), (p) => packets.push(p))).toBe(err);
    expect(packets).toEqual([]);
  });

  test('packet_too_large is reported before any body byte arrives, for every chunking of the header', () => {
    const header = Buffer.from([0x30, 0xff, 0xff, 0x7f]); // Remaining Length 2,097,151
    const parser = new MqttParser({ maxPacketSize: 1024 });
    expect(parser.parse(header.subarray(0, 2), () => undefined)).toBeNull();
    const err = parser.parse(header.subarray(2), () => undefined);
    expect(err?.kind).toBe('packet_too_large');
    expect(err?.reasonCode).toBe(0x95);
    expect(err?.packetType).toBe('publish');
  });

  test('maxPacketSize counts the whole packet, fixed header included', () => {
    const p = encode({ cmd: 'publish', topic: 't', payload: Buffer.alloc(10), qos: 0, dup: false, retain: false }, 4);
    expect(parseAll(p, 4, p.length).error).toBeNull();
    expect(parseAll(p, 4, p.length - 1).error?.kind).toBe('packet_too_large');
  });
});

describe('accepted edge cases', () => {
  test('[MQTT-1.5.4-3] a leading BOM (EF BB BF) is kept as U+FEFF', () => {
    const { packets, error } = parseAll(pkt(0x30, str('\ufeffa/b')), 4);
    expect(error).toBeNull();
    expect((packets[0] as { topic: string }).topic).toBe('\ufeffa/b');
  });

  test('[MQTT-3.1.2-22] MQTT 5 allows a password without a user name', () => {
    const { packets, error } = parseAll(connect({ level: 5, flags: 0x42, payload: [str('c'), str('pw')] }));
    expect(error).toBeNull();
    expect(packets[0]).toMatchObject({ cmd: 'connect', clientId: 'c', password: Buffer.from('pw') });
    expect((packets[0] as { username?: string }).username).toBeUndefined();
  });

  test('Subscription Identifier may repeat in PUBLISH (§3.3.2.3.8)', () => {
    const { packets, error } = parseAll(pkt(0x30, str('t'), props([0x0b, 1, 0x0b, 0x80, 0x01])), 5);
    expect(error).toBeNull();
    expect((packets[0] as { properties: unknown }).properties).toEqual({ subscriptionIdentifier: [1, 128] });
  });

  test('before the first CONNECT other packets parse as 3.1.1, so the caller can reject them', () => {
    const parser = new MqttParser({ maxPacketSize: 1024 });
    const packets: Packet[] = [];
    // A 3.1.1 PUBLISH, then a 5.0 CONNECT, then a 5.0 PUBLISH with a property block.
    const bytes = cat(pkt(0x30, str('t'), 'x'.split('').map((c) => c.charCodeAt(0))), connect({ level: 5 }), pkt(0x30, str('t'), [0], [0x79]));
    expect(parser.parse(bytes, (p) => packets.push(p))).toBeNull();
    expect(packets.map((p) => p.cmd)).toEqual(['publish', 'connect', 'publish']);
    expect((packets[0] as { payload: Buffer }).payload.toString()).toBe('x');
    expect((packets[2] as { payload: Buffer }).payload.toString()).toBe('y');
    expect(parser.protocolVersion).toBe(5);
  });

  test('the protocol version is learned from the first CONNECT only', () => {
    const parser = new MqttParser({ maxPacketSize: 1024 });
    expect(parser.parse(cat(connect({ level: 3 }), connect({ level: 5 })), () => undefined)).toBeNull();
    expect(parser.protocolVersion).toBe(3);
  });

  test('a bridge CONNECT (level 0x84) parses with bridgeMode', () => {
    const { packets, error } = parseAll(connect({ level: 0x84 }));
    expect(error).toBeNull();
    expect(packets[0]).toMatchObject({ cmd: 'connect', protocolVersion: 4, bridgeMode: true });
  });

  test('MQTT 3.1 tolerates DUP on a retransmitted SUBSCRIBE (its flags are not reserved there)', () => {
    const { packets, error } = parseAll(pkt(0x8a, u16(1), str('a'), [1]), 3);
    expect(error).toBeNull();
    expect(packets[0]).toEqual({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 1 }] });
  });

  test('MQTT 5 short forms: PUBACK without Reason Code, DISCONNECT and AUTH with Remaining Length 0', () => {
    const { packets, error } = parseAll(cat(pkt(0x40, u16(3)), pkt(0x40, u16(4), [0x10]), pkt(0xe0), pkt(0xf0)), 5);
    expect(error).toBeNull();
    expect(packets).toEqual([
      { cmd: 'puback', messageId: 3, reasonCode: 0 },
      { cmd: 'puback', messageId: 4, reasonCode: 0x10 },
      { cmd: 'disconnect', reasonCode: 0 },
      { cmd: 'auth', reasonCode: 0 },
    ]);
  });

  test('User Properties keep duplicates in order and treat __proto__ as a plain name', () => {
    const raw = props([0x26], str('__proto__'), str('x'), [0x26], str('k'), str('1'), [0x26], str('k'), str('2'));
    const { packets, error } = parseAll(pkt(0x30, str('t'), raw), 5);
    expect(error).toBeNull();
    const user = (packets[0] as { properties: { userProperties: Record<string, unknown> } }).properties.userProperties;
    expect(Object.getOwnPropertyNames(user)).toEqual(['__proto__', 'k']);
    expect(user.k).toEqual(['1', '2']);
    expect(Object.getPrototypeOf(user)).toBeNull();
  });
});
