/**
 * A simulated network: every message is delayed by a random number of steps (which also
 * reorders them), may be dropped or duplicated, and never crosses a partition. All randomness
 * comes from the simulation's seeded generator.
 */
import type { SeededRng } from '../raft/rng.js';
import type { Message, NodeId } from '../raft/types.js';

export interface NetworkFaults {
  /** Probability that a message is lost. */
  dropRate: number;
  /** Probability that a message is delivered twice. */
  duplicateRate: number;
  /** Delays are uniform in [1, maxDelay] steps. */
  maxDelay: number;
}

interface InFlight {
  readonly at: number;
  readonly seq: number;
  readonly msg: Message;
}

export class SimNetwork {
  faults: NetworkFaults;
  private inflight: InFlight[] = [];
  private seq = 0;
  /** Partition groups: two nodes talk only when they share a group id. */
  private group = new Map<NodeId, number>();
  private readonly rng: SeededRng;
  sent = 0;
  dropped = 0;

  constructor(rng: SeededRng, faults: NetworkFaults) {
    this.rng = rng;
    this.faults = faults;
  }

  connected(a: NodeId, b: NodeId): boolean {
    return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0);
  }

  /** Splits the nodes into groups (group ids per node); unlisted nodes are in group 0. */
  partition(groups: ReadonlyMap<NodeId, number>): void {
    this.group = new Map(groups);
  }

  heal(): void {
    this.group.clear();
  }

  isPartitioned(): boolean {
    return this.group.size > 0;
  }

  /** Returns false when the message was dropped at send time. */
  send(msg: Message, now: number): boolean {
    this.sent++;
    if (this.rng.chance(this.faults.dropRate)) {
      this.dropped++;
      return false;
    }
    const copies = this.rng.chance(this.faults.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.inflight.push({ at: now + 1 + this.rng.nextInt(this.faults.maxDelay), seq: this.seq++, msg });
    }
    return true;
  }

  /** Messages due at `now`, in a random order (the caller drops those crossing a partition). */
  due(now: number): Message[] {
    const ready: InFlight[] = [];
    const keep: InFlight[] = [];
    for (const f of this.inflight) (f.at <= now ? ready : keep).push(f);
    if (ready.length === 0) return [];
    this.inflight = keep;
    ready.sort((a, b) => a.seq - b.seq);
    for (let i = ready.length - 1; i > 0; i--) {
      const j = this.rng.nextInt(i + 1);
      const t = ready[i]!;
      ready[i] = ready[j]!;
      ready[j] = t;
    }
    return ready.map((f) => f.msg);
  }

  /** Discards messages in flight to a node (its connections reset when it crashes). */
  dropTo(id: NodeId): void {
    this.inflight = this.inflight.filter((f) => f.msg.to !== id);
  }

  pending(): number {
    return this.inflight.length;
  }
}
