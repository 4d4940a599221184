// GenerationReplay on hand-made record sequences: the rules open() relies on, without a journal.

import { describe, expect, it } from 'vitest';
import type { StorageOp } from '../driver.js';
import { encodeLive, encodeRecords } from '../journal-records.js';
import { CorruptGeneration, GenerationReplay } from '../journal-replay.js';
import { encodeBatches, encodeSnapshot } from '../s3-codec.js';
import { StorageState } from '../s3-state.js';

const put = (clientId: string): StorageOp => ({ op: 'session.put', session: { clientId, protocolVersion: 5, expiryInterval: 0, disconnectedAt: null } });
const snapshot = (seq = 0, ops: StorageOp[] = []): Buffer[] => {
  const s = new StorageState();
  if (ops.length > 0) s.apply(ops);
  return encodeRecords('snapshot', seq, encodeSnapshot(seq, s), 1 << 20);
};
const group = (seq: number, ...batches: StorageOp[][]): Buffer[] => encodeRecords('batch', seq, encodeBatches(seq, batches), 1 << 20);

function replay(records: Buffer[]): GenerationReplay {
  const r = new GenerationReplay('g');
  records.forEach((v, i) => r.feed(i, v));
  return r;
}
const ids = (r: GenerationReplay): string[] => r.state.listSessions().map((s) => s.clientId).sort();

describe('GenerationReplay', () => {
  it('snapshot, copied groups, live marker, then more groups', () => {
    const r = replay([...snapshot(4, [put('a')]), ...group(5, [put('b')]), encodeLive(5), ...group(6, [put('c')], [put('d')])]);
    expect(r.live).toBe(true);
    expect(r.seq).toBe(6);
    expect(ids(r)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('without the live marker the generation is not live (an interrupted rotation)', () => {
    expect(replay([...snapshot(), ...group(1, [put('a')])]).live).toBe(false);
    expect(replay(snapshot().slice(0, 0)).live).toBe(false);
  });

  it('a group with the number of the one before replaces it (the earlier write had no definite answer)', () => {
    const r = replay([...snapshot(), encodeLive(0), ...group(1, [put('a')]), ...group(2, [put('lost')]), ...group(2, [put('b')]), ...group(3, [put('c')])]);
    expect(ids(r)).toEqual(['a', 'b', 'c']);
    expect(r.seq).toBe(3);
  });

  it('parts are joined; a group cut short is dropped when the next group starts', () => {
    const big = (seq: number, id: string): Buffer[] => encodeRecords('batch', seq, encodeBatches(seq, [[put(id)], [{ op: 'retain.put', message: { id, topic: id, payload: Buffer.alloc(5000, 1), qos: 0, retain: true, createdAt: 1 } }]]), 1024);
    const cut = big(1, 'cut');
    expect(cut.length).toBeGreaterThan(2);
    const r = replay([...snapshot(), encodeLive(0), ...cut.slice(0, 2), ...big(1, 'whole')]);
    expect(ids(r)).toEqual(['whole']);
    expect(r.state.listRetained()[0]!.payload.length).toBe(5000);
    // At the end of the log it is simply ignored.
    expect(ids(replay([...snapshot(), encodeLive(0), ...cut.slice(0, 2)]))).toEqual([]);
  });

  it('refuses a gap, a group before the snapshot, a misplaced live marker, a stray part and a foreign record', () => {
    const bad: Array<[string, Buffer[], RegExp]> = [
      ['gap', [...snapshot(), encodeLive(0), ...group(2, [put('a')])], /group 2 after group 0/],
      ['group first', group(1, [put('a')]), /before the snapshot/],
      ['live mismatch', [...snapshot(), encodeLive(3)], /live marker after group 3, but the last group is 0/],
      ['stray part', [...snapshot(), encodeLive(0), ...encodeRecords('batch', 1, Buffer.alloc(3000), 1024).slice(1)], /does not follow/],
      ['foreign', [Buffer.from('hello world, not ours at all')], /bad magic/],
      ['does not apply', [...snapshot(), ...group(1, [{ op: 'in2.put', clientId: 'ghost', packetId: 1 }])], /does not apply/],
    ];
    for (const [what, records, message] of bad) {
      expect(() => replay(records), what).toThrow(CorruptGeneration);
      expect(() => replay(records), what).toThrow(message);
    }
  });
});
