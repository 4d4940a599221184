// Encoder specifics the round-trip properties do not pin down: exact bytes of the short forms,
// where we deliberately differ from mqtt-packet, and the EncodeError cases.

import { describe, expect, test } from 'vitest';
import { encode, EncodeError, encodePublish } from '../index.js';
import type { Packet } from '../index.js';
import { oracleGenerate, parseAll } from './helpers.js';

const hexOf = (b: Buffer): string => b.toString('hex');

describe('exact bytes', () => {
  test('MQTT 5 PUBACK: Reason Code 0 without properties is the two-byte form; an absent Reason Code means 0', () => {
    expect(hexOf(encode({ cmd: 'puback', messageId: 1, reasonCode: 0 }, 5))).toBe('40020001');
    expect(hexOf(encode({ cmd: 'puback', messageId: 1 }, 5))).toBe('40020001');
    // mqtt-packet writes a Reason Code byte (0) and an empty Property Length for an undefined code.
    expect(hexOf(oracleGenerate({ cmd: 'puback', messageId: 1 }, 5))).toBe('400400010000');
  });

  test('MQTT 5 PUBREC with a failure code and no properties matches mqtt-packet (code + empty Property Length)', () => {
    const p: Packet = { cmd: 'pubrec', messageId: 0x1234, reasonCode: 0x80 };
    expect(hexOf(encode(p, 5))).toBe('5004123480' + '00');
    expect(encode(p, 5).equals(oracleGenerate(p, 5))).toBe(true);
  });

  test('[MQTT-2.2.2-1] SUBSCRIBE, UNSUBSCRIBE and PUBREL always carry flags 0x2 (mqtt-packet adds DUP when asked)', () => {
    const sub = { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }], dup: true } as Packet;
    expect(encode(sub, 4)[0]).toBe(0x82);
    expect(oracleGenerate(sub, 4)[0]).toBe(0x8a);
    expect(encode({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['a'], dup: true } as Packet, 4)[0]).toBe(0xa2);
    expect(encode({ cmd: 'pubrel', messageId: 1, dup: true } as Packet, 4)[0]).toBe(0x62);
  });

  test('PINGREQ, PINGRESP, 3.1.1 DISCONNECT and UNSUBACK', () => {
    expect(hexOf(encode({ cmd: 'pingreq' }, 4))).toBe('c000');
    expect(hexOf(encode({ cmd: 'pingresp' }, 5))).toBe('d000');
    expect(hexOf(encode({ cmd: 'disconnect' }, 4))).toBe('e000');
    expect(hexOf(encode({ cmd: 'unsuback', messageId: 7 }, 4))).toBe('b0020007');
  });

  test('MQTT 5 DISCONNECT always writes its Reason Code and Property Length, as mqtt-packet does', () => {
    expect(hexOf(encode({ cmd: 'disconnect', reasonCode: 0 }, 5))).toBe('e0020000');
    expect(hexOf(encode({ cmd: 'disconnect', reasonCode: 0x8e }, 5))).toBe('e0028e00');
  });

  test('[MQTT-3.1.2-22] MQTT 5 CONNECT may carry a password without a user name', () => {
    const p: Packet = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'c', password: Buffer.from('pw') };
    const buf = encode(p, 5);
    expect((buf[9] as number) & 0xc0).toBe(0x40); // Connect Flags: password yes, user name no
    expect(parseAll(buf).packets).toEqual([p]);
  });

  test('CONNECT uses its own protocolVersion and bridgeMode', () => {
    const p: Packet = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, bridgeMode: true, clean: true, keepalive: 10, clientId: 'bridge' };
    const buf = encode(p, 5);
    expect(buf[8]).toBe(0x84);
    expect(parseAll(buf).packets).toEqual([p]);
  });

  test('encodePublish takes the topic as a Buffer and ignores fields it does not use', () => {
    const a = encodePublish({ topic: Buffer.from('a/b'), payload: Buffer.from('x'), qos: 0, retain: true, dup: false }, 4);
    expect(hexOf(a)).toBe('3106' + '0003612f62' + '78');
  });
});

describe('EncodeError for packets that cannot be put on the wire', () => {
  const cases: [string, () => unknown][] = [
    ['[MQTT-3.3.1-2] QoS 0 PUBLISH with DUP', () => encodePublish({ topic: 't', payload: Buffer.alloc(0), qos: 0, retain: false, dup: true }, 4)],
    ['[MQTT-2.2.1-3] QoS 1 PUBLISH without messageId', () => encodePublish({ topic: 't', payload: Buffer.alloc(0), qos: 1, retain: false, dup: false }, 4)],
    ['[MQTT-2.2.1-3] QoS 2 PUBLISH with messageId 0', () => encodePublish({ topic: 't', payload: Buffer.alloc(0), qos: 2, retain: false, dup: false, messageId: 0 }, 5)],
    ['topic longer than 65535 bytes', () => encodePublish({ topic: 'x'.repeat(65536), payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, 4)],
    ['[MQTT-3.1.2-22] 3.1.1 CONNECT password without user name', () => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'c', password: Buffer.from('p') }, 4)],
    ['AUTH on a 3.1.1 connection', () => encode({ cmd: 'auth', reasonCode: 0 }, 4)],
    ['[MQTT-3.8.3-3] SUBSCRIBE without subscriptions', () => encode({ cmd: 'subscribe', messageId: 1, subscriptions: [] }, 4)],
    ['[MQTT-3.10.3-2] UNSUBSCRIBE without topics', () => encode({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: [] }, 5)],
    ['unknown property name', () => encode({ cmd: 'disconnect', reasonCode: 0, properties: { bogus: 1 } as never }, 5)],
    ['property of the wrong type', () => encode({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties: { receiveMaximum: 'ten' as never } }, 5)],
    ['array for a single-valued property', () => encode({ cmd: 'disconnect', reasonCode: 0, properties: { reasonString: ['a', 'b'] as never } }, 5)],
    ['Reason Code outside a byte', () => encode({ cmd: 'puback', messageId: 1, reasonCode: 256 }, 5)],
    ['CONNACK without a code', () => encode({ cmd: 'connack', sessionPresent: false }, 4)],
    ['3.1.1 CONNACK with an MQTT 5 Reason Code', () => encode({ cmd: 'connack', sessionPresent: false, returnCode: 0x84 }, 4)],
    ['keepalive above 65535', () => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 70000, clientId: 'c' }, 4)],
  ];
  test.each(cases)('%s', (_name, fn) => {
    expect(fn).toThrow(EncodeError);
  });
});
