/**
 * A synchronous in-memory cluster for unit tests: every node persists to a MemoryRaftStorage,
 * messages travel through one FIFO queue, and `stabilize()` runs the Ready loop until nothing
 * is left to do. Filters drop messages to model partitions.
 */
import { RaftNode, type RaftNodeConfig } from '../../raft-node.js';
import { SeededRng } from '../../rng.js';
import { MemoryRaftStorage } from '../../storage.js';
import type { Entry, Message, NodeId, ReadState, Snapshot } from '../../types.js';

export interface TestClusterOptions {
  readonly voters: readonly NodeId[];
  readonly learners?: readonly NodeId[];
  /** Nodes created without founding membership (they join later). */
  readonly joiners?: readonly NodeId[];
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  readonly seed?: number;
  readonly maxSizePerMsg?: number;
}

export interface TestMember {
  node: RaftNode;
  readonly storage: MemoryRaftStorage;
  /** Data of every normal entry applied, in order (snapshot restores reset it to the snapshot's). */
  applied: Entry[];
  readStates: ReadState[];
  snapshotsApplied: Snapshot[];
}

export type MessageFilter = (m: Message) => boolean;

export class TestCluster {
  readonly members = new Map<NodeId, TestMember>();
  readonly queue: Message[] = [];
  /** Every message that was delivered, for assertions on protocol traffic. */
  readonly delivered: Message[] = [];
  private filters: MessageFilter[] = [];
  private readonly opts: TestClusterOptions;
  private readonly rng: SeededRng;

  constructor(opts: TestClusterOptions) {
    this.opts = opts;
    this.rng = new SeededRng(opts.seed ?? 1);
    const founders = [...opts.voters, ...(opts.learners ?? [])];
    for (const id of founders) this.add(id, true);
    for (const id of opts.joiners ?? []) this.add(id, false);
  }

  private config(id: NodeId, storage: MemoryRaftStorage, founding: boolean, applied?: number): RaftNodeConfig {
    return {
      id,
      ...(founding ? { voters: this.opts.voters, learners: this.opts.learners ?? [] } : {}),
      electionTick: this.opts.electionTick ?? 10,
      heartbeatTick: this.opts.heartbeatTick ?? 1,
      checkQuorum: this.opts.checkQuorum ?? false,
      preVote: this.opts.preVote ?? false,
      storage,
      rng: this.rng.fork(),
      ...(applied !== undefined ? { applied } : {}),
      ...(this.opts.maxSizePerMsg !== undefined ? { maxSizePerMsg: this.opts.maxSizePerMsg } : {}),
    };
  }

  add(id: NodeId, founding: boolean, storage = new MemoryRaftStorage()): TestMember {
    const m: TestMember = {
      node: new RaftNode(this.config(id, storage, founding)),
      storage,
      applied: [],
      readStates: [],
      snapshotsApplied: [],
    };
    this.members.set(id, m);
    return m;
  }

  get(id: NodeId): TestMember {
    const m = this.members.get(id);
    if (!m) throw new Error(`no node ${id}`);
    return m;
  }

  node(id: NodeId): RaftNode {
    return this.get(id).node;
  }

  /** Restarts a node from what its storage holds; volatile state (and unsent messages) is lost. */
  restart(id: NodeId): void {
    const m = this.get(id);
    m.node = new RaftNode(this.config(id, m.storage, true));
    const snap = m.storage.snapshot();
    m.applied = [];
    if (snap.metadata.index > 0) m.snapshotsApplied.push(snap);
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.to === id) this.queue.splice(i, 1);
  }

  addFilter(f: MessageFilter): void {
    this.filters.push(f);
  }

  clearFilters(): void {
    this.filters = [];
  }

  /** Drops all traffic between the two groups. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    this.addFilter((m) => (a.includes(m.from) && b.includes(m.to)) || (b.includes(m.from) && a.includes(m.to)));
  }

  isolate(id: NodeId): void {
    this.addFilter((m) => m.from === id || m.to === id);
  }

  /** Runs one Ready cycle on a node; returns whether there was one. */
  processReady(id: NodeId): boolean {
    const m = this.get(id);
    if (!m.node.hasReady()) return false;
    const rd = m.node.ready();
    if (rd.snapshot) {
      m.storage.applySnapshot(rd.snapshot);
      m.snapshotsApplied.push(rd.snapshot);
      m.applied = [];
    }
    m.storage.append(rd.entries);
    if (rd.hardState) m.storage.setHardState(rd.hardState);
    for (const e of rd.committedEntries) m.applied.push(e);
    m.readStates.push(...rd.readStates);
    for (const msg of rd.messages) this.queue.push(msg);
    m.node.advance(rd);
    return true;
  }

  /** Delivers queued messages and processes Readies until the cluster is quiet. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let progressed = false;
      for (const id of this.members.keys()) if (this.processReady(id)) progressed = true;
      const batch = this.queue.splice(0);
      for (const msg of batch) {
        progressed = true;
        this.deliver(msg);
      }
      if (!progressed) return;
    }
    throw new Error('cluster did not stabilize');
  }

  deliver(msg: Message): void {
    if (this.filters.some((f) => f(msg))) return;
    const target = this.members.get(msg.to);
    if (!target) return;
    this.delivered.push(msg);
    target.node.step(msg);
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.get(id).node.tick();
  }

  /** Ticks every node n times, stabilizing after each tick. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const m of this.members.values()) m.node.tick();
      this.stabilize();
    }
  }

  campaign(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.members].filter(([, m]) => m.node.status().role === 'leader').map(([id]) => id);
  }

  /** The single leader with the highest term. */
  leader(): NodeId {
    let best: NodeId = 0;
    let bestTerm = -1;
    for (const [id, m] of this.members) {
      const st = m.node.status();
      if (st.role === 'leader' && st.term > bestTerm) {
        best = id;
        bestTerm = st.term;
      }
    }
    if (best === 0) throw new Error('no leader');
    return best;
  }

  propose(id: NodeId, text: string): void {
    this.node(id).propose(new TextEncoder().encode(text));
    this.stabilize();
  }

  /** Texts of the normal, non-empty entries a node applied. */
  appliedTexts(id: NodeId): string[] {
    return this.get(id)
      .applied.filter((e) => e.type === 'normal' && e.data.byteLength > 0)
      .map((e) => new TextDecoder().decode(e.data));
  }
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
