// The shared PUBLISH encoding, patched per subscriber, is byte-identical to encoding each
// delivery on its own. Seed: FC_SEED (fast-check prints seed and path on failure).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodePublish } from '../codec/index.js';
import { sharedPublish } from '../publish-cache.js';
import type { StoredMessage } from '../../storage/driver.js';

const seed = Number(process.env.FC_SEED ?? 7);

describe('sharedPublish', () => {
  it('equals a direct encode for every variant, packet id and DUP', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 300 }).filter((t) => !/[+#\u0000]/.test(t)),
        fc.uint8Array({ maxLength: 20_000 }),
        fc.boolean(), fc.constantFrom(0, 1, 2), fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 65535 }),
        fc.option(fc.record({ contentType: fc.string(), userProperties: fc.dictionary(fc.string({ minLength: 1 }), fc.string()) }, { requiredKeys: [] }), { nil: undefined }),
        (topic, payload, v5, qos, retain, dup, pid, properties) => {
          const m: StoredMessage = { id: '', topic, payload: Buffer.from(payload), qos: qos as 0 | 1 | 2, retain, createdAt: 0, properties };
          const q = qos as 0 | 1 | 2;
          const d = q > 0 && dup;
          // Twice: the second call is served from the cache.
          for (let i = 0; i < 2; i++) {
            const got = sharedPublish(m, v5, q, retain, d, q > 0 ? pid : undefined);
            const want = encodePublish({ topic, payload: m.payload, qos: q, retain, dup: d, messageId: q > 0 ? pid : undefined, properties: v5 ? properties : undefined }, v5 ? 5 : 4);
            expect(got.equals(want)).toBe(true);
          }
        },
      ),
      { seed, numRuns: 300 },
    );
  });
});
