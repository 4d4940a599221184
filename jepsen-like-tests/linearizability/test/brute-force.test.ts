/**
 * Cross-checks the search against brute force: on small random histories (random times, inputs
 * and outputs, some outcomes unknown) the checker must agree with trying every order that
 * respects real time.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkOperations } from '../checker.js';
import { kvModel, type KvInput, type KvOperation, type KvOutput, type KvState } from '../kv-model.js';
import { isUnknown } from '../model.js';

function bruteForce(ops: readonly KvOperation[]): boolean {
  const n = ops.length;
  const used = new Array<boolean>(n).fill(false);
  const ret = (op: KvOperation): number => (isUnknown(op) ? Infinity : op.return!);
  const search = (state: KvState, placed: number): boolean => {
    if (placed === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      // i may go next only if no unplaced operation finished before i was called.
      let ok = true;
      for (let j = 0; j < n && ok; j++) if (!used[j] && j !== i && ret(ops[j]!) < ops[i]!.call) ok = false;
      if (!ok) continue;
      const op = ops[i]!;
      const [legal, next] = kvModel.step(state, op.input, isUnknown(op) ? undefined : op.output);
      if (!legal) continue;
      used[i] = true;
      if (search(next, placed + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return search(null, 0);
}

const values = ['a', 'b', null] as const;
const opArb: fc.Arbitrary<KvOperation> = fc
  .record({
    client: fc.nat({ max: 3 }),
    kind: fc.constantFrom('put', 'get', 'delete', 'cas'),
    value: fc.constantFrom('a', 'b'),
    expected: fc.constantFrom(...values),
    observed: fc.constantFrom(...values),
    flag: fc.boolean(),
    call: fc.nat({ max: 20 }),
    length: fc.nat({ max: 8 }),
    unknown: fc.boolean(),
  })
  .map((r): KvOperation => {
    let input: KvInput;
    let output: KvOutput;
    switch (r.kind) {
      case 'put':
        input = { op: 'put', key: 'k', value: r.value };
        output = { op: 'put' };
        break;
      case 'get':
        input = { op: 'get', key: 'k' };
        output = { op: 'get', value: r.observed };
        break;
      case 'delete':
        input = { op: 'delete', key: 'k' };
        output = { op: 'delete', existed: r.flag };
        break;
      default:
        input = { op: 'cas', key: 'k', expected: r.expected, value: r.value };
        output = { op: 'cas', ok: r.flag };
    }
    if (r.unknown && r.kind !== 'get') return { clientId: r.client, input, call: r.call };
    return { clientId: r.client, input, call: r.call, output, return: r.call + r.length };
  });

describe('checker agrees with brute force', () => {
  it('on random single-key histories of up to 7 operations', () => {
    let legal = 0;
    let illegal = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 7 }), (ops) => {
        const expected = bruteForce(ops);
        if (expected) legal++;
        else illegal++;
        expect(checkOperations(kvModel, ops).linearizable).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    // Both outcomes must be well represented for the comparison to mean anything.
    expect(legal).toBeGreaterThan(300);
    expect(illegal).toBeGreaterThan(300);
  });
});
