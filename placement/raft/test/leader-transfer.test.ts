import { describe, expect, it } from 'vitest';
import { isRaftError } from '../errors.js';
import { TestCluster, text } from './helpers/cluster.js';

describe('leader transfer (TimeoutNow)', () => {
  it('hands leadership to an up-to-date follower', () => {
    const c = new TestCluster({ voters: [1, 2, 3], preVote: true, checkQuorum: true });
    c.campaign(1);
    c.propose(1, 'a');
    c.node(1).transferLeadership(2);
    c.stabilize();
    expect(c.leader()).toBe(2);
    expect(c.node(1).status()).toMatchObject({ role: 'follower', lead: 2 });
    expect(c.delivered.some((m) => m.type === 'MsgTimeoutNow' && m.to === 2)).toBe(true);
    c.propose(2, 'b');
    for (const id of [1, 2, 3]) expect(c.appliedTexts(id)).toEqual(['a', 'b']);
  });

  it('catches a lagging transferee up before sending TimeoutNow', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'a');
    c.propose(1, 'b');
    c.clearFilters();
    c.node(1).transferLeadership(3);
    c.stabilize();
    expect(c.leader()).toBe(3);
    expect(c.appliedTexts(3)).toEqual(['a', 'b']);
  });

  it('drops proposals while a transfer is in progress and abandons it after an election timeout', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    c.node(1).transferLeadership(3);
    c.stabilize();
    expect(c.node(1).status().leadTransferee).toBe(3);
    let err: unknown;
    try {
      c.node(1).propose(text('x'));
    } catch (e: unknown) {
      err = e;
    }
    expect(isRaftError(err, 'RAFT_PROPOSAL_DROPPED')).toBe(true);
    c.tick(1, 10);
    c.stabilize();
    expect(c.node(1).status()).toMatchObject({ role: 'leader', leadTransferee: 0 });
    c.node(1).propose(text('x'));
  });

  it('a follower forwards a transfer request to the leader', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.node(3).transferLeadership(3);
    c.stabilize();
    expect(c.leader()).toBe(3);
  });

  it('ignores a transfer to a learner or to a non-member', () => {
    const c = new TestCluster({ voters: [1, 2], learners: [3] });
    c.campaign(1);
    c.node(1).transferLeadership(3);
    c.node(1).transferLeadership(9);
    c.stabilize();
    expect(c.node(1).status()).toMatchObject({ role: 'leader', leadTransferee: 0 });
  });

  it('a transfer overrides the leader lease of check-quorum', () => {
    const c = new TestCluster({ voters: [1, 2, 3], checkQuorum: true });
    c.campaign(1);
    c.tickAll(2);
    // Without the transfer flag, 3 would ignore 2's campaign because it heard from 1 recently.
    c.node(1).transferLeadership(2);
    c.stabilize();
    expect(c.leader()).toBe(2);
  });
});
