/**
 * What the leader knows about one follower's log (Raft paper: nextIndex and matchIndex), plus
 * the flow-control state that decides whether another append may be sent now.
 *
 *  - probe: the leader does not know where the logs diverge; one append per heartbeat.
 *  - replicate: the logs match up to `match`; appends are pipelined up to `maxInflight`.
 *  - snapshot: the follower needs a snapshot; appends pause until it is installed or fails.
 */
import type { NodeId } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  readonly id: NodeId;
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append was sent and not answered yet. */
  probeSent = false;
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  isLearner: boolean;
  /** Last index of each append in flight (replicate state). */
  private inflight: number[] = [];
  private readonly maxInflight: number;

  constructor(id: NodeId, next: number, isLearner: boolean, maxInflight: number) {
    this.id = id;
    this.next = next;
    this.isLearner = isLearner;
    this.maxInflight = maxInflight;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflight = [];
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** A successful append response for index n; returns whether match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * A rejection of the append after index `rejected`; `matchHint` is where the follower's log
   * may match. Returns false when the rejection is stale (reordered or duplicated).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probes go out one at a time, so any answer other than to next-1 is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records that an append ending at `last` was sent. */
  sentEntries(last: number): void {
    if (this.state === 'replicate') {
      this.next = last + 1;
      this.inflight.push(last);
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** Frees in-flight appends acknowledged up to `index`. */
  freeInflightsTo(index: number): void {
    let i = 0;
    while (i < this.inflight.length && this.inflight[i]! <= index) i++;
    if (i > 0) this.inflight = this.inflight.slice(i);
  }

  /** Heartbeat responses unblock a stalled pipeline or probe. */
  resume(): void {
    this.probeSent = false;
    if (this.state === 'replicate' && this.inflight.length >= this.maxInflight) this.inflight.shift();
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }
}
