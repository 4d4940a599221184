// Whether a node with an empty data directory founds a new cluster from its raft.peers or waits
// to be contacted by the leader of an existing one (it was added with AddMember, or it is a
// member whose data was lost). Founding when a cluster already exists would give this node a
// log whose committed bootstrap entries conflict with the cluster's, so the rule only founds
// when nothing suggests a cluster elsewhere:
//
//  1. a peer that knows a leader means a running cluster: wait for its leader (if the peer lists
//     this node) or warn that the node must be added first;
//  2. a peer that already founded, with exactly this node's raft.peers as voters and no leader
//     yet, was founded from the same list: founding again writes the same entries, so found;
//     any other non-empty membership without a leader: wait (never guess);
//  3. otherwise (peers empty or silent): found once every peer answered, or after the wait.
//
// A pure function of the probes, tested on its own (test/start-decision.test.ts).

import type { NodeId } from '../raft/types.js';

/** What a peer's Status said; undefined when it did not answer. */
export interface ProbeAnswer {
  readonly leaderId: NodeId;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type StartDecision =
  | { readonly kind: 'found' }
  | { readonly kind: 'wait'; readonly reason: 'peers-silent' | 'cluster-exists' | 'foreign-membership' }
  | { readonly kind: 'not-a-member'; readonly leaderId: NodeId; readonly peer: NodeId };

export function decideStart(
  self: NodeId,
  founders: readonly NodeId[],
  probes: ReadonlyMap<NodeId, ProbeAnswer | undefined>,
  waitedMs: number,
  foundingWaitMs: number,
): StartDecision {
  const answers = [...probes].filter((p): p is [NodeId, ProbeAnswer] => p[1] !== undefined);
  for (const [peer, a] of answers) {
    if (a.leaderId === 0) continue;
    if (a.voters.includes(self) || a.learners.includes(self)) return { kind: 'wait', reason: 'cluster-exists' };
    return { kind: 'not-a-member', leaderId: a.leaderId, peer };
  }
  const wanted = [...new Set(founders)].sort((a, b) => a - b).join(',');
  let sameFounders = false;
  for (const [, a] of answers) {
    if (a.voters.length === 0 && a.learners.length === 0) continue;
    const voters = [...a.voters].sort((x, y) => x - y).join(',');
    if (voters !== wanted || a.learners.length > 0) return { kind: 'wait', reason: 'foreign-membership' };
    sameFounders = true;
  }
  if (sameFounders) return { kind: 'found' };
  const others = founders.filter((id) => id !== self);
  if (others.every((id) => probes.get(id) !== undefined)) return { kind: 'found' };
  return waitedMs >= foundingWaitMs ? { kind: 'found' } : { kind: 'wait', reason: 'peers-silent' };
}
