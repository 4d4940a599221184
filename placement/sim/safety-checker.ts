/**
 * Safety properties checked after every simulation step. A violation throws SafetyViolation;
 * the simulation wraps it with the seed that reproduces it.
 *
 *  - Election safety: at most one leader per term.
 *  - Committed entries never change: every node that commits or applies index i sees the same
 *    entry (term and bytes) as every other node ever did.
 *  - Applied sequences are prefixes of each other: each node applies indexes contiguously (or
 *    jumps to an installed snapshot), and each applied entry equals the globally committed one.
 *  - State machines agree: snapshots taken or installed at the same index carry the same state.
 *  - A node's durable term and commit index never go backwards, even across restarts.
 */
import type { Entry, HardState, NodeId, Snapshot } from '../raft/types.js';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

interface CommittedEntry {
  readonly term: number;
  readonly data: Uint8Array;
  readonly firstSeenBy: NodeId;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly committed = new Map<number, CommittedEntry>();
  private readonly snapshotState = new Map<number, string>();
  private readonly lastApplied = new Map<NodeId, number>();
  private readonly durable = new Map<NodeId, HardState>();
  maxTerm = 0;
  elections = 0;

  observeLeader(term: number, id: NodeId): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev === undefined) {
      this.leaderOfTerm.set(term, id);
      this.elections++;
      if (term > this.maxTerm) this.maxTerm = term;
    } else if (prev !== id) {
      throw new SafetyViolation(`election safety: nodes ${prev} and ${id} both led term ${term}`);
    }
  }

  private checkCommitted(node: NodeId, e: Entry, what: string): void {
    const prev = this.committed.get(e.index);
    if (prev === undefined) {
      this.committed.set(e.index, { term: e.term, data: e.data, firstSeenBy: node });
      return;
    }
    if (prev.term !== e.term || !sameBytes(prev.data, e.data)) {
      throw new SafetyViolation(
        `committed entry changed: node ${node} ${what} index ${e.index} term ${e.term}, but node ${prev.firstSeenBy} had term ${prev.term}`,
      );
    }
  }

  /** A node persisted a hard state and possibly entries at or below its commit index. */
  observePersist(node: NodeId, hs: HardState | undefined, entries: readonly Entry[]): void {
    if (hs) {
      const prev = this.durable.get(node);
      if (prev && (hs.term < prev.term || hs.commit < prev.commit)) {
        throw new SafetyViolation(
          `node ${node} durable state went back: term ${prev.term}->${hs.term}, commit ${prev.commit}->${hs.commit}`,
        );
      }
      this.durable.set(node, hs);
    }
    const commit = this.durable.get(node)?.commit ?? 0;
    for (const e of entries) if (e.index <= commit) this.checkCommitted(node, e, 'persisted committed');
  }

  observeSnapshotInstalled(node: NodeId, snap: Snapshot): void {
    const { index, term } = snap.metadata;
    const prev = this.committed.get(index);
    if (prev && prev.term !== term) {
      throw new SafetyViolation(`node ${node} installed a snapshot at index ${index} term ${term}, but that index committed at term ${prev.term}`);
    }
    const applied = this.lastApplied.get(node) ?? 0;
    if (index < applied) throw new SafetyViolation(`node ${node} installed snapshot ${index} behind its applied index ${applied}`);
    this.lastApplied.set(node, index);
    this.observeSnapshotState(node, index, snap.data);
  }

  observeSnapshotState(node: NodeId, index: number, data: Uint8Array): void {
    const text = new TextDecoder().decode(data);
    const prev = this.snapshotState.get(index);
    if (prev === undefined) this.snapshotState.set(index, text);
    else if (prev !== text) throw new SafetyViolation(`node ${node} state at index ${index} differs from another node's`);
  }

  observeApplied(node: NodeId, e: Entry): void {
    const last = this.lastApplied.get(node) ?? 0;
    if (e.index !== last + 1) {
      throw new SafetyViolation(`node ${node} applied index ${e.index} after ${last}: applied sequence has a gap or repeats`);
    }
    this.lastApplied.set(node, e.index);
    this.checkCommitted(node, e, 'applied');
  }

  /** A restarted node replays from its snapshot. */
  observeRestart(node: NodeId, snapshotIndex: number): void {
    this.lastApplied.set(node, snapshotIndex);
  }

  committedCount(): number {
    return this.committed.size;
  }
}
