import { describe, expect, it } from 'vitest';
import { RaftNode } from '../raft-node.js';
import { SeededRng } from '../rng.js';
import { MemoryRaftStorage } from '../storage.js';
import { TestCluster } from './helpers/cluster.js';

describe('leader election', () => {
  it('elects exactly one leader in a three-node cluster after election timeouts', () => {
    const c = new TestCluster({ voters: [1, 2, 3], seed: 7 });
    c.tickAll(25);
    expect(c.leaders()).toHaveLength(1);
    const leader = c.leader();
    for (const id of [1, 2, 3]) expect(c.node(id).status().lead).toBe(leader);
  });

  it('a single-voter cluster elects itself on its first campaign', () => {
    const c = new TestCluster({ voters: [1] });
    c.campaign(1);
    expect(c.node(1).status().role).toBe('leader');
    expect(c.node(1).status().term).toBe(2);
  });

  it('the first campaign wins and every node records the vote durably', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    expect(c.leader()).toBe(1);
    expect(c.get(2).storage.hard()).toMatchObject({ term: 2, vote: 1 });
    expect(c.get(3).storage.hard()).toMatchObject({ term: 2, vote: 1 });
  });

  it('a node grants at most one vote per term', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(1);
    // Node 2 campaigns at term 3 and wins with 3's vote; 3 then refuses node 1's term-3 request.
    c.campaign(2);
    expect(c.leader()).toBe(2);
    const n3 = c.node(3);
    n3.step({ type: 'MsgVote', from: 1, to: 3, term: 3, index: 100, logTerm: 3, transfer: false });
    const rd = n3.ready();
    const resp = rd.messages.find((m) => m.type === 'MsgVoteResp');
    expect(resp).toMatchObject({ to: 1, reject: true });
    n3.advance(rd);
  });

  it('refuses a candidate whose log is less up to date (paper 5.4.1)', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.propose(1, 'a');
    c.isolate(3);
    c.propose(1, 'b');
    c.clearFilters();
    // 3 misses 'b'; its campaign at a higher term must fail against 1 and 2.
    c.isolate(1);
    c.campaign(3);
    expect(c.node(3).status().role).not.toBe('leader');
    c.campaign(2);
    expect(c.node(2).status().role).toBe('leader');
  });

  it('a leader that sees a higher term steps down', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(1);
    c.campaign(2);
    c.clearFilters();
    c.tickAll(2);
    expect(c.leaders()).toEqual([2]);
    expect(c.node(1).status()).toMatchObject({ role: 'follower', lead: 2, term: 3 });
  });

  it('randomizes election timeouts from the injected rng within [electionTick, 2*electionTick)', () => {
    const firstCampaign = (seed: number): number => {
      const n = new RaftNode({
        id: 1,
        voters: [1, 2, 3],
        electionTick: 10,
        heartbeatTick: 1,
        storage: new MemoryRaftStorage(),
        rng: new SeededRng(seed),
      });
      for (let t = 1; t <= 40; t++) {
        n.tick();
        if (n.status().role === 'candidate') return t;
      }
      return -1;
    };
    const seen = new Set<number>();
    for (let seed = 0; seed < 60; seed++) {
      const t = firstCampaign(seed);
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
      expect(firstCampaign(seed)).toBe(t); // same seed, same timeout
      seen.add(t);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it('a candidate rejected by a majority returns to follower at its new term', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(3);
    c.propose(1, 'x');
    c.clearFilters();
    c.addFilter((m) => m.type === 'MsgApp' && m.to === 3);
    c.campaign(3);
    expect(c.node(3).status()).toMatchObject({ role: 'follower', term: 3, lead: 0 });
  });
});
