// The forwarded-batch encoding: every message survives the round trip field for field, and bytes
// that are not a batch (truncated, mutated, another version) fail with BR_CLUSTER_PEER_PROTOCOL,
// never another exception, so a bad peer cannot half-route a batch. Seeded: FC_SEED reproduces.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeForwarded, encodeForwarded, type Forwarded } from '../link-batch-codec.js';
import { ClusterError } from '../cluster-error.js';

const seed = Number(process.env.FC_SEED ?? 20261126);

const text = fc.string({ unit: 'grapheme', maxLength: 20 });
const message: fc.Arbitrary<Forwarded> = fc.record({
  topic: fc.string({ minLength: 1, maxLength: 30 }),
  payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
  retain: fc.boolean(),
  id: text,
  origin: fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined }),
  createdAt: fc.integer({ min: 0, max: 2 ** 42 }),
  expiresAt: fc.option(fc.integer({ min: 0, max: 2 ** 42 }), { nil: undefined }),
  properties: fc.option(fc.record({ contentType: text, responseTopic: text }), { nil: undefined }),
  sharedGroups: fc.array(text, { maxLength: 3 }),
  retainOnly: fc.boolean(),
  sharedOnly: fc.boolean(),
  publisherPacketId: fc.integer({ min: 0, max: 65535 }),
  redelivery: fc.boolean(),
}).map((r) => ({
  message: { id: r.id, topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain, properties: r.properties, createdAt: r.createdAt, expiresAt: r.expiresAt, origin: r.origin },
  sharedGroups: r.sharedGroups, retainOnly: r.retainOnly, sharedOnly: r.sharedOnly, publisherPacketId: r.publisherPacketId, redelivery: r.redelivery,
}));

describe('link batch codec', () => {
  it('round-trips every field', () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 20 }), (list) => {
      expect(decodeForwarded(encodeForwarded(list))).toEqual(list);
    }), { seed, numRuns: 300 });
  });

  it('an empty batch', () => {
    expect(decodeForwarded(encodeForwarded([]))).toEqual([]);
  });

  it('truncated or mutated bytes fail with BR_CLUSTER_PEER_PROTOCOL or decode to something, never throw anything else', () => {
    fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.nat(), fc.nat(255), fc.boolean(), (list, at, value, cut) => {
      const bytes = encodeForwarded(list);
      const i = at % bytes.length;
      const bad = cut ? bytes.subarray(0, i) : Buffer.from(bytes);
      if (!cut) bad[i] = value;
      try {
        decodeForwarded(bad);
      } catch (err) {
        expect(err).toBeInstanceOf(ClusterError);
        expect((err as ClusterError).code).toBe('BR_CLUSTER_PEER_PROTOCOL');
      }
    }), { seed, numRuns: 500 });
  });

  it('refuses another encoding version', () => {
    const bytes = encodeForwarded([]);
    bytes[0] = 9;
    expect(() => decodeForwarded(bytes)).toThrow(/unknown encoding version 9/);
  });

  it('payloads are copies: a decoded message does not pin the batch', () => {
    const bytes = encodeForwarded([{ message: { id: 'a', topic: 't', payload: Buffer.from('xyz'), qos: 1, retain: false, createdAt: 1 }, sharedGroups: [], retainOnly: false, sharedOnly: false, publisherPacketId: 0, redelivery: false }]);
    const [f] = decodeForwarded(bytes);
    bytes.fill(0);
    expect(f!.message.payload.toString()).toBe('xyz');
  });
});
