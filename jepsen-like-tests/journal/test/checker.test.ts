// The journal history checker on hand-made histories, good and bad.
import { describe, expect, it } from 'vitest';
import { checkJournalHistory, longestUnavailability, type WriteOp } from '../checker.js';

const ok = (client: number, value: string, offset: number, t: number): WriteOp => ({ client, value, call: t, ret: t + 1, outcome: 'ok', offset });
const unknown = (client: number, value: string, t: number): WriteOp => ({ client, value, call: t, ret: t + 5, outcome: 'unknown', code: 'JR_TIMEOUT' });
const fail = (client: number, value: string, t: number): WriteOp => ({ client, value, call: t, ret: t + 1, outcome: 'fail', code: 'JR_NOT_ENOUGH_REPLICAS' });

describe('journal history checker', () => {
  const history = [ok(1, 'a', 0, 0), ok(2, 'b', 1, 1), unknown(1, 'c', 2), fail(2, 'd', 3), ok(1, 'e', 2, 10)];

  it('accepts a log with every acknowledged write at its offset, unknowns either way', () => {
    expect(checkJournalHistory(history, ['a', 'b', 'e'])).toMatchObject({ valid: true, counts: { ok: 3, fail: 1, unknown: 1, unknownPresent: 0 } });
    const withUnknown = [ok(1, 'a', 0, 0), unknown(1, 'c', 2), ok(1, 'e', 2, 10)];
    expect(checkJournalHistory(withUnknown, ['a', 'c', 'e']).valid).toBe(true);
  });

  it('reports lost, misplaced, duplicated, phantom and failed-present records', () => {
    const kinds = (log: string[]) => checkJournalHistory(history, log).violations.map((v) => v.kind).sort();
    expect(kinds(['a', 'b'])).toEqual(['lost']);
    expect(kinds(['b', 'a', 'e'])).toEqual(['misplaced', 'misplaced']);
    expect(kinds(['e', 'b', 'a'])).toEqual(['client-order', 'misplaced', 'misplaced']);
    expect(kinds(['a', 'b', 'e', 'e'])).toEqual(['duplicated']);
    expect(kinds(['a', 'b', 'e', 'zz'])).toEqual(['phantom']);
    expect(kinds(['a', 'b', 'e', 'd'])).toEqual(['failed-present']);
  });

  it('reports a client whose unknown write landed after its next write', () => {
    const h = [ok(1, 'a', 0, 0), unknown(1, 'c', 2), ok(1, 'e', 1, 10)];
    expect(checkJournalHistory(h, ['a', 'e', 'c']).violations.map((v) => v.kind)).toEqual(['client-order']);
  });

  it('measures the longest stretch without acknowledgements', () => {
    const h = [ok(1, 'a', 0, 0), ok(1, 'b', 1, 100), ok(1, 'c', 2, 1500), ok(1, 'd', 3, 1600)];
    expect(longestUnavailability(h, 0, 2000)).toEqual({ start: 101, ms: 1400 });
  });
});
