import { describe, expect, it } from 'vitest';
import { RaftLog } from '../raft-log.js';
import { MemoryRaftStorage } from '../storage.js';
import type { Entry } from '../types.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array([index]) });

function logWith(stored: number[], unstable: number[] = []): RaftLog {
  const s = new MemoryRaftStorage();
  s.append(stored.map((t, i) => e(i + 1, t)));
  const log = new RaftLog(s);
  if (unstable.length) log.append(unstable.map((t, i) => e(stored.length + i + 1, t)));
  return log;
}

describe('RaftLog', () => {
  it('reads terms and slices across storage and the unstable tail', () => {
    const log = logWith([1, 1, 2], [2, 3]);
    expect([log.firstIndex(), log.lastIndex(), log.lastTerm()]).toEqual([1, 5, 3]);
    expect(log.slice(2, 6).map((x) => x.term)).toEqual([1, 2, 2, 3]);
    expect(log.term(0)).toBe(0);
    expect(log.term(6)).toBeUndefined();
    expect(log.unstableEntries().map((x) => x.index)).toEqual([4, 5]);
  });

  it('limits slices by bytes but always returns one entry', () => {
    const log = logWith([1, 1, 1], [1, 1]);
    expect(log.slice(1, 6, 2)).toHaveLength(2);
    expect(log.slice(1, 6, 0)).toHaveLength(1);
    expect(log.slice(3, 6, 2)).toHaveLength(2); // the cut falls inside the unstable part
  });

  it('maybeAppend truncates a conflicting suffix and never moves commit past the new entries', () => {
    const log = logWith([1, 1, 1, 1]);
    log.commitTo(2);
    expect(log.maybeAppend(2, 1, 10, [e(3, 2), e(4, 2)])).toBe(4);
    expect([2, 3, 4].map((i) => log.term(i))).toEqual([1, 2, 2]);
    expect(log.committed).toBe(4);
    expect(log.maybeAppend(4, 9, 4, [])).toBeUndefined(); // previous entry does not match
  });

  it('refuses to overwrite a committed entry', () => {
    const log = logWith([1, 1, 1]);
    log.commitTo(3);
    expect(() => log.maybeAppend(1, 1, 3, [e(2, 5)])).toThrowError(/RAFT_CORRUPT/);
  });

  it('finds the back-off point by term', () => {
    const log = logWith([1, 1, 1, 4, 4, 5, 5, 5]);
    expect(log.findConflictByTerm(8, 5)).toEqual([8, 5]);
    expect(log.findConflictByTerm(8, 4)).toEqual([5, 4]);
    expect(log.findConflictByTerm(8, 3)).toEqual([3, 1]);
    expect(log.findConflictByTerm(8, 0)).toEqual([0, 0]);
  });

  it('commits by quorum only entries of the given term', () => {
    const log = logWith([1, 2, 2]);
    expect(log.maybeCommit(1, 2)).toBe(false);
    expect(log.maybeCommit(3, 2)).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('stableTo ignores an acknowledgement for an entry that was replaced meanwhile', () => {
    const log = logWith([1], [1, 1]);
    log.append([e(3, 2)]);
    log.stableTo(3, 1);
    expect(log.unstableEntries().map((x) => x.index)).toEqual([2, 3]);
    log.stableTo(3, 2);
    expect(log.unstableEntries()).toEqual([]);
  });

  it('a restored snapshot hides older entries and holds back committed entries until persisted', () => {
    const log = logWith([1, 1]);
    log.restore({ metadata: { index: 10, term: 3, confState: { voters: [1], learners: [] } }, data: new Uint8Array() });
    expect([log.firstIndex(), log.lastIndex(), log.committed, log.term(10)]).toEqual([11, 10, 10, 3]);
    expect(log.hasNextCommittedEnts()).toBe(false);
    log.stableSnapTo(10);
    expect(log.hasPendingSnapshot()).toBe(false);
  });
});
