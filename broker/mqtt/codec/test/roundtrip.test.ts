// Round-trip properties over every packet type and protocol version, with mqtt-packet as oracle:
//   our encode == mqtt-packet generate (byte-identical),
//   mqtt-packet parse(our encode(p)) == p,
//   our parse(mqtt-packet generate(p)) == p,
//   our parse(our encode(p)) == p (also for inputs mqtt-packet mishandles).

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encode, encodePublish } from '../index.js';
import type { Packet, ProtocolVersion } from '../index.js';
import { arbPacket, cmdsFor } from './arbitraries.js';
import { normalize, oracleGenerate, oracleParse, parseAll, SEED } from './helpers.js';

const VERSIONS: ProtocolVersion[] = [3, 4, 5];
const RUNS = 150;

function ourParseOne(buf: Buffer, p: Packet, v: ProtocolVersion): Packet {
  // A CONNECT carries its own version; every other packet is parsed on a connection of version v.
  const { packets, error } = parseAll(buf, p.cmd === 'connect' ? undefined : v);
  expect(error).toBeNull();
  expect(packets).toHaveLength(1);
  return packets[0];
}

describe.each(VERSIONS)('MQTT protocol level %i', (v) => {
  test.each(cmdsFor(v))('%s: encode matches mqtt-packet and both parsers agree', (cmd) => {
    fc.assert(
      fc.property(arbPacket(v, cmd, { oracle: true }), (p) => {
        const ours = encode(p, v);
        const theirs = oracleGenerate(p, v);
        expect(ours.toString('hex')).toBe(theirs.toString('hex'));
        const viaOracle = oracleParse(ours, v);
        expect(viaOracle).toHaveLength(1);
        expect(normalize(viaOracle[0])).toEqual(normalize(p));
        expect(normalize(ourParseOne(theirs, p, v))).toEqual(normalize(p));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test.each(cmdsFor(v))('%s: our parse(our encode(p)) is the identity', (cmd) => {
    fc.assert(
      fc.property(arbPacket(v, cmd, { oracle: false }), (p) => {
        expect(normalize(ourParseOne(encode(p, v), p, v))).toEqual(normalize(p));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('encodePublish', () => {
  test.each(VERSIONS)('v%i: same bytes as encode() and mqtt-packet, Buffer topic too', (v) => {
    fc.assert(
      fc.property(arbPacket(v, 'publish', { oracle: true }), (p) => {
        if (p.cmd !== 'publish') return;
        const fast = encodePublish(p, v);
        expect(fast.equals(encode(p, v))).toBe(true);
        expect(fast.equals(oracleGenerate(p, v))).toBe(true);
        expect(encodePublish({ ...p, topic: Buffer.from(p.topic, 'utf8') }, v).equals(fast)).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('a 2 MB payload gets a four-byte Remaining Length and parses back', () => {
    const payload = Buffer.alloc(2_100_000, 7);
    const buf = encodePublish({ topic: 't', payload, qos: 1, retain: false, dup: false, messageId: 9 }, 4);
    const remaining = 2 + 1 + 2 + payload.length; // topic length + topic + packet id + payload
    expect(buf.length).toBe(1 + 4 + remaining);
    expect(buf[4]).toBeLessThan(0x80); // the fourth length byte ends the Variable Byte Integer
    const { packets, error } = parseAll(buf, 4);
    expect(error).toBeNull();
    expect(packets[0]).toMatchObject({ cmd: 'publish', topic: 't', qos: 1, messageId: 9 });
    expect((packets[0] as { payload: Buffer }).payload.equals(payload)).toBe(true);
  });
});
