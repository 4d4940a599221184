import { describe, expect, it } from 'vitest';
import { decodeConfChange, encodeConfChange } from '../conf-change.js';
import { isRaftError } from '../errors.js';
import { TestCluster } from './helpers/cluster.js';

function caught(f: () => void): unknown {
  try {
    f();
  } catch (err: unknown) {
    return err;
  }
  return undefined;
}

describe('membership change, one node at a time', () => {
  it('adds a learner that replicates the log but neither votes nor counts for commit', () => {
    const c = new TestCluster({ voters: [1, 2, 3], joiners: [4] });
    c.campaign(1);
    c.propose(1, 'before');
    c.node(1).proposeConfChange({ type: 'add-learner', nodeId: 4 });
    c.stabilize();
    c.tickAll(3);
    expect(c.node(1).status().confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    expect(c.appliedTexts(4)).toEqual(['before']);
    expect(c.node(4).status().confState).toEqual({ voters: [1, 2, 3], learners: [4] });
    // A learner never campaigns.
    c.tick(4, 100);
    c.stabilize();
    expect(c.node(4).status().role).toBe('follower');
    // Commit needs two of the three voters; the learner does not help.
    c.isolate(2);
    c.isolate(3);
    c.node(1).propose(new TextEncoder().encode('needs-voters'));
    c.stabilize();
    expect(c.appliedTexts(1)).toEqual(['before']);
    expect(c.node(4).status().lastIndex).toBe(c.node(1).status().lastIndex);
  });

  it('promotes a caught-up learner to voter', () => {
    const c = new TestCluster({ voters: [1, 2, 3], joiners: [4] });
    c.campaign(1);
    c.node(1).proposeConfChange({ type: 'add-learner', nodeId: 4 });
    c.stabilize();
    c.node(1).proposeConfChange({ type: 'add-voter', nodeId: 4 });
    c.stabilize();
    c.tickAll(2);
    for (const id of [1, 2, 3, 4]) expect(c.node(id).status().confState).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    // Now 4 is needed: with 2 and 3 down, 1+4 is not a majority of four.
    c.isolate(2);
    c.isolate(3);
    c.node(1).propose(new TextEncoder().encode('x'));
    c.stabilize();
    expect(c.appliedTexts(1)).toEqual([]);
    c.clearFilters();
    c.isolate(3);
    c.tickAll(2);
    expect(c.appliedTexts(1)).toEqual(['x']);
  });

  it('removes a voter; the remaining majority commits without it', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.node(1).proposeConfChange({ type: 'remove-node', nodeId: 3 });
    c.stabilize();
    c.tickAll(1);
    expect(c.node(1).status().confState.voters).toEqual([1, 2]);
    c.isolate(3);
    c.propose(1, 'two-of-two');
    expect(c.appliedTexts(2)).toEqual(['two-of-two']);
  });

  it('allows at most one pending change at a time', () => {
    const c = new TestCluster({ voters: [1, 2, 3], joiners: [4, 5] });
    c.campaign(1);
    c.isolate(2);
    c.isolate(3);
    c.node(1).proposeConfChange({ type: 'add-learner', nodeId: 4 });
    c.stabilize();
    const err = caught(() => c.node(1).proposeConfChange({ type: 'add-learner', nodeId: 5 }));
    expect(isRaftError(err, 'RAFT_CONF_CHANGE_REJECTED')).toBe(true);
    c.clearFilters();
    c.tickAll(2);
    c.node(1).proposeConfChange({ type: 'add-learner', nodeId: 5 });
    c.stabilize();
    expect(c.node(1).status().confState.learners).toEqual([4, 5]);
  });

  it('a new leader accepts no change until it has applied its whole log', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    // 2 receives 'x' but never learns that it committed.
    c.addFilter((m) => m.from === 2 && m.to === 1);
    c.propose(1, 'x');
    c.clearFilters();
    c.isolate(3);
    const n2 = c.node(2);
    n2.campaign();
    const runTo = (id: number): void => {
      for (const m of c.queue.splice(0)) if (m.to === id) c.deliver(m);
    };
    c.processReady(2);
    runTo(1);
    c.processReady(1);
    runTo(2);
    expect(n2.status().role).toBe('leader');
    expect(n2.status().applied).toBeLessThan(n2.status().lastIndex - 1);
    const err = caught(() => n2.proposeConfChange({ type: 'remove-node', nodeId: 3 }));
    expect(isRaftError(err, 'RAFT_CONF_CHANGE_REJECTED')).toBe(true);
    // Once the tail (and the new leader's no-op) is applied, the change is accepted.
    c.stabilize();
    n2.proposeConfChange({ type: 'remove-node', nodeId: 3 });
    c.stabilize();
    expect(n2.status().confState.voters).toEqual([1, 2]);
  });

  it('rejects invalid changes with a precise error', () => {
    const c = new TestCluster({ voters: [1] });
    c.campaign(1);
    const n = c.node(1);
    expect(String(caught(() => n.proposeConfChange({ type: 'add-voter', nodeId: 1 })))).toMatch(/already a voter/);
    expect(String(caught(() => n.proposeConfChange({ type: 'remove-node', nodeId: 9 })))).toMatch(/not a member/);
    expect(String(caught(() => n.proposeConfChange({ type: 'remove-node', nodeId: 1 })))).toMatch(/last voter/);
    expect(String(caught(() => n.proposeConfChange({ type: 'add-voter', nodeId: 0 })))).toMatch(/RAFT_INVALID_CONFIG/);
  });

  it('a leader that removes itself steps down and the others elect a new leader', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.node(1).proposeConfChange({ type: 'remove-node', nodeId: 1 });
    c.stabilize();
    c.tickAll(1);
    expect(c.node(1).status().role).toBe('follower');
    c.isolate(1);
    c.tickAll(30);
    const leader = c.leader();
    expect([2, 3]).toContain(leader);
    expect(c.node(leader).status().confState.voters).toEqual([2, 3]);
  });

  it('a node added as voter catches up and joins elections', () => {
    const c = new TestCluster({ voters: [1, 2, 3], joiners: [4] });
    c.campaign(1);
    c.propose(1, 'a');
    c.node(1).proposeConfChange({ type: 'add-voter', nodeId: 4 });
    c.stabilize();
    c.tickAll(2);
    expect(c.appliedTexts(4)).toEqual(['a']);
    c.isolate(1);
    c.node(4).campaign();
    c.stabilize();
    expect(c.node(4).status().role).toBe('leader');
  });

  it('encodes conf changes losslessly and rejects garbage', () => {
    const cc = { type: 'add-learner' as const, nodeId: 2 ** 40 + 3, context: new Uint8Array([1, 2, 3]) };
    expect(decodeConfChange(encodeConfChange(cc))).toEqual(cc);
    expect(() => decodeConfChange(new Uint8Array([1, 2]))).toThrowError(/RAFT_CORRUPT/);
    expect(() => decodeConfChange(new Uint8Array([1, 7, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrowError(/type 7/);
  });
});
