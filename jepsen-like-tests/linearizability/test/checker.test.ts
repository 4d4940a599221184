import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOperations } from '../checker.js';
import { readHistoryFile, writeHistoryFile } from '../history-file.js';
import { kvModel, type KvInput, type KvOperation, type KvOutput } from '../kv-model.js';
import type { Model, Operation } from '../model.js';

// Porcupine's classic register: write(v) and read() -> v.
type RegIn = { kind: 'w'; v: number } | { kind: 'r' };
type RegOp = Operation<RegIn, number | null>;
const register: Model<number, RegIn, number | null> = {
  init: () => 0,
  step: (s, i, o) => (i.kind === 'w' ? [true, i.v] : [o === undefined || o === s, s]),
  readOnly: (i) => i.kind === 'r',
};
const w = (clientId: number, v: number, call: number, ret?: number): RegOp =>
  ret === undefined ? { clientId, input: { kind: 'w', v }, call } : { clientId, input: { kind: 'w', v }, call, output: null, return: ret };
const r = (clientId: number, v: number, call: number, ret: number): RegOp => ({ clientId, input: { kind: 'r' }, call, output: v, return: ret });

const put = (clientId: number, key: string, value: string, call: number, ret?: number): KvOperation =>
  ret === undefined
    ? { clientId, input: { op: 'put', key, value }, call }
    : { clientId, input: { op: 'put', key, value }, call, output: { op: 'put' }, return: ret };
const get = (clientId: number, key: string, value: string | null, call: number, ret: number): KvOperation => ({
  clientId,
  input: { op: 'get', key },
  call,
  output: { op: 'get', value },
  return: ret,
});
const cas = (clientId: number, key: string, expected: string | null, value: string, ok: boolean, call: number, ret: number): KvOperation => ({
  clientId,
  input: { op: 'cas', key, expected, value },
  call,
  output: { op: 'cas', ok },
  return: ret,
});

describe('linearizability checker: register (porcupine examples)', () => {
  it('accepts a history where concurrent reads see the write at different points', () => {
    // C0 writes 100 over [0,100]; C1 reads 100 over [25,75]; C2 reads 0 over [30,60].
    const h = [w(0, 100, 0, 100), r(1, 100, 25, 75), r(2, 0, 30, 60)];
    expect(checkOperations(register, h).verdict).toBe('ok');
  });

  it('rejects a read of the old value after a read of the new one completed', () => {
    // C1 reads 100 over [10,20], then C2 reads 0 over [30,40], all during the write.
    const h = [w(0, 100, 0, 100), r(1, 100, 10, 20), r(2, 0, 30, 40)];
    const res = checkOperations(register, h);
    expect(res.verdict).toBe('illegal');
    expect(res.counterexample!.remaining.length).toBeGreaterThan(0);
  });

  it('rejects a stale read after a completed write', () => {
    expect(checkOperations(register, [w(0, 1, 0, 10), r(1, 0, 20, 30)]).verdict).toBe('illegal');
  });

  it('rejects a read of a value nobody wrote', () => {
    expect(checkOperations(register, [w(0, 1, 0, 10), r(1, 7, 0, 30)]).verdict).toBe('illegal');
  });
});

describe('linearizability checker: unknown outcomes (timeouts)', () => {
  it('a timed-out write may take effect long after its call', () => {
    const h = [w(0, 5, 0), r(1, 0, 10, 20), r(1, 5, 100, 110)];
    expect(checkOperations(register, h).verdict).toBe('ok');
  });

  it('a timed-out write may never take effect', () => {
    const h = [w(0, 5, 0), r(1, 0, 10, 20), r(1, 0, 100, 110)];
    expect(checkOperations(register, h).verdict).toBe('ok');
  });

  it('a timed-out write takes effect at most once and not before its call', () => {
    expect(checkOperations(register, [r(1, 5, 0, 10), w(0, 5, 20)]).verdict).toBe('illegal');
    const flipFlop = [w(0, 5, 0), w(1, 6, 1, 2), r(2, 5, 10, 11), r(2, 6, 20, 21), r(2, 5, 30, 31)];
    expect(checkOperations(register, flipFlop).verdict).toBe('illegal');
  });

  it('an Infinity return time means unknown too', () => {
    const h: RegOp[] = [{ clientId: 0, input: { kind: 'w', v: 3 }, call: 0, return: Infinity }, r(1, 3, 5, 6)];
    expect(checkOperations(register, h).verdict).toBe('ok');
  });
});

describe('linearizability checker: KV model', () => {
  it('partitions by key so independent keys do not interact', () => {
    const h = [put(0, 'a', '1', 0, 10), put(1, 'b', '2', 0, 10), get(2, 'a', '1', 20, 30), get(2, 'b', '2', 20, 30), get(3, 'c', null, 0, 1)];
    const res = checkOperations(kvModel, h);
    expect(res).toMatchObject({ verdict: 'ok', partitions: 3 });
  });

  it('checks compare-and-set both ways', () => {
    expect(checkOperations(kvModel, [put(0, 'k', 'x', 0, 1), cas(1, 'k', 'x', 'y', true, 2, 3), get(0, 'k', 'y', 4, 5)]).verdict).toBe('ok');
    expect(checkOperations(kvModel, [put(0, 'k', 'x', 0, 1), cas(1, 'k', 'x', 'y', false, 2, 3)]).verdict).toBe('illegal');
    // Two concurrent CAS from the same expected value cannot both win.
    const both = [put(0, 'k', 'x', 0, 1), cas(1, 'k', 'x', 'y', true, 2, 5), cas(2, 'k', 'x', 'z', true, 2, 5)];
    expect(checkOperations(kvModel, both).verdict).toBe('illegal');
  });

  it('checks delete and its existed flag', () => {
    const del = (existed: boolean, call: number, ret: number): KvOperation => ({
      clientId: 1,
      input: { op: 'delete', key: 'k' },
      call,
      output: { op: 'delete', existed },
      return: ret,
    });
    expect(checkOperations(kvModel, [put(0, 'k', 'x', 0, 1), del(true, 2, 3), get(0, 'k', null, 4, 5)]).verdict).toBe('ok');
    expect(checkOperations(kvModel, [del(true, 2, 3)]).verdict).toBe('illegal');
    expect(checkOperations(kvModel, [put(0, 'k', 'x', 0, 1), del(true, 2, 3), get(0, 'k', 'x', 4, 5)]).verdict).toBe('illegal');
  });

  it('names the failing key in the counterexample', () => {
    const h = [put(0, 'good', '1', 0, 1), get(1, 'good', '1', 2, 3), put(0, 'bad', '1', 0, 1), get(1, 'bad', null, 2, 3)];
    const res = checkOperations(kvModel, h);
    expect(res.verdict).toBe('illegal');
    expect(res.counterexample!.history.every((op) => op.input.key === 'bad')).toBe(true);
    expect(res.counterexample!.longestPrefix.map((op) => op.input.op)).toEqual(['put']);
    expect(kvModel.describe!(res.counterexample!.remaining[0]!)).toMatch(/client 1 get\(bad\)/);
  });

  it('gives up with verdict unknown when the search budget is exhausted', () => {
    const h: KvOperation[] = [];
    for (let i = 0; i < 12; i++) h.push(put(i, 'k', `v${i}`, 0, 100));
    h.push(get(99, 'k', 'nobody', 0, 100));
    expect(checkOperations(kvModel, h, { maxSteps: 50 }).verdict).toBe('unknown');
  });

  it('rejects malformed operations precisely', () => {
    expect(() => checkOperations(kvModel, [{ ...put(0, 'k', 'v', 10, 5) }])).toThrowError(/returns \(5\) before its call \(10\)/);
    const noOutput = { clientId: 0, input: { op: 'get', key: 'k' } as KvInput, call: 0, return: 4 };
    expect(() => checkOperations(kvModel, [noOutput])).toThrowError(/without an output/);
  });
});

describe('linearizability checker: generated histories', () => {
  // Run a real in-memory KV with overlapping operations, recording each effect at a random
  // moment inside its [call, return] window: such histories are linearizable by construction.
  const opArb = fc.record({
    client: fc.nat({ max: 3 }),
    kind: fc.constantFrom('put', 'get', 'delete', 'cas'),
    key: fc.constantFrom('a', 'b'),
    value: fc.constantFrom('1', '2', '3'),
    expected: fc.constantFrom(null, '1', '2'),
    before: fc.nat({ max: 5 }),
    after: fc.nat({ max: 5 }),
    timeout: fc.boolean(),
  });

  type Spec = typeof opArb extends fc.Arbitrary<infer T> ? T : never;

  function build(specs: readonly Spec[]): KvOperation[] {
    const store = new Map<string, string>();
    const busyUntil = new Map<number, number>();
    const ops: KvOperation[] = [];
    let now = 0;
    for (const s of specs) {
      const free = busyUntil.get(s.client) ?? -1;
      // A client whose operation timed out never issues another one.
      if (free === Infinity) continue;
      now += 10;
      const call = Math.max(now - s.before, free + 1);
      const ret = now + s.after;
      const cur = store.get(s.key) ?? null;
      let input: KvInput;
      let output: KvOutput;
      if (s.kind === 'put') {
        input = { op: 'put', key: s.key, value: s.value };
        output = { op: 'put' };
        store.set(s.key, s.value);
      } else if (s.kind === 'get') {
        input = { op: 'get', key: s.key };
        output = { op: 'get', value: cur };
      } else if (s.kind === 'delete') {
        input = { op: 'delete', key: s.key };
        output = { op: 'delete', existed: cur !== null };
        store.delete(s.key);
      } else {
        input = { op: 'cas', key: s.key, expected: s.expected, value: s.value };
        output = { op: 'cas', ok: cur === s.expected };
        if (cur === s.expected) store.set(s.key, s.value);
      }
      const timedOut = s.timeout && s.kind !== 'get';
      busyUntil.set(s.client, timedOut ? Infinity : ret);
      ops.push(timedOut ? { clientId: s.client, input, call } : { clientId: s.client, input, call, output, return: ret });
    }
    return ops;
  }

  it('accepts every history produced by a correct store', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), (specs) => {
        expect(checkOperations(kvModel, build(specs)).verdict).toBe('ok');
      }),
      { numRuns: 200 },
    );
  });

  it('rejects the same histories after a read is corrupted to a value never written', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), fc.nat(), (specs, pick) => {
        const ops = build(specs);
        const reads = ops.map((op, i) => [op, i] as const).filter(([op]) => op.input.op === 'get');
        if (reads.length === 0) return;
        const [victim, at] = reads[pick % reads.length]!;
        ops[at] = { ...victim, output: { op: 'get', value: 'never-written' } };
        expect(checkOperations(kvModel, ops).verdict).toBe('illegal');
      }),
      { numRuns: 200 },
    );
  });
});

describe('history files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a failing history with its counterexample and reads it back for re-checking', () => {
    const h = [put(0, 'k', 'x', 0, 10), put(1, 'k', 'y', 5), get(2, 'k', 'z', 20, 30)];
    const res = checkOperations(kvModel, h);
    const path = join(dir, 'nested', 'failure.json');
    writeHistoryFile(path, h, res, 'seed 42');
    const back = readHistoryFile<KvInput, KvOutput>(path);
    expect(back).toMatchObject({ version: 1, verdict: 'illegal', note: 'seed 42' });
    expect(back.history[1]).toEqual(h[1]);
    expect(checkOperations(kvModel, back.history).verdict).toBe('illegal');
  });
});
