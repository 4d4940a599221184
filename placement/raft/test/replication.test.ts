import { describe, expect, it } from 'vitest';
import { isRaftError } from '../errors.js';
import { RaftNode } from '../raft-node.js';
import { SeededRng } from '../rng.js';
import { MemoryRaftStorage } from '../storage.js';
import type { Entry, MsgAppResp } from '../types.js';
import { TestCluster, text } from './helpers/cluster.js';

const entry = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: text(`${index}@${term}`) });

/** A node whose storage already holds the given log (terms listed per index from 1). */
function nodeWithLog(id: number, terms: number[], term: number): { node: RaftNode; storage: MemoryRaftStorage } {
  // Membership comes from a snapshot at index 0 so the log holds only the given entries.
  const snapStorage = new MemoryRaftStorage();
  snapStorage.applySnapshot({ metadata: { index: 0, term: 0, confState: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array() });
  snapStorage.append(terms.map((t, i) => entry(i + 1, t)));
  snapStorage.setHardState({ term, vote: 0, commit: 0 });
  const node = new RaftNode({ id, electionTick: 10, heartbeatTick: 1, storage: snapStorage, rng: new SeededRng(id) });
  return { node, storage: snapStorage };
}

describe('log replication', () => {
  it('replicates and commits a proposal on every node', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.propose(1, 'a');
    c.propose(1, 'b');
    c.tickAll(1);
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(['a', 'b']);
  });

  it('followers forward proposals to the leader', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.propose(3, 'from-follower');
    c.tickAll(1);
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(['from-follower']);
  });

  it('a proposal without a known leader fails with RAFT_PROPOSAL_DROPPED', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    let caught: unknown;
    try {
      c.node(2).propose(text('x'));
    } catch (err: unknown) {
      caught = err;
    }
    expect(isRaftError(caught, 'RAFT_PROPOSAL_DROPPED')).toBe(true);
  });

  it('commits with a majority while a minority is partitioned, then catches the minority up', () => {
    const c = new TestCluster({ voters: [1, 2, 3, 4, 5] });
    c.campaign(1);
    c.partition([1, 2, 3], [4, 5]);
    for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
    expect(c.appliedTexts(3)).toHaveLength(5);
    expect(c.appliedTexts(4)).toHaveLength(0);
    c.clearFilters();
    c.tickAll(2);
    for (const id of [4, 5]) expect(c.appliedTexts(id)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('repairs a divergent follower log, overwriting its uncommitted conflicting suffix', () => {
    // Figure 7 style: the follower has extra entries from an old term that never committed.
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.propose(1, 'committed');
    // 1 appends entries that only it receives, then loses leadership.
    c.isolate(1);
    c.node(1).propose(text('lost-1'));
    c.node(1).propose(text('lost-2'));
    c.stabilize();
    c.campaign(2);
    c.propose(2, 'new-1');
    c.clearFilters();
    c.tickAll(3);
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(['committed', 'new-1']);
    expect(c.node(1).status().lastIndex).toBe(c.node(2).status().lastIndex);
  });

  it('the fast back-off hint skips a whole conflicting term in one round trip', () => {
    // Follower log: terms [1,1,1,2,2,2,2,2,2,2] — the leader at term 5 has [1,1,1,4,4,4,4,4,4,4,4,4].
    const { node: follower } = nodeWithLog(2, [1, 1, 1, 2, 2, 2, 2, 2, 2, 2], 4);
    follower.step({ type: 'MsgApp', from: 1, to: 2, term: 5, index: 12, logTerm: 4, entries: [], commit: 3 });
    const rd = follower.ready();
    const resp = rd.messages.find((m): m is MsgAppResp => m.type === 'MsgAppResp');
    expect(resp).toMatchObject({ reject: true, index: 12, rejectHint: 10, logTerm: 2 });
    follower.advance(rd);
    // The leader's log has no term-2 entries, so findConflictByTerm(10, 2) lands on index 3, the
    // last term-1 entry: the next probe goes straight to the divergence point.
    const { node: leader } = nodeWithLog(1, [1, 1, 1, 4, 4, 4, 4, 4, 4, 4, 4, 4], 4);
    leader.campaign();
    let lrd = leader.ready();
    leader.advance(lrd);
    leader.step({ type: 'MsgVoteResp', from: 3, to: 1, term: 5, reject: false });
    lrd = leader.ready();
    leader.advance(lrd);
    expect(leader.status().role).toBe('leader');
    leader.step({ ...resp!, term: 5, index: 12 });
    lrd = leader.ready();
    const probe = lrd.messages.find((m) => m.type === 'MsgApp' && m.to === 2);
    expect(probe).toMatchObject({ index: 3, logTerm: 1 });
    leader.advance(lrd);
  });

  it('commits only entries of the current term by counting replicas (paper 5.4.2, Figure 8)', () => {
    const storage = new MemoryRaftStorage();
    storage.applySnapshot({ metadata: { index: 0, term: 0, confState: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array() });
    storage.append([entry(1, 1), entry(2, 2)]);
    storage.setHardState({ term: 2, vote: 0, commit: 1 });
    const n = new RaftNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage, rng: new SeededRng(1) });
    n.campaign();
    let rd = n.ready();
    n.advance(rd);
    n.step({ type: 'MsgVoteResp', from: 2, to: 1, term: 3, reject: false });
    rd = n.ready();
    storage.append(rd.entries);
    n.advance(rd);
    expect(n.status()).toMatchObject({ role: 'leader', lastIndex: 3, commit: 1 });
    // Follower 2 acknowledges index 2 only (the term-2 entry): no commit.
    n.step({ type: 'MsgAppResp', from: 2, to: 1, term: 3, index: 2, reject: false, rejectHint: 0, logTerm: 0 });
    expect(n.status().commit).toBe(1);
    n.step({ type: 'MsgAppResp', from: 2, to: 1, term: 3, index: 3, reject: false, rejectHint: 0, logTerm: 0 });
    expect(n.status().commit).toBe(3);
  });

  it('a stale leader learns a higher term from a follower and steps down (check-quorum / pre-vote)', () => {
    const c = new TestCluster({ voters: [1, 2, 3], preVote: true, checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    c.tickAll(30);
    const newLeader = c.leader();
    expect(newLeader).not.toBe(1);
    c.clearFilters();
    // 1 may already have stepped down through check-quorum; either way it ends as a follower.
    c.tickAll(3);
    expect(c.node(1).status()).toMatchObject({ role: 'follower', lead: newLeader });
  });

  it('limits append messages to maxSizePerMsg bytes', () => {
    const c = new TestCluster({ voters: [1, 2], maxSizePerMsg: 10 });
    c.campaign(1);
    c.isolate(2);
    for (let i = 0; i < 6; i++) c.node(1).propose(text(`12345678-${i}`));
    c.stabilize();
    c.clearFilters();
    c.tickAll(3);
    const apps = c.delivered.filter((m) => m.type === 'MsgApp' && m.to === 2 && m.entries.length > 0);
    expect(apps.every((m) => m.type === 'MsgApp' && m.entries.length === 1)).toBe(true);
    expect(c.appliedTexts(2)).toHaveLength(6);
  });
});
