// Random and mutated byte streams never make the parser throw or hang: parse() returns packets
// and/or one CodecError. Whatever it accepts is well-formed enough to encode again and parse back
// to the same object.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encode, MqttParser, REASON_CODE } from '../index.js';
import type { CodecError, Packet, ProtocolVersion } from '../index.js';
import { arbAnyPacket, arbPacket } from './arbitraries.js';
import { normalize, parseAll, SEED } from './helpers.js';

const KINDS = new Set(Object.keys(REASON_CODE));

interface Run {
  packets: { packet: Packet; version: ProtocolVersion }[];
  error: CodecError | null;
}

/** Feeds `bytes` in pieces cut at `cuts`, recording each packet with the version it was parsed under. */
function run(bytes: Uint8Array, cuts: number[], version: ProtocolVersion | undefined, maxPacketSize: number): Run {
  const parser = new MqttParser({ maxPacketSize });
  parser.protocolVersion = version;
  const buf = Buffer.from(bytes);
  const out: Run['packets'] = [];
  const onPacket = (packet: Packet): void => {
    const v = packet.cmd === 'connect' ? packet.protocolVersion : (parser.protocolVersion ?? 4);
    out.push({ packet, version: v });
  };
  let error: CodecError | null = null;
  let prev = 0;
  for (const c of [...cuts.filter((c) => c < buf.length).sort((a, b) => a - b), buf.length]) {
    error = parser.parse(buf.subarray(prev, c), onPacket);
    prev = c;
    if (error !== null) break;
  }
  if (error !== null) {
    // Dead after the first error: the same error again, nothing more delivered.
    const count = out.length;
    expect(parser.parse(Buffer.from([0xc0, 0x00]), onPacket)).toBe(error);
    expect(out.length).toBe(count);
  }
  return { packets: out, error };
}

function checkRun(r: Run): void {
  if (r.error !== null) {
    expect(KINDS.has(r.error.kind)).toBe(true);
    expect(r.error.reasonCode).toBe(REASON_CODE[r.error.kind]);
    expect(r.error.message.length).toBeGreaterThan(10);
  }
  for (const { packet, version } of r.packets) {
    // The pre-CONNECT packet of a 3.1 stream and a bridge CONNECT re-encode with their own fields.
    const again = parseAll(encode(packet, version), packet.cmd === 'connect' ? undefined : version);
    expect(again.error).toBeNull();
    expect(normalize(again.packets)).toEqual(normalize([packet]));
  }
}

const version = fc.constantFrom<ProtocolVersion | undefined>(undefined, 3, 4, 5);
const cuts = fc.array(fc.nat({ max: 400 }), { maxLength: 6 });

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(buf: Buffer, mutations: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of mutations) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'set') b[at] = m.value;
    else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
    else b = b.subarray(0, at);
  }
  return b;
}

describe('fuzz: the parser never throws', () => {
  test('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), cuts, version, (bytes, c, v) => {
        checkRun(run(bytes, c, v, 1 << 20));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  test('random bytes behind a valid fixed header', () => {
    const header = fc.integer({ min: 0, max: 255 }).chain((first) =>
      fc.uint8Array({ maxLength: 200 }).map((body) => Buffer.concat([Buffer.from([first, body.length & 0x7f]), Buffer.from(body)])),
    );
    fc.assert(
      fc.property(header, cuts, version, (bytes, c, v) => {
        checkRun(run(bytes, c, v, 1 << 20));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  test.each([3, 4, 5] as ProtocolVersion[])('mutated streams of valid v%i packets', (v) => {
    const stream = fc
      .tuple(arbPacket(v, 'connect', { oracle: false }), fc.array(arbAnyPacket(v, { oracle: false }), { minLength: 1, maxLength: 5 }))
      .map(([c, rest]) => Buffer.concat([c, ...rest].map((p) => encode(p, v))));
    fc.assert(
      fc.property(stream, fc.array(mutation, { minLength: 1, maxLength: 4 }), cuts, fc.integer({ min: 2, max: 1024 }), (bytes, muts, c, max) => {
        checkRun(run(mutate(bytes, muts), c, undefined, max));
      }),
      { seed: SEED, numRuns: 700 },
    );
  });
});
