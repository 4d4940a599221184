import { describe, expect, it } from 'vitest';
import { isRaftError } from '../errors.js';
import { TestCluster, text } from './helpers/cluster.js';

const decode = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('ReadIndex linearizable reads', () => {
  it('the leader answers after a quorum acknowledges a heartbeat carrying the context', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.propose(1, 'a');
    c.node(1).readIndex(text('r1'));
    c.stabilize();
    const rs = c.get(1).readStates;
    expect(rs.map((r) => decode(r.context))).toEqual(['r1']);
    expect(rs[0]!.index).toBe(c.node(1).status().commit);
    const hb = c.delivered.filter((m) => m.type === 'MsgHeartbeat' && decode(m.context) === 'r1');
    expect(hb.length).toBe(2);
  });

  it('a leader cut off from the quorum never answers a read', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.isolate(1);
    c.node(1).readIndex(text('stale?'));
    c.stabilize();
    c.tick(1, 3);
    c.stabilize();
    expect(c.get(1).readStates).toEqual([]);
    // Once connectivity returns, the next heartbeat carries the pending context and confirms it.
    c.clearFilters();
    c.tickAll(1);
    expect(c.get(1).readStates.map((r) => decode(r.context))).toEqual(['stale?']);
  });

  it('a follower forwards the request and receives the leader commit index', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.propose(1, 'a');
    c.node(3).readIndex(text('f1'));
    c.stabilize();
    expect(c.get(3).readStates).toEqual([{ index: c.node(1).status().commit, context: text('f1') }]);
  });

  it('a new leader defers reads until it commits an entry of its own term', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    c.campaign(1);
    c.addFilter((m) => m.type === 'MsgAppResp');
    c.campaign(2);
    expect(c.node(2).status().role).toBe('leader');
    c.node(2).readIndex(text('early'));
    c.stabilize();
    expect(c.get(2).readStates).toEqual([]);
    c.clearFilters();
    c.tickAll(2);
    expect(c.get(2).readStates.map((r) => decode(r.context))).toEqual(['early']);
  });

  it('a single-voter leader answers at once', () => {
    const c = new TestCluster({ voters: [1] });
    c.campaign(1);
    c.node(1).readIndex(text('solo'));
    c.stabilize();
    expect(c.get(1).readStates.map((r) => decode(r.context))).toEqual(['solo']);
  });

  it('a node that knows no leader refuses with RAFT_READ_INDEX_DROPPED', () => {
    const c = new TestCluster({ voters: [1, 2, 3] });
    let err: unknown;
    try {
      c.node(1).readIndex(text('x'));
    } catch (e: unknown) {
      err = e;
    }
    expect(isRaftError(err, 'RAFT_READ_INDEX_DROPPED')).toBe(true);
  });
});
