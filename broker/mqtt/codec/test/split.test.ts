// The parser resumes across any chunk boundary (NATS split_test.go style): a stream of several
// packets yields the same packets whether it arrives whole, in two chunks split at every byte
// position, byte by byte, or in random pieces.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encode } from '../index.js';
import type { Packet, ProtocolVersion } from '../index.js';
import { normalize, parseAll, parseChunks, SEED } from './helpers.js';

function streamFor(v: ProtocolVersion, bigPayload: number): Packet[] {
  const v5 = v === 5;
  const packets: Packet[] = [
    {
      cmd: 'connect',
      protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: v,
      clean: false,
      keepalive: 60,
      clientId: 'split-client',
      will: { topic: 'will/t', payload: Buffer.from('bye'), qos: 1, retain: true, ...(v5 ? { properties: { willDelayInterval: 5 } } : {}) },
      username: 'user',
      password: Buffer.from('secret'),
      ...(v5 ? { properties: { sessionExpiryInterval: 300, receiveMaximum: 10, userProperties: { k: ['a', 'b'] } } } : {}),
    },
    { cmd: 'connack', sessionPresent: true, ...(v5 ? { reasonCode: 0, properties: { topicAliasMaximum: 8 } } : { returnCode: 0 }) },
    { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 0, dup: false, retain: false },
    {
      cmd: 'publish',
      topic: 'sensors/ünïcödé/𝄞',
      payload: Buffer.alloc(300, 0xab), // two-byte Remaining Length
      qos: 1,
      dup: true,
      retain: true,
      messageId: 258,
      ...(v5 ? { properties: { topicAlias: 2, correlationData: Buffer.from([1, 2, 3]), subscriptionIdentifier: [1, 200000] } } : {}),
    },
    { cmd: 'publish', topic: 'big', payload: Buffer.alloc(bigPayload, 0x5a), qos: 2, dup: false, retain: false, messageId: 65535 },
    { cmd: 'puback', messageId: 258, ...(v5 ? { reasonCode: 0x10 } : {}) },
    { cmd: 'pubrec', messageId: 65535, ...(v5 ? { reasonCode: 0 } : {}) },
    { cmd: 'pubrel', messageId: 65535, ...(v5 ? { reasonCode: 0x92, properties: { reasonString: 'gone' } } : {}) },
    { cmd: 'pubcomp', messageId: 65535, ...(v5 ? { reasonCode: 0 } : {}) },
    {
      cmd: 'subscribe',
      messageId: 7,
      subscriptions: v5
        ? [{ topic: 'x/+/y', qos: 1, nl: true, rap: true, rh: 2 }, { topic: '#', qos: 0, nl: false, rap: false, rh: 0 }]
        : [{ topic: 'x/+/y', qos: 1 }, { topic: '#', qos: 0 }],
      ...(v5 ? { properties: { subscriptionIdentifier: 16384 } } : {}),
    },
    { cmd: 'suback', messageId: 7, granted: [1, 0x80] },
    { cmd: 'unsubscribe', messageId: 8, unsubscriptions: ['x/+/y', '#'] },
    v5 ? { cmd: 'unsuback', messageId: 8, granted: [0, 0x11] } : { cmd: 'unsuback', messageId: 8 },
    { cmd: 'pingreq' },
    { cmd: 'pingresp' },
  ];
  if (v5) packets.push({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM', authenticationData: Buffer.from('xyz') } });
  packets.push(v5 ? { cmd: 'disconnect', reasonCode: 0x04, properties: { reasonString: 'with will' } } : { cmd: 'disconnect' });
  return packets;
}

function encodeStream(packets: Packet[], v: ProtocolVersion): Buffer {
  return Buffer.concat(packets.map((p) => encode(p, v)));
}

describe.each([3, 4, 5] as ProtocolVersion[])('MQTT protocol level %i', (v) => {
  const small = streamFor(v, 20);
  const smallBytes = encodeStream(small, v);
  const expected = normalize(small);

  test('the whole stream in one chunk', () => {
    const { packets, error } = parseAll(smallBytes);
    expect(error).toBeNull();
    expect(normalize(packets)).toEqual(expected);
  });

  test(`every two-chunk split of a ${smallBytes.length}-byte stream`, () => {
    for (let i = 0; i <= smallBytes.length; i++) {
      const { packets, error } = parseChunks([smallBytes.subarray(0, i), smallBytes.subarray(i)]);
      if (error !== null || packets.length !== small.length) {
        throw new Error(`split at byte ${i}: ${error?.message ?? `${packets.length} packets`}`);
      }
      expect(normalize(packets)).toEqual(expected);
    }
  });

  test('byte by byte, with a 20000-byte payload (three-byte Remaining Length)', () => {
    const big = streamFor(v, 20_000);
    const bytes = encodeStream(big, v);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    const { packets, error } = parseChunks(chunks);
    expect(error).toBeNull();
    expect(normalize(packets)).toEqual(normalize(big));
  });

  test('random cut points', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: smallBytes.length - 1 }), { maxLength: 12 }), (cuts) => {
        const sorted = [...cuts].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const c of sorted) {
          chunks.push(smallBytes.subarray(prev, c));
          prev = c;
        }
        chunks.push(smallBytes.subarray(prev));
        const { packets, error } = parseChunks(chunks);
        expect(error).toBeNull();
        expect(normalize(packets)).toEqual(expected);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});

test('packets do not alias the caller\'s chunk, which may be reused after parse()', () => {
  const p: Packet = { cmd: 'publish', topic: 't', payload: Buffer.from('abcdef'), qos: 0, dup: false, retain: false };
  const chunk = Buffer.from(encode(p, 4));
  const whole = parseAll(chunk, 4).packets;
  const split = parseChunks([chunk.subarray(0, 5), chunk.subarray(5)], 4).packets;
  chunk.fill(0);
  expect((whole[0] as { payload: Buffer }).payload.toString()).toBe('abcdef');
  expect((split[0] as { payload: Buffer }).payload.toString()).toBe('abcdef');
});
