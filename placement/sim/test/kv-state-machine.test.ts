import { describe, expect, it } from 'vitest';
import { decodeCommand, encodeCommand, KvStateMachine, type KvCommand } from '../kv-state-machine.js';

describe('simulation KV state machine', () => {
  it('applies put, delete and compare-and-set', () => {
    const sm = new KvStateMachine();
    expect(sm.apply(1, { op: 'put', clientId: 1, seq: 1, key: 'a', value: 'x' }).result).toEqual({ op: 'put' });
    expect(sm.apply(2, { op: 'cas', clientId: 1, seq: 2, key: 'a', expected: 'y', value: 'z' }).result).toEqual({ op: 'cas', ok: false });
    expect(sm.apply(3, { op: 'cas', clientId: 1, seq: 3, key: 'a', expected: 'x', value: 'z' }).result).toEqual({ op: 'cas', ok: true });
    expect(sm.get('a')).toBe('z');
    expect(sm.apply(4, { op: 'delete', clientId: 1, seq: 4, key: 'a' }).result).toEqual({ op: 'delete', existed: true });
    expect(sm.apply(5, { op: 'delete', clientId: 1, seq: 5, key: 'a' }).result).toEqual({ op: 'delete', existed: false });
    expect(sm.get('a')).toBeNull();
  });

  it('applies a duplicated command once and answers the duplicate with the first result', () => {
    const sm = new KvStateMachine();
    const put: KvCommand = { op: 'put', clientId: 7, seq: 1, key: 'k', value: 'first' };
    sm.apply(1, put);
    sm.apply(2, { op: 'put', clientId: 8, seq: 1, key: 'k', value: 'other' });
    expect(sm.apply(3, put)).toEqual({ result: { op: 'put' }, duplicate: true });
    expect(sm.get('k')).toBe('other');
    // An older sequence number (a proposal that arrived late) is ignored too.
    sm.apply(4, { op: 'put', clientId: 7, seq: 3, key: 'k', value: 'third' });
    expect(sm.apply(5, { op: 'put', clientId: 7, seq: 2, key: 'k', value: 'late' }).duplicate).toBe(true);
    expect(sm.get('k')).toBe('third');
  });

  it('round-trips through a snapshot deterministically', () => {
    const sm = new KvStateMachine();
    sm.apply(1, { op: 'put', clientId: 2, seq: 1, key: 'b', value: '1' });
    sm.apply(2, { op: 'put', clientId: 1, seq: 1, key: 'a', value: '2' });
    const snap = sm.snapshot();
    const back = KvStateMachine.restore(snap);
    expect(back.get('a')).toBe('2');
    expect(back.appliedIndex).toBe(2);
    expect(new TextDecoder().decode(back.snapshot())).toBe(new TextDecoder().decode(snap));
    expect(back.apply(3, { op: 'put', clientId: 1, seq: 1, key: 'a', value: 'dup' }).duplicate).toBe(true);
  });

  it('encodes commands and rejects garbage', () => {
    const cmd: KvCommand = { op: 'cas', clientId: 1, seq: 9, key: 'k', expected: null, value: 'v' };
    expect(decodeCommand(encodeCommand(cmd))).toEqual(cmd);
    expect(() => decodeCommand(new TextEncoder().encode('{"op":"drop"}'))).toThrowError(/not a KV command/);
  });
});
