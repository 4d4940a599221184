import { describe, expect, it } from 'vitest';
import { isRaftError } from '../errors.js';
import { MemoryRaftStorage } from '../storage.js';
import { TestCluster, text } from './helpers/cluster.js';

describe('snapshots and log compaction', () => {
  it('compacts the log behind a snapshot', () => {
    const c = new TestCluster({ voters: [1] });
    c.campaign(1);
    for (let i = 0; i < 10; i++) c.propose(1, `v${i}`);
    const n = c.node(1);
    const applied = n.status().applied;
    const snap = n.createSnapshot(text('state'));
    expect(snap.metadata).toMatchObject({ index: applied, confState: { voters: [1], learners: [] } });
    n.compact(applied - 2);
    expect(n.status().firstIndex).toBe(applied - 1);
    expect(() => n.entries(1, 3)).toThrowError(/RAFT_COMPACTED/);
  });

  it('refuses to compact beyond the applied index or the snapshot', () => {
    const c = new TestCluster({ voters: [1] });
    c.campaign(1);
    c.propose(1, 'a');
    const n = c.node(1);
    expect(() => n.compact(n.status().applied + 1)).toThrowError(/RAFT_MISUSE/);
    let caught: unknown;
    try {
      n.compact(n.status().applied); // no snapshot yet
    } catch (err: unknown) {
      caught = err;
    }
    expect(isRaftError(caught, 'RAFT_UNAVAILABLE')).toBe(true);
  });

  it('sends InstallSnapshot to a follower that fell behind the compacted log', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 8; i++) c.propose(1, `v${i}`);
    const leader = c.node(1);
    leader.createSnapshot(text('snapshot-of-8'));
    leader.compact(leader.status().applied);
    c.clearFilters();
    c.tickAll(3);
    const snaps = c.delivered.filter((m) => m.type === 'MsgSnap' && m.to === 3);
    expect(snaps).toHaveLength(1);
    const f = c.get(3);
    expect(f.snapshotsApplied.map((s) => new TextDecoder().decode(s.data))).toEqual(['snapshot-of-8']);
    expect(f.node.status().commit).toBe(leader.status().commit);
    // Later entries flow normally after the snapshot.
    c.propose(1, 'after');
    expect(c.appliedTexts(3)).toEqual(['after']);
  });

  it('a failed snapshot send is retried after reportSnapshot(failure)', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    for (let i = 0; i < 4; i++) c.propose(1, `v${i}`);
    c.node(1).createSnapshot(text('s'));
    c.node(1).compact(c.node(1).status().applied);
    c.clearFilters();
    let dropped = 0;
    c.addFilter((m) => (m.type === 'MsgSnap' && dropped++ === 0 ? true : false));
    c.tickAll(2);
    expect(c.get(3).snapshotsApplied).toHaveLength(0);
    expect(c.node(1).status().progress?.get(3)?.state).toBe('snapshot');
    c.node(1).reportSnapshot(3, 'failure');
    c.tickAll(3);
    expect(c.get(3).snapshotsApplied).toHaveLength(1);
  });

  it('a node restarts from snapshot plus log and keeps its membership', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    const n2 = c.node(2);
    n2.createSnapshot(text('s2'));
    n2.compact(n2.status().applied);
    c.propose(1, 'tail');
    const before = n2.status();
    c.restart(2);
    const after = c.node(2).status();
    expect(after).toMatchObject({ term: before.term, commit: before.commit, lastIndex: before.lastIndex });
    expect(after.applied).toBe(c.get(2).storage.snapshot().metadata.index);
    expect(after.confState).toEqual({ voters: [1, 2, 3], learners: [] });
    c.tickAll(2);
    expect(c.appliedTexts(2)).toEqual(['tail']);
  });

  it('MemoryRaftStorage reports compacted and unavailable ranges precisely', () => {
    const s = new MemoryRaftStorage();
    s.append([1, 2, 3, 4].map((i) => ({ index: i, term: 1, type: 'normal' as const, data: text(`${i}`) })));
    s.createSnapshot(2, { voters: [1], learners: [] }, text('x'));
    s.compact(2);
    expect(s.firstIndex()).toBe(3);
    expect(s.term(2)).toBe(1);
    expect(() => s.term(1)).toThrowError(/RAFT_COMPACTED/);
    expect(() => s.entries(2, 4)).toThrowError(/RAFT_COMPACTED/);
    expect(() => s.entries(3, 6)).toThrowError(/RAFT_UNAVAILABLE/);
    expect(() => s.applySnapshot({ metadata: { index: 1, term: 1, confState: { voters: [1], learners: [] } }, data: text('') })).toThrowError(
      /RAFT_SNAPSHOT_OUT_OF_DATE/,
    );
    // Appending over a suffix truncates it.
    s.append([{ index: 4, term: 2, type: 'normal', data: text('x') }]);
    expect(s.lastIndex()).toBe(4);
    expect(s.term(4)).toBe(2);
  });
});
