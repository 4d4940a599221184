import { describe, expect, it } from 'vitest';
import { decideStart, type ProbeAnswer } from '../start-decision.js';

const fresh: ProbeAnswer = { leaderId: 0, voters: [], learners: [] };
const probes = (entries: [number, ProbeAnswer | undefined][]) => new Map(entries);

describe('decideStart: found a cluster or wait to be contacted', () => {
  it('founds at once when every other founder answered and is fresh too', () => {
    expect(decideStart(1, [1, 2, 3], probes([[2, fresh], [3, fresh]]), 0, 1000)).toEqual({ kind: 'found' });
  });

  it('waits for silent founders, then founds after the wait', () => {
    const p = probes([[2, fresh], [3, undefined]]);
    expect(decideStart(1, [1, 2, 3], p, 999, 1000)).toEqual({ kind: 'wait', reason: 'peers-silent' });
    expect(decideStart(1, [1, 2, 3], p, 1000, 1000)).toEqual({ kind: 'found' });
  });

  it('never founds next to a cluster with a leader: waits if it is a member there, else says it is not one', () => {
    const running: ProbeAnswer = { leaderId: 2, voters: [1, 2, 3], learners: [4] };
    expect(decideStart(4, [1, 4], probes([[1, running]]), 1e9, 1000)).toEqual({ kind: 'wait', reason: 'cluster-exists' });
    expect(decideStart(5, [1, 5], probes([[1, running]]), 1e9, 1000)).toEqual({ kind: 'not-a-member', leaderId: 2, peer: 1 });
    // A founder whose data was lost rejoins through the leader instead of founding again.
    expect(decideStart(3, [1, 2, 3], probes([[1, running], [2, undefined]]), 1e9, 1000)).toEqual({ kind: 'wait', reason: 'cluster-exists' });
  });

  it('joins a founding from the same raft.peers that has no leader yet (same bootstrap entries)', () => {
    const founded: ProbeAnswer = { leaderId: 0, voters: [3, 1, 2], learners: [] };
    expect(decideStart(2, [1, 2, 3], probes([[1, founded], [3, undefined]]), 0, 1000)).toEqual({ kind: 'found' });
  });

  it('waits, even after the wait, next to a leaderless cluster whose membership differs from raft.peers', () => {
    const other: ProbeAnswer = { leaderId: 0, voters: [1, 2, 3], learners: [] };
    expect(decideStart(4, [1, 4], probes([[1, other]]), 1e9, 1000)).toEqual({ kind: 'wait', reason: 'foreign-membership' });
    const withLearner: ProbeAnswer = { leaderId: 0, voters: [1, 2], learners: [4] };
    expect(decideStart(2, [1, 2], probes([[1, withLearner]]), 1e9, 1000)).toEqual({ kind: 'wait', reason: 'foreign-membership' });
  });
});
