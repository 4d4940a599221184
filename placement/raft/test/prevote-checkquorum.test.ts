import { describe, expect, it } from 'vitest';
import { TestCluster } from './helpers/cluster.js';

describe('pre-vote', () => {
  it('a partitioned node does not inflate its term', () => {
    const c = new TestCluster({ voters: [1, 2, 3], preVote: true });
    c.campaign(1);
    const term = c.node(1).status().term;
    c.isolate(3);
    c.tick(3, 100);
    c.stabilize();
    expect(c.node(3).status()).toMatchObject({ term, role: 'pre-candidate' });
  });

  it('the rejoining node does not depose a healthy leader', () => {
    const c = new TestCluster({ voters: [1, 2, 3], preVote: true });
    c.campaign(1);
    c.isolate(3);
    c.tick(3, 100);
    c.stabilize();
    c.clearFilters();
    c.tickAll(3);
    expect(c.leader()).toBe(1);
    expect(c.node(1).status().term).toBe(2);
  });

  it('without pre-vote the same partition bumps the term and forces a new election', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    c.tick(3, 100);
    c.stabilize();
    expect(c.node(3).status().term).toBeGreaterThan(2);
    c.clearFilters();
    c.tickAll(30);
    expect(c.node(c.leader()).status().term).toBeGreaterThan(2);
  });

  it('a pre-vote is granted only to an up-to-date log and changes no term or vote', () => {
    const c = new TestCluster({ voters: [1, 2, 3], preVote: true });
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    expect(c.leader()).toBe(2);
    expect(c.get(3).storage.hard()).toMatchObject({ term: 3, vote: 2 });
  });
});

describe('check-quorum', () => {
  it('a leader that has not heard from a quorum for an election timeout steps down', () => {
    const c = new TestCluster({ voters: [1, 2, 3], checkQuorum: true });
    c.campaign(1);
    c.isolate(1);
    c.tick(1, 21);
    c.stabilize();
    expect(c.node(1).status().role).toBe('follower');
  });

  it('without check-quorum the isolated leader believes it still leads', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(1);
    c.tick(1, 50);
    c.stabilize();
    expect(c.node(1).status().role).toBe('leader');
  });

  it('followers in the leader lease ignore a disruptive higher-term vote request', () => {
    const c = new TestCluster({ voters: [1, 2, 3], checkQuorum: true });
    c.campaign(1);
    c.tickAll(1);
    c.node(2).step({ type: 'MsgVote', from: 3, to: 2, term: 10, index: 999, logTerm: 9, transfer: false });
    expect(c.node(2).status()).toMatchObject({ term: 2, lead: 1 });
  });
});
