/**
 * One simulated placement node: a RaftNode, its "disk" (a MemoryRaftStorage that survives
 * crashes) and its volatile KV state machine and client waiters (which do not).
 */
import { RaftNode } from '../raft/raft-node.js';
import type { SeededRng } from '../raft/rng.js';
import { MemoryRaftStorage } from '../raft/storage.js';
import type { NodeId } from '../raft/types.js';
import { KvStateMachine, type KvResult } from './kv-state-machine.js';

export interface RaftTuning {
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
}

export interface WriteWaiter {
  readonly resolve: (result: KvResult) => void;
  /** The node crashed before answering: the outcome is unknown to the client. */
  readonly fail: () => void;
}

export interface ReadWaiter {
  readonly key: string;
  /** Set once the ReadState arrived: the index the state machine must reach. */
  index?: number;
  readonly resolve: (value: string | null) => void;
  readonly fail: () => void;
}

export class SimNode {
  readonly id: NodeId;
  /** Founding members bootstrap the cluster; joiners start empty and learn it from the leader. */
  readonly founders: readonly NodeId[];
  readonly disk = new MemoryRaftStorage();
  raft: RaftNode | undefined;
  sm: KvStateMachine | undefined;
  /** Ticks are spread across nodes so they do not fire in lockstep. */
  readonly tickPhase: number;
  retired = false;
  crashes = 0;
  readonly writeWaiters = new Map<string, WriteWaiter>();
  readonly readWaiters = new Map<string, ReadWaiter>();

  constructor(id: NodeId, founders: readonly NodeId[], tickPhase: number) {
    this.id = id;
    this.founders = founders;
    this.tickPhase = tickPhase;
  }

  get up(): boolean {
    return this.raft !== undefined;
  }

  /** Starts (or restarts) from whatever the disk holds: hard state, log and snapshot only. */
  start(tuning: RaftTuning, rng: SeededRng): void {
    const snap = this.disk.snapshot();
    this.sm = KvStateMachine.restore(snap.data);
    this.sm.appliedIndex = snap.metadata.index;
    this.raft = new RaftNode({
      id: this.id,
      ...(this.founders.length > 0 ? { voters: this.founders } : {}),
      electionTick: tuning.electionTick,
      heartbeatTick: tuning.heartbeatTick,
      preVote: tuning.preVote,
      checkQuorum: tuning.checkQuorum,
      storage: this.disk,
      rng,
      applied: snap.metadata.index,
      maxSizePerMsg: 4096,
      maxInflightMsgs: 16,
    });
  }

  /** Loses everything volatile; clients waiting on this node see their connection drop. */
  crash(): void {
    this.raft = undefined;
    this.sm = undefined;
    this.crashes++;
    const writes = [...this.writeWaiters.values()];
    const reads = [...this.readWaiters.values()];
    this.writeWaiters.clear();
    this.readWaiters.clear();
    for (const w of writes) w.fail();
    for (const r of reads) r.fail();
  }
}
