/**
 * Deterministic simulation of a placement Raft group in one process. One seed drives everything:
 * the fault plan, message delays and losses, crashes and restarts, client operations and every
 * node's election timeouts. Re-running a seed replays the run step for step.
 *
 * A run has two phases. During the fault phase the network drops, delays, duplicates and
 * reorders messages, partitions come and go, nodes crash (sometimes after persisting a Ready but
 * before sending its messages) and restart from their disk only, leadership is transferred and,
 * in reconfiguration runs, members are added and removed one at a time. Then faults stop: the
 * network heals, every node restarts, and the cluster must elect a leader that every voter
 * follows and complete a client write and a read within a bounded number of ticks.
 *
 * Safety is checked after every step (see safety-checker.ts); at the end the clients' KV history
 * is checked for linearizability.
 */
import { checkOperations, type CheckResult } from '../../jepsen-like-tests/linearizability/checker.js';
import { kvModel, type KvInput, type KvOperation, type KvOutput } from '../../jepsen-like-tests/linearizability/kv-model.js';
import { isRaftError } from '../raft/errors.js';
import { SeededRng } from '../raft/rng.js';
import type { ConfChange, Entry, Message, NodeId } from '../raft/types.js';
import { decodeCommand, encodeCommand, KvStateMachine, type KvCommand, type KvResult } from './kv-state-machine.js';
import { SafetyChecker, SafetyViolation } from './safety-checker.js';
import { SimNetwork } from './sim-network.js';
import { SimNode, type RaftTuning } from './sim-node.js';

export const STEPS_PER_TICK = 4;

export interface SimOptions {
  readonly seed: number;
  /** Cluster size: all voters, or (with reconfigure) the universe of nodes 1..5. */
  readonly nodes: 3 | 5;
  /** Start with voters 1..3 and add/remove members during the run (needs nodes: 5). */
  readonly reconfigure?: boolean;
  /** Length of the fault phase, in ticks. */
  readonly faultTicks?: number;
  /** After faults stop, a leader and a completed write and read are required within this many ticks. */
  readonly livenessBoundTicks?: number;
  readonly clients?: number;
  readonly keys?: number;
  /**
   * Deliberately broken read path, used only to show that the checks have teeth: a node that
   * believes it is leader answers reads from its local state without ReadIndex.
   */
  readonly unsafeLeaderLocalReads?: boolean;
  /** Receives one line per fault and, once per tick, the role/term/leader of every node. */
  readonly trace?: (line: string) => void;
}

export interface SimStats {
  steps: number;
  elections: number;
  maxTerm: number;
  committedEntries: number;
  writesOk: number;
  writesUnknown: number;
  readsOk: number;
  crashes: number;
  crashesAfterPersist: number;
  snapshotsInstalled: number;
  partitions: number;
  transfers: number;
  confChanges: number;
  messagesSent: number;
  messagesDropped: number;
  /** Ticks from the end of faults until liveness held. */
  livenessTicks: number;
}

export interface SimResult {
  readonly seed: number;
  readonly options: SimOptions;
  readonly history: readonly KvOperation[];
  readonly linearizability: CheckResult<KvInput, KvOutput>;
  readonly stats: SimStats;
}

export type SimFailureKind = 'safety' | 'liveness' | 'linearizability' | 'node-error';

export class SimulationFailure extends Error {
  readonly seed: number;
  readonly step: number;
  readonly kind: SimFailureKind;
  readonly options: SimOptions;
  readonly history: readonly KvOperation[];
  readonly linearizability: CheckResult<KvInput, KvOutput> | undefined;

  constructor(
    options: SimOptions,
    step: number,
    kind: SimFailureKind,
    detail: string,
    history: readonly KvOperation[],
    linearizability?: CheckResult<KvInput, KvOutput>,
  ) {
    super(`simulation ${describeOptions(options)} failed at step ${step} (${kind}): ${detail}\n  replay: ${replayCommand(options)}`);
    this.name = 'SimulationFailure';
    this.seed = options.seed;
    this.step = step;
    this.kind = kind;
    this.options = options;
    this.history = history;
    this.linearizability = linearizability;
  }
}

export function describeOptions(o: SimOptions): string {
  return `seed=${o.seed} nodes=${o.nodes}${o.reconfigure ? ' reconfigure' : ''}`;
}

export function replayCommand(o: SimOptions): string {
  return `SEED=${o.seed} SIM_NODES=${o.nodes}${o.reconfigure ? ' SIM_RECONFIGURE=1' : ''} npx vitest run placement/sim`;
}

interface PendingOp {
  readonly seq: number;
  readonly kind: 'read' | 'write';
  readonly input: KvInput;
  readonly call: number;
  readonly deadline: number;
  readonly node: NodeId;
}

interface SimClient {
  readonly id: number;
  seq: number;
  pending: PendingOp | undefined;
  nextAt: number;
  hint: NodeId;
  /** Share of reads among this client's operations. */
  readonly readRatio: number;
}

const decoder = new TextDecoder();

class Simulation {
  private readonly o: Required<SimOptions>;
  private readonly rng: SeededRng;
  private readonly net: SimNetwork;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly ids: NodeId[];
  private readonly safety = new SafetyChecker();
  private readonly tuning: RaftTuning;
  private readonly clients: SimClient[] = [];
  private readonly history: KvOperation[] = [];
  private readonly stats: SimStats = {
    steps: 0,
    elections: 0,
    maxTerm: 0,
    committedEntries: 0,
    writesOk: 0,
    writesUnknown: 0,
    readsOk: 0,
    crashes: 0,
    crashesAfterPersist: 0,
    snapshotsInstalled: 0,
    partitions: 0,
    transfers: 0,
    confChanges: 0,
    messagesSent: 0,
    messagesDropped: 0,
    livenessTicks: -1,
  };
  private step = 0;
  /** Logical clock for the history: every call and return gets the next value. */
  private events = 0;
  private faulting = true;
  private healStep = -1;
  private healEvent = -1;
  private writeOkAfterHeal = false;
  private readOkAfterHeal = false;
  private readonly retireAt = new Map<NodeId, number>();
  private readonly plan: ConfChange[] = [];

  // Fault plan of this seed.
  private readonly snapshotEvery: number;
  private readonly crashPerTick: number;
  private readonly restartPerTick: number;
  private readonly partitionPerTick: number;
  private readonly healPerTick: number;
  private readonly crashAfterPersist: number;

  constructor(options: SimOptions) {
    if (options.reconfigure && options.nodes !== 5) throw new RangeError('reconfigure runs need nodes: 5');
    this.o = {
      faultTicks: 150,
      livenessBoundTicks: 150,
      clients: 4,
      keys: 3,
      reconfigure: false,
      unsafeLeaderLocalReads: false,
      trace: () => {},
      ...options,
    };
    this.rng = new SeededRng(options.seed);
    const r = this.rng;
    this.tuning = { electionTick: 10, heartbeatTick: 1, preVote: r.chance(0.7), checkQuorum: r.chance(0.7) };
    this.net = new SimNetwork(r.fork(), {
      dropRate: r.chance(0.3) ? 0 : r.nextFloat() * 0.2,
      duplicateRate: r.chance(0.5) ? 0 : r.nextFloat() * 0.05,
      maxDelay: 1 + r.nextInt(8),
    });
    this.snapshotEvery = 4 + r.nextInt(30);
    this.crashPerTick = r.nextFloat() * 0.04;
    this.restartPerTick = 0.02 + r.nextFloat() * 0.08;
    this.partitionPerTick = r.nextFloat() * 0.04;
    this.healPerTick = 0.01 + r.nextFloat() * 0.05;
    this.crashAfterPersist = r.nextFloat() * 0.003;

    this.ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
    const founders = this.o.reconfigure ? [1, 2, 3] : this.ids;
    for (const id of this.ids) {
      const n = new SimNode(id, founders.includes(id) ? founders : [], r.nextInt(STEPS_PER_TICK));
      this.nodes.set(id, n);
      n.start(this.tuning, this.rng.fork());
    }
    if (this.o.reconfigure) {
      const removed = 1 + r.nextInt(3);
      this.plan.push(
        { type: 'add-learner', nodeId: 4 },
        { type: 'add-voter', nodeId: 4 },
        { type: 'remove-node', nodeId: removed },
        { type: 'add-learner', nodeId: 5 },
        { type: 'add-voter', nodeId: 5 },
      );
    }
    for (let c = 1; c <= this.o.clients; c++) {
      this.clients.push({
        id: c,
        seq: 0,
        pending: undefined,
        nextAt: r.nextInt(20),
        hint: 1 + r.nextInt(options.nodes),
        readRatio: 0.2 + r.nextFloat() * 0.7,
      });
    }
  }

  run(): SimResult {
    const faultSteps = this.o.faultTicks * STEPS_PER_TICK;
    const boundSteps = this.o.livenessBoundTicks * STEPS_PER_TICK;
    try {
      for (;; this.step++) {
        if (this.step === faultSteps) this.stopFaults();
        if (this.faulting && this.step % STEPS_PER_TICK === 0) this.injectFaults();
        this.tickNodes();
        this.deliverMessages();
        for (const c of this.clients) this.clientAct(c);
        for (const id of this.ids) this.processReady(this.nodes.get(id)!);
        this.observe();
        if (this.step % STEPS_PER_TICK === 0) this.o.trace(`step ${this.step} ${this.describeLeaders()}`);
        if (!this.faulting) {
          if (this.live()) {
            this.stats.livenessTicks = Math.ceil((this.step - this.healStep) / STEPS_PER_TICK);
            break;
          }
          if (this.step - this.healStep > boundSteps) {
            throw new SimulationFailure(
              this.o,
              this.step,
              'liveness',
              `no stable leader with a completed write and read within ${this.o.livenessBoundTicks} ticks after faults stopped ` +
                `(leader: ${this.describeLeaders()}, write ok: ${this.writeOkAfterHeal}, read ok: ${this.readOkAfterHeal})`,
              this.history,
            );
          }
        }
      }
    } catch (err: unknown) {
      if (err instanceof SimulationFailure) throw err;
      const kind: SimFailureKind = err instanceof SafetyViolation ? 'safety' : 'node-error';
      const detail = err instanceof Error ? `${err.message}${kind === 'node-error' ? `\n${err.stack ?? ''}` : ''}` : String(err);
      throw new SimulationFailure(this.o, this.step, kind, detail, this.history);
    }
    // Operations still in flight have unknown outcomes.
    for (const c of this.clients) if (c.pending) this.finishUnknown(c);
    this.stats.steps = this.step;
    this.stats.elections = this.safety.elections;
    this.stats.maxTerm = this.safety.maxTerm;
    this.stats.committedEntries = this.safety.committedCount();
    this.stats.messagesSent = this.net.sent;
    this.stats.messagesDropped = this.net.dropped;
    const linearizability = checkOperations(kvModel, this.history, { maxSteps: 5_000_000 });
    if (linearizability.verdict !== 'ok') {
      const ce = linearizability.counterexample;
      const detail =
        linearizability.verdict === 'unknown'
          ? 'linearizability check exceeded its search budget'
          : `history not linearizable for key ${ce?.history[0]?.input.key}; stuck after ${ce?.longestPrefix.length} of ${ce?.history.length} operations`;
      throw new SimulationFailure(this.o, this.step, 'linearizability', detail, this.history, linearizability);
    }
    return { seed: this.o.seed, options: this.o, history: this.history, linearizability, stats: this.stats };
  }

  // ---------------------------------------------------------------- faults

  private upNodes(): SimNode[] {
    return this.ids.map((id) => this.nodes.get(id)!).filter((n) => n.up);
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.rng.nextInt(xs.length)];
  }

  private injectFaults(): void {
    const r = this.rng;
    if (r.chance(this.crashPerTick)) {
      const victim = this.pick(this.upNodes().filter((n) => !n.retired));
      if (victim) this.crash(victim);
    }
    if (r.chance(this.restartPerTick)) {
      const down = this.ids.map((id) => this.nodes.get(id)!).filter((n) => !n.up && !n.retired);
      const n = this.pick(down);
      if (n) this.restart(n);
    }
    if (r.chance(this.partitionPerTick)) {
      const groups = new Map<NodeId, number>();
      const roll = r.nextFloat();
      if (roll < 0.4) {
        // Cut the leader off: the classic way to get a stale leader serving old state.
        const leader = this.upNodes().find((n) => n.raft!.currentRole === 'leader');
        groups.set(leader ? leader.id : 1 + r.nextInt(this.ids.length), 1);
      } else if (roll < 0.6) {
        groups.set(1 + r.nextInt(this.ids.length), 1); // isolate one node
      } else {
        for (const id of this.ids) groups.set(id, r.nextInt(2));
      }
      this.net.partition(groups);
      this.stats.partitions++;
      this.o.trace(`step ${this.step} partition ${JSON.stringify([...groups])}`);
    }
    if (this.net.isPartitioned() && r.chance(this.healPerTick)) {
      this.net.heal();
      this.o.trace(`step ${this.step} heal`);
    }
    if (r.chance(0.005)) this.net.faults = { ...this.net.faults, dropRate: r.chance(0.5) ? 0 : r.nextFloat() * 0.3 };
    if (r.chance(0.01)) {
      const leader = this.upNodes().find((n) => n.raft!.currentRole === 'leader');
      const to = this.pick(leader ? leader.raft!.confState().voters : []);
      if (leader && to !== undefined) {
        leader.raft!.transferLeadership(to);
        this.stats.transfers++;
      }
    }
    if (this.o.reconfigure && r.chance(0.03)) this.reconfigure();
    for (const [id, at] of this.retireAt) {
      if (this.step >= at) {
        this.retireAt.delete(id);
        this.retire(this.nodes.get(id)!);
      }
    }
  }

  /** The operator applies the membership plan one change at a time, through the leader. */
  private reconfigure(): void {
    const leader = this.upNodes().find((n) => n.raft!.currentRole === 'leader');
    if (!leader) return;
    const cs = leader.raft!.confState();
    const member = (id: NodeId): boolean => cs.voters.includes(id) || cs.learners.includes(id);
    for (const cc of this.plan) {
      if (cc.type === 'remove-node' && !member(cc.nodeId)) {
        const n = this.nodes.get(cc.nodeId)!;
        if (!n.retired && !this.retireAt.has(cc.nodeId)) this.retireAt.set(cc.nodeId, this.step + this.rng.nextInt(200));
      }
    }
    const next = this.plan.find((cc) =>
      cc.type === 'add-learner' ? !member(cc.nodeId) : cc.type === 'add-voter' ? !cs.voters.includes(cc.nodeId) : member(cc.nodeId),
    );
    if (!next) return;
    try {
      leader.raft!.proposeConfChange(next);
      this.stats.confChanges++;
    } catch (err: unknown) {
      if (!isRaftError(err, 'RAFT_CONF_CHANGE_REJECTED') && !isRaftError(err, 'RAFT_PROPOSAL_DROPPED')) throw err;
    }
  }

  private crash(n: SimNode): void {
    this.o.trace(`step ${this.step} crash ${n.id}`);
    n.crash();
    this.net.dropTo(n.id);
    this.stats.crashes++;
  }

  private restart(n: SimNode): void {
    this.o.trace(`step ${this.step} restart ${n.id}`);
    n.start(this.tuning, this.rng.fork());
    this.safety.observeRestart(n.id, n.disk.snapshot().metadata.index);
  }

  /** A removed member is shut down for good (ids are never reused). */
  private retire(n: SimNode): void {
    if (n.up) n.crash();
    n.retired = true;
    this.net.dropTo(n.id);
  }

  private stopFaults(): void {
    this.o.trace(`step ${this.step} faults stop`);
    this.faulting = false;
    this.healStep = this.step;
    this.healEvent = this.events++;
    this.net.heal();
    this.net.faults = { dropRate: 0, duplicateRate: 0, maxDelay: Math.min(this.net.faults.maxDelay, 3) };
    for (const [id] of this.retireAt) this.retire(this.nodes.get(id)!);
    this.retireAt.clear();
    for (const id of this.ids) {
      const n = this.nodes.get(id)!;
      if (!n.up && !n.retired) this.restart(n);
    }
  }

  // ---------------------------------------------------------------- time and messages

  private tickNodes(): void {
    for (const id of this.ids) {
      const n = this.nodes.get(id)!;
      if (!n.raft || (this.step + n.tickPhase) % STEPS_PER_TICK !== 0) continue;
      // Clocks are not perfect: now and then a tick is late or doubled.
      if (this.faulting && this.rng.chance(0.02)) continue;
      n.raft.tick();
      if (this.faulting && this.rng.chance(0.02)) n.raft.tick();
    }
  }

  private deliverMessages(): void {
    for (const m of this.net.due(this.step)) {
      const target = this.nodes.get(m.to);
      const ok = target?.raft !== undefined && this.net.connected(m.from, m.to);
      if (!ok) {
        this.net.dropped++;
        if (m.type === 'MsgSnap') this.nodes.get(m.from)?.raft?.reportSnapshot(m.to, 'failure');
        continue;
      }
      target.raft!.step(m);
      // The transport reports a snapshot stream as finished once the receiver has it.
      if (m.type === 'MsgSnap') this.nodes.get(m.from)?.raft?.reportSnapshot(m.to, 'finish');
    }
  }

  private processReady(n: SimNode): void {
    for (let guard = 0; n.raft?.hasReady(); guard++) {
      if (guard > 100) throw new Error(`node ${n.id}: Ready loop did not settle`);
      const raft = n.raft;
      const rd = raft.ready();
      // 1. Persist (the disk survives crashes).
      if (rd.snapshot) n.disk.applySnapshot(rd.snapshot);
      n.disk.append(rd.entries);
      if (rd.hardState) n.disk.setHardState(rd.hardState);
      this.safety.observePersist(n.id, rd.hardState, rd.entries);
      if (this.faulting && this.rng.chance(this.crashAfterPersist)) {
        // Durable but never sent nor applied: restart must cope.
        this.crash(n);
        this.stats.crashesAfterPersist++;
        return;
      }
      // 2. Apply.
      if (rd.snapshot) {
        const restored = KvStateMachine.restore(rd.snapshot.data);
        restored.appliedIndex = rd.snapshot.metadata.index;
        n.sm = restored;
        this.safety.observeSnapshotInstalled(n.id, rd.snapshot);
        this.stats.snapshotsInstalled++;
      }
      this.apply(n, rd.committedEntries, n.sm!);
      for (const rs of rd.readStates) {
        const w = n.readWaiters.get(decoder.decode(rs.context));
        if (w) w.index = rs.index;
      }
      this.resolveReads(n);
      // 3. Send, only now that the Ready is durable.
      const failedSnaps: NodeId[] = [];
      for (const m of rd.messages) this.send(m, failedSnaps);
      raft.advance(rd);
      for (const to of failedSnaps) raft.reportSnapshot(to, 'failure');
      this.maybeSnapshot(n);
    }
  }

  private send(m: Message, failedSnaps: NodeId[]): void {
    if (!this.net.send(m, this.step) && m.type === 'MsgSnap') failedSnaps.push(m.to);
  }

  private apply(n: SimNode, entries: readonly Entry[], sm: KvStateMachine): void {
    for (const e of entries) {
      this.safety.observeApplied(n.id, e);
      if (e.type !== 'normal' || e.data.byteLength === 0) {
        sm.noteApplied(e.index);
        continue;
      }
      const cmd: KvCommand = decodeCommand(e.data);
      const { result } = sm.apply(e.index, cmd);
      const key = `${cmd.clientId}:${cmd.seq}`;
      const w = n.writeWaiters.get(key);
      if (w) {
        n.writeWaiters.delete(key);
        w.resolve(result);
      }
    }
  }

  private resolveReads(n: SimNode): void {
    const sm = n.sm!;
    for (const [ctx, w] of n.readWaiters) {
      if (w.index !== undefined && w.index <= sm.appliedIndex) {
        n.readWaiters.delete(ctx);
        w.resolve(sm.get(w.key));
      }
    }
  }

  private maybeSnapshot(n: SimNode): void {
    const raft = n.raft!;
    const applied = raft.appliedIndex;
    const snapIndex = n.disk.snapshot().metadata.index;
    if (applied - snapIndex < this.snapshotEvery) return;
    const sm = n.sm!;
    if (sm.appliedIndex !== applied) {
      throw new SafetyViolation(`node ${n.id}: state machine at ${sm.appliedIndex} but Raft applied ${applied}`);
    }
    const data = sm.snapshot();
    raft.createSnapshot(data);
    this.safety.observeSnapshotState(n.id, applied, data);
    // Keep a short tail of entries some of the time, so both append and snapshot catch-up occur.
    raft.compact(Math.max(n.disk.firstIndex() - 1, applied - this.rng.nextInt(4)));
  }

  private observe(): void {
    for (const id of this.ids) {
      const raft = this.nodes.get(id)!.raft;
      if (raft && raft.currentRole === 'leader') this.safety.observeLeader(raft.currentTerm, id);
    }
  }

  // ---------------------------------------------------------------- liveness

  private live(): boolean {
    if (!this.writeOkAfterHeal || !this.readOkAfterHeal) return false;
    return this.stableLeader() !== undefined;
  }

  private stableLeader(): NodeId | undefined {
    const leaders = this.upNodes().filter((n) => n.raft!.currentRole === 'leader');
    if (leaders.length !== 1) return undefined;
    const l = leaders[0]!;
    const term = l.raft!.currentTerm;
    for (const v of l.raft!.confState().voters) {
      const n = this.nodes.get(v)!;
      if (n.retired) continue;
      if (!n.raft || n.raft.leaderId !== l.id || n.raft.currentTerm !== term) return undefined;
    }
    return l.id;
  }

  private describeLeaders(): string {
    return (
      this.upNodes()
        .map((n) => `${n.id}:${n.raft!.currentRole}@${n.raft!.currentTerm}->${n.raft!.leaderId}/c${n.raft!.commitIndex}/a${n.raft!.appliedIndex}`)
        .join(' ') || 'all down'
    );
  }

  // ---------------------------------------------------------------- clients

  private clientAct(c: SimClient): void {
    if (c.pending) {
      if (this.step >= c.pending.deadline) this.finishUnknown(c);
      return;
    }
    if (this.step < c.nextAt) return;
    const r = this.rng;
    const key = `k${r.nextInt(this.o.keys)}`;
    const seq = ++c.seq;
    const roll = r.nextFloat();
    let input: KvInput;
    if (roll < c.readRatio) input = { op: 'get', key };
    else if (roll < c.readRatio + (1 - c.readRatio) * 0.6) input = { op: 'put', key, value: `${c.id}.${seq}` };
    else if (roll < c.readRatio + (1 - c.readRatio) * 0.8) input = { op: 'delete', key };
    else {
      const expected = r.chance(0.3) ? null : `${1 + r.nextInt(this.o.clients)}.${Math.max(1, seq - r.nextInt(4))}`;
      input = { op: 'cas', key, expected, value: `${c.id}.${seq}` };
    }
    const node = this.nodes.get(c.hint)!;
    const fail = (): void => {
      // Definitely not executed (connection refused, or refused by Raft before entering the
      // log): not part of the history; try elsewhere.
      c.nextAt = this.step + 1 + r.nextInt(4);
      const lead = node.raft?.leaderId ?? 0;
      c.hint = lead !== 0 && r.chance(0.8) ? lead : 1 + r.nextInt(this.ids.length);
    };
    if (!node.raft) return fail();
    const call = this.events++;
    const deadline = this.step + 25 * STEPS_PER_TICK;
    if (input.op === 'get') {
      if (this.o.unsafeLeaderLocalReads && node.raft.currentRole === 'leader') {
        const op: PendingOp = { seq, kind: 'read', input, call, deadline, node: node.id };
        c.pending = op;
        this.finish(c, op, { op: 'get', value: node.sm!.get(key) });
        return;
      }
      const ctx = `r${c.id}:${seq}`;
      try {
        node.raft.readIndex(new TextEncoder().encode(ctx));
      } catch (err: unknown) {
        if (isRaftError(err, 'RAFT_READ_INDEX_DROPPED')) return fail();
        throw err;
      }
      const pending: PendingOp = { seq, kind: 'read', input, call, deadline, node: node.id };
      c.pending = pending;
      node.readWaiters.set(ctx, {
        key,
        resolve: (value) => this.finish(c, pending, { op: 'get', value }),
        fail: () => this.finishUnknown(c, pending),
      });
      return;
    }
    const cmd: KvCommand =
      input.op === 'put'
        ? { op: 'put', clientId: c.id, seq, key, value: input.value }
        : input.op === 'delete'
          ? { op: 'delete', clientId: c.id, seq, key }
          : { op: 'cas', clientId: c.id, seq, key, expected: input.expected, value: input.value };
    try {
      node.raft.propose(encodeCommand(cmd));
    } catch (err: unknown) {
      if (isRaftError(err, 'RAFT_PROPOSAL_DROPPED')) return fail();
      throw err;
    }
    const pending: PendingOp = { seq, kind: 'write', input, call, deadline, node: node.id };
    c.pending = pending;
    node.writeWaiters.set(`${c.id}:${seq}`, {
      resolve: (result) => this.finish(c, pending, toOutput(result)),
      fail: () => this.finishUnknown(c, pending),
    });
  }

  private finish(c: SimClient, op: PendingOp, output: KvOutput): void {
    if (c.pending !== op) return;
    c.pending = undefined;
    this.history.push({ clientId: c.id, input: op.input, call: op.call, output, return: this.events++ });
    if (op.kind === 'read') this.stats.readsOk++;
    else this.stats.writesOk++;
    if (!this.faulting && op.call > this.healEvent) {
      if (op.kind === 'read') this.readOkAfterHeal = true;
      else this.writeOkAfterHeal = true;
    }
    c.nextAt = this.step + this.rng.nextInt(3);
    const lead = this.nodes.get(op.node)?.raft?.leaderId ?? 0;
    if (lead !== 0) c.hint = lead;
  }

  /** Timeout or lost connection: a write may still take effect; a read is simply forgotten. */
  private finishUnknown(c: SimClient, op: PendingOp | undefined = c.pending): void {
    if (!op || c.pending !== op) return;
    c.pending = undefined;
    const node = this.nodes.get(op.node)!;
    if (op.kind === 'write') {
      node.writeWaiters.delete(`${c.id}:${op.seq}`);
      this.history.push({ clientId: c.id, input: op.input, call: op.call });
      this.stats.writesUnknown++;
    } else {
      node.readWaiters.delete(`r${c.id}:${op.seq}`);
    }
    c.nextAt = this.step + 1 + this.rng.nextInt(4);
    // Half the time the client keeps talking to the same node, as a client with one address would.
    if (this.rng.chance(0.5)) c.hint = 1 + this.rng.nextInt(this.ids.length);
  }
}

function toOutput(r: KvResult): KvOutput {
  switch (r.op) {
    case 'put':
      return { op: 'put' };
    case 'delete':
      return { op: 'delete', existed: r.existed };
    case 'cas':
      return { op: 'cas', ok: r.ok };
  }
}

/** Runs one seeded simulation; throws SimulationFailure (with the replay command) on any violation. */
export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(options).run();
}
