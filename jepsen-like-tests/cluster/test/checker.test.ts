// The checker finds what it must: a lost acknowledged message, a QoS 2 duplicate, a reordering;
// and accepts QoS 1 duplicates and unacknowledged messages that never arrived.

import { describe, expect, it } from 'vitest';
import { checkHistory } from '../checker.js';

describe('cluster history checker', () => {
  it('accepts a clean history with QoS 1 duplicates and unacknowledged losses', () => {
    const v = checkHistory(
      [{ publisher: 'p', seq: 1, qos: 1, acked: true }, { publisher: 'p', seq: 2, qos: 1, acked: true }, { publisher: 'p', seq: 3, qos: 1, acked: false }],
      [{ subscriber: 's', publisher: 'p', seq: 1 }, { subscriber: 's', publisher: 'p', seq: 1 }, { subscriber: 's', publisher: 'p', seq: 2 }],
      ['s'],
    );
    expect(v.ok).toBe(true);
    expect(v.acked).toBe(2);
  });

  it('reports a lost acknowledged message, a QoS 2 duplicate and a reordering', () => {
    const v = checkHistory(
      [{ publisher: 'p', seq: 1, qos: 2, acked: true }, { publisher: 'p', seq: 2, qos: 1, acked: true }, { publisher: 'p', seq: 3, qos: 1, acked: true }],
      [{ subscriber: 's', publisher: 'p', seq: 1 }, { subscriber: 's', publisher: 'p', seq: 3 }, { subscriber: 's', publisher: 'p', seq: 1 }, { subscriber: 't', publisher: 'p', seq: 3 }, { subscriber: 't', publisher: 'p', seq: 2 }],
      ['s', 't'],
    );
    expect(v.ok).toBe(false);
    expect(v.lost).toEqual([{ subscriber: 't', publisher: 'p', seq: 1 }, { subscriber: 's', publisher: 'p', seq: 2 }]);
    expect(v.duplicatedQos2).toEqual([{ subscriber: 's', publisher: 'p', seq: 1, times: 2 }]);
    expect(v.outOfOrder).toEqual([{ subscriber: 't', publisher: 'p', after: 3, got: 2 }]);
  });
});
