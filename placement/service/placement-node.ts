// The placement node driver: owns the Raft core, its LevelDB log store, the state machine, the
// tick timer and the peers. Everything asynchronous lives here; the core and the state machine
// stay pure.
//
// One loop handles Raft's Ready in the order the core demands (placement/raft/README.md):
// persist (fsync when mustSync) -> apply snapshot and committed entries -> send messages ->
// advance. Proposals resolve when their entry is applied, with the command's result; reads wait
// for a ReadIndex round and for the state machine to reach it (linearizable on any member).
// Writes are refused on followers with PC_NOT_LEADER carrying the leader's id and address.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { RaftNode } from '../raft/raft-node.js';
import { LevelRaftStorage } from '../raft/leveldb-storage.js';
import { SeededRng } from '../raft/rng.js';
import { isRaftError } from '../raft/errors.js';
import type { Entry, Message, NodeId, Ready, RaftRole } from '../raft/types.js';
import { applyCommands, decodeCommands, encodeCommands, makeCommand, nodeKey, PlacementState } from '../state/index.js';
import { NodeStatus } from '../../proto/gen/placement_pb.js';
import type { Command, CommandResult } from '../../proto/gen/placement_log_pb.js';
import type { Sender } from '../../proto/gen/raft_pb.js';
import { PeerSender } from '../transport/peer-sender.js';
import { WatchHub, type WatchSink } from './watch-hub.js';

export interface PlacementNodeOptions {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  /** Directory of this node's data; the Raft store lives in `<dataDir>/placement`. */
  readonly dataDir: string;
  /** Every voting member (this node included) with its Raft/client address. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** The address clients should use for this node (told to followers, who tell clients). */
  readonly advertiseAddress: string;
  readonly log: Logger;
  /** Milliseconds per Raft tick; default 100. Election timeout is 10-20 ticks, heartbeat 1. */
  readonly tickMs?: number;
  readonly electionTick?: number;
  /** Take a snapshot and compact the log every this many applied entries; default 10,000. */
  readonly snapshotEntries?: number;
  /** ... or once this many bytes of entries were applied since the last one; default 64 MiB. */
  readonly snapshotBytes?: number;
  /** Entries kept behind a snapshot for slightly lagging followers; default 1,000. */
  readonly keepEntries?: number;
  /** Deadline of a proposal or read inside the node; default 5 s. */
  readonly requestTimeoutMs?: number;
  /** Wall clock for node expiry and command timestamps; default Date.now. */
  readonly clock?: () => number;
  /** Seed of the election-timeout randomness; default random. */
  readonly seed?: number;
}

interface ProposalWaiter {
  resolve(r: CommandResult): void;
  reject(e: CodedError): void;
}

interface ReadWaiter {
  resolve(): void;
  reject(e: CodedError): void;
  timer: NodeJS.Timeout;
}

interface ReadRound {
  readonly ctx: string;
  readonly startedAt: number;
  index?: number;
  readonly waiters: ReadWaiter[];
}

export interface NodeStatusView {
  readonly nodeId: NodeId;
  readonly clusterName: string;
  readonly address: string;
  readonly role: RaftRole;
  readonly term: number;
  readonly leaderId: NodeId;
  readonly leaderAddress: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly members: readonly { id: NodeId; address: string; learner: boolean; matchIndex: number }[];
}

/** A cheap upper estimate of a command's encoded size (values dominate). */
function estimateSize(c: Command): number {
  const op = c.op;
  if (op.case === 'kvSet') return 64 + op.value.key.length * 3 + op.value.value.byteLength;
  return 256;
}

export class PlacementNode {
  readonly id: NodeId;
  readonly clusterName: string;
  readonly advertiseAddress: string;
  private readonly opts: PlacementNodeOptions;
  private readonly log: Logger;
  private readonly storage: LevelRaftStorage;
  private readonly raft: RaftNode;
  private state: PlacementState;
  readonly watches: WatchHub;
  private readonly clock: () => number;
  private readonly peers = new Map<NodeId, PeerSender>();
  /** Client addresses learned from peers' batches (they may differ from the Raft addresses). */
  private readonly clientAddresses = new Map<NodeId, string>();
  private tickTimer: NodeJS.Timeout | undefined;
  private progressTimer: NodeJS.Timeout | undefined;
  private looping = false;
  private closed = false;
  private fatal: Error | undefined;
  private readonly proposals = new Map<string, ProposalWaiter[]>();
  /** Commands waiting to be proposed; the loop proposes them as one entry (group commit). */
  private outbox: Command[] = [];
  private readonly selfClientId: string;
  private seq = 0;
  private readCtx = 0;
  private pendingReads: ReadWaiter[] = [];
  private readRound: ReadRound | undefined;
  private readonly readyRounds: ReadRound[] = [];
  private role: RaftRole = 'follower';
  private term = 0;
  private leaderSince = 0;
  /** Leader only: last heartbeat per nodeKey. */
  private readonly lastHeartbeat = new Map<string, number>();
  private readonly pendingExpiry = new Set<string>();
  private lastSnapshotIndex: number;
  private bytesSinceSnapshot = 0;
  private readonly stopWaiters: (() => void)[] = [];

  private constructor(opts: PlacementNodeOptions, storage: LevelRaftStorage, raft: RaftNode, state: PlacementState) {
    this.opts = opts;
    this.id = opts.nodeId;
    this.clusterName = opts.clusterName;
    this.advertiseAddress = opts.advertiseAddress;
    this.log = opts.log;
    this.storage = storage;
    this.raft = raft;
    this.state = state;
    this.watches = new WatchHub(state.appliedIndex);
    this.clock = opts.clock ?? Date.now;
    this.selfClientId = `pc-${opts.nodeId}-${randomBytes(6).toString('hex')}`;
    this.lastSnapshotIndex = storage.snapshot().metadata.index;
  }

  /** Opens (or creates) the store and starts ticking. Peers are contacted as Raft needs them. */
  static async start(opts: PlacementNodeOptions): Promise<PlacementNode> {
    if (!opts.peers.has(opts.nodeId)) {
      throw new CodedError('CFG_INVALID', `raft.peers has no entry for node_id ${opts.nodeId}`);
    }
    const dir = join(opts.dataDir, 'placement');
    await mkdir(dir, { recursive: true });
    const storage = await LevelRaftStorage.open(dir);
    const snap = storage.snapshot();
    let state: PlacementState;
    try {
      state = PlacementState.restore(snap.data);
    } catch (err: unknown) {
      await storage.close();
      throw err;
    }
    state.appliedIndex = snap.metadata.index;
    const raft = new RaftNode({
      id: opts.nodeId,
      voters: [...opts.peers.keys()].sort((a, b) => a - b),
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: 1,
      checkQuorum: true,
      preVote: true,
      storage,
      rng: new SeededRng(opts.seed ?? randomBytes(4).readUInt32BE(0)),
      applied: snap.metadata.index,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      disableProposalForwarding: true,
    });
    const node = new PlacementNode(opts, storage, raft, state);
    for (const [id, addr] of opts.peers) if (id !== opts.nodeId) node.addPeer(id, addr);
    if (opts.peers.size === 1) raft.campaign();
    node.tickTimer = setInterval(() => node.onTick(), opts.tickMs ?? 100);
    node.progressTimer = setInterval(() => node.watches.sendProgress(), 1000);
    node.kick();
    return node;
  }

  private addPeer(id: NodeId, address: string): void {
    this.peers.set(
      id,
      new PeerSender({
        selfId: this.id,
        clusterName: this.clusterName,
        selfAddress: this.advertiseAddress,
        peerId: id,
        address,
        onUnreachable: (peer) => {
          if (this.closed) return;
          this.raft.reportUnreachable(peer);
        },
        onSnapshotStatus: (peer, ok) => {
          if (this.closed) return;
          this.raft.reportSnapshot(peer, ok ? 'finish' : 'failure');
          this.kick();
        },
      }),
    );
  }

  // ---------------------------------------------------------------- the Ready loop

  private onTick(): void {
    if (this.closed) return;
    this.raft.tick();
    if (this.role === 'leader') this.checkExpiry();
    this.retryStaleReadRound();
    this.kick();
  }

  private kick(): void {
    if (this.looping || this.closed || this.fatal) return;
    this.looping = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.closed) return;
        this.flushOutbox();
        if (!this.raft.hasReady()) break;
        const rd = this.raft.ready();
        await this.storage.persist(rd);
        if (this.closed) return;
        this.handleReady(rd);
        this.raft.advance(rd);
        // A single-member group need not wait an election timeout to lead. The core refuses to
        // campaign until committed membership entries are applied, so this retries after each
        // Ready until it takes.
        if (this.opts.peers.size === 1 && this.raft.currentRole !== 'leader' && this.raft.leaderId === 0) this.raft.campaign();
        this.serveReads();
        await this.maybeSnapshot();
      }
    } catch (err: unknown) {
      // Memory may be ahead of disk now; the only safe move is to stop serving (a restart
      // rebuilds from disk).
      this.fatal = err instanceof Error ? err : new Error(String(err));
      this.log.error('placement node stopped after a storage or apply failure', { err: this.fatal.message });
      this.failEverything(new CodedError('INTERNAL', `placement node failed: ${this.fatal.message}`));
    } finally {
      this.looping = false;
      for (const w of this.stopWaiters.splice(0)) w();
    }
    if (!this.closed && !this.fatal && (this.outbox.length > 0 || this.raft.hasReady())) this.kick();
  }

  /**
   * Proposes the queued commands as one entry. Proposals that arrived while the previous Ready
   * was being persisted travel together: one entry, one append message, one fsync.
   */
  private flushOutbox(): void {
    while (this.outbox.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < this.outbox.length && n < 1000 && bytes < 512 * 1024) bytes += estimateSize(this.outbox[n++]!);
      const batch = this.outbox.splice(0, n);
      const keys = batch.map((c) => `${c.requestId!.clientId}#${c.requestId!.seq}`);
      let err: CodedError | undefined;
      if (this.role !== 'leader') err = this.notLeader();
      else {
        try {
          this.raft.propose(encodeCommands(batch));
        } catch (e: unknown) {
          err = isRaftError(e, 'RAFT_PROPOSAL_DROPPED') ? new CodedError('PC_PROPOSAL_DROPPED', e.message) : new CodedError('INTERNAL', String(e));
        }
      }
      if (err) {
        for (const k of keys) {
          const ws = this.proposals.get(k);
          this.proposals.delete(k);
          for (const w of ws ?? []) w.reject(err);
        }
      }
    }
  }

  private handleReady(rd: Ready): void {
    if (rd.softState) this.onSoftState(rd.softState.role, rd.softState.lead);
    if (rd.hardState && rd.hardState.term !== this.term) {
      this.term = rd.hardState.term;
      // Proposals of an earlier term may have been overwritten; their clients retry by request id.
      if (this.role !== 'leader') this.dropProposals();
    }
    if (rd.snapshot) {
      this.state = PlacementState.restore(rd.snapshot.data);
      this.state.appliedIndex = rd.snapshot.metadata.index;
      this.lastSnapshotIndex = rd.snapshot.metadata.index;
      this.bytesSinceSnapshot = 0;
      this.watches.reset(rd.snapshot.metadata.index);
      this.log.info('installed snapshot', { index: rd.snapshot.metadata.index });
    }
    for (const e of rd.committedEntries) this.applyEntry(e);
    for (const rs of rd.readStates) {
      const ctx = Buffer.from(rs.context).toString('hex');
      if (this.readRound?.ctx === ctx) {
        this.readRound.index = rs.index;
        this.readyRounds.push(this.readRound);
        this.readRound = undefined;
      }
    }
    for (const m of rd.messages) this.sendMessage(m);
  }

  private onSoftState(role: RaftRole, lead: NodeId): void {
    const wasLeader = this.role === 'leader';
    this.role = role;
    if (role === 'leader' && !wasLeader) {
      this.leaderSince = this.clock();
      this.lastHeartbeat.clear();
      this.pendingExpiry.clear();
      this.log.info('became leader', { term: this.raft.currentTerm });
    } else if (wasLeader && role !== 'leader') {
      this.log.info('lost leadership', { role, lead });
      this.dropProposals();
    }
    // A read round in flight with a leader that is gone would never be answered.
    if (this.readRound) {
      const r = this.readRound;
      this.readRound = undefined;
      this.pendingReads.unshift(...r.waiters);
    }
    if (this.pendingReads.length > 0) queueMicrotask(() => this.startReadRound());
  }

  private applyEntry(e: Entry): void {
    this.bytesSinceSnapshot += e.data.byteLength;
    if (e.type !== 'normal' || e.data.byteLength === 0) {
      if (e.index > this.state.appliedIndex) this.state.appliedIndex = e.index;
      this.watches.publish(e.index, []);
      return;
    }
    const cmds = decodeCommands(e.data);
    const outs = applyCommands(this.state, e.index, cmds);
    this.watches.publish(e.index, outs.flatMap((o) => o.events));
    cmds.forEach((cmd, i) => {
      const rid = cmd.requestId;
      if (!rid) return;
      const key = `${rid.clientId}#${rid.seq}`;
      const ws = this.proposals.get(key);
      if (ws) {
        this.proposals.delete(key);
        for (const w of ws) w.resolve(outs[i]!.result);
      }
    });
  }

  private sendMessage(m: Message): void {
    const peer = this.peers.get(m.to);
    if (peer) peer.send(m);
  }

  private async maybeSnapshot(): Promise<void> {
    const every = this.opts.snapshotEntries ?? 10_000;
    const applied = this.raft.appliedIndex;
    if (applied - this.lastSnapshotIndex < every && this.bytesSinceSnapshot < (this.opts.snapshotBytes ?? 64 * 1024 * 1024)) return;
    if (applied <= this.lastSnapshotIndex) return;
    this.bytesSinceSnapshot = 0;
    this.raft.createSnapshot(this.state.snapshot());
    this.lastSnapshotIndex = applied;
    const keep = this.opts.keepEntries ?? 1000;
    const upTo = applied - keep;
    if (upTo >= this.storage.firstIndex()) this.raft.compact(upTo);
    await this.storage.flush({ sync: true });
    this.log.debug('snapshot taken', { index: applied, compactedTo: upTo });
  }

  /** Messages from the transport. */
  deliver(sender: Sender, messages: Message[]): void {
    if (this.closed || this.fatal) return;
    if (sender.address !== '' && this.clientAddresses.get(sender.nodeId) !== sender.address) {
      this.clientAddresses.set(sender.nodeId, sender.address);
    }
    for (const m of messages) {
      if (m.to !== this.id) continue;
      try {
        this.raft.step(m);
      } catch (err: unknown) {
        this.log.warn('dropped a raft message the core refused', { type: m.type, from: m.from, err: err instanceof Error ? err.message : String(err) });
      }
    }
    this.kick();
  }

  // ---------------------------------------------------------------- writes

  private notLeader(): CodedError {
    const lead = this.raft.leaderId;
    if (lead === 0 || lead === this.id) {
      return new CodedError('PC_NO_LEADER', `node ${this.id} knows no leader at term ${this.raft.currentTerm}`, { details: { nodeId: this.id } });
    }
    const leaderAddress = this.addressOf(lead);
    return new CodedError('PC_NOT_LEADER', `node ${this.id} is not the leader; node ${lead} at ${leaderAddress} is`, {
      details: { leaderId: lead, leaderAddress },
    });
  }

  addressOf(id: NodeId): string {
    if (id === this.id) return this.advertiseAddress;
    return this.clientAddresses.get(id) ?? this.opts.peers.get(id) ?? '';
  }

  get isLeader(): boolean {
    return this.role === 'leader' && !this.closed && !this.fatal;
  }

  private checkUsable(): void {
    if (this.fatal) throw new CodedError('INTERNAL', `placement node failed: ${this.fatal.message}`);
    if (this.closed) throw new CodedError('PC_UNREACHABLE', `placement node ${this.id} is stopping`);
  }

  /**
   * Proposes a command on the leader and resolves with its result once applied. A command
   * without a request id gets one, so that it is de-duplicated like any client's.
   */
  propose(cmd: Command, timeoutMs = this.opts.requestTimeoutMs ?? 5000): Promise<CommandResult> {
    this.checkUsable();
    if (this.role !== 'leader') throw this.notLeader();
    if (!cmd.requestId || cmd.requestId.clientId === '') {
      cmd.requestId = { $typeName: 'robustmq.placement.v1.RequestId', clientId: this.selfClientId, seq: ++this.seq };
    }
    cmd.nowMs = this.clock();
    const key = `${cmd.requestId.clientId}#${cmd.requestId.seq}`;
    const result = new Promise<CommandResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        const ws = this.proposals.get(key);
        if (ws) {
          const i = ws.indexOf(w);
          if (i >= 0) ws.splice(i, 1);
          if (ws.length === 0) this.proposals.delete(key);
        }
        reject(new CodedError('PC_TIMEOUT', `proposal not applied within ${timeoutMs} ms; outcome unknown`));
      }, timeoutMs);
      const w: ProposalWaiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const ws = this.proposals.get(key);
      if (ws) ws.push(w);
      else this.proposals.set(key, [w]);
    });
    this.outbox.push(cmd);
    this.kick();
    return result;
  }

  private dropProposals(): void {
    this.outbox = [];
    const all = [...this.proposals.values()].flat();
    this.proposals.clear();
    const err = new CodedError('PC_PROPOSAL_DROPPED', `node ${this.id} lost leadership before the write was applied; retry with the same request id`);
    for (const w of all) w.reject(err);
  }

  // ---------------------------------------------------------------- reads

  /**
   * Resolves once this node's state reflects every write committed before the call
   * (ReadIndex: a quorum confirms the leader, then the state machine catches up to that index).
   * Concurrent reads share one round.
   */
  linearizable(timeoutMs = this.opts.requestTimeoutMs ?? 5000): Promise<void> {
    this.checkUsable();
    if (this.raft.leaderId === 0) throw this.notLeader();
    return new Promise<void>((resolve, reject) => {
      const w: ReadWaiter = {
        resolve: () => {
          clearTimeout(w.timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(w.timer);
          reject(e);
        },
        timer: setTimeout(() => {
          this.removeReadWaiter(w);
          reject(new CodedError('PC_TIMEOUT', `read not confirmed by a quorum within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.pendingReads.push(w);
      this.startReadRound();
    });
  }

  private removeReadWaiter(w: ReadWaiter): void {
    const drop = (list: ReadWaiter[]) => {
      const i = list.indexOf(w);
      if (i >= 0) list.splice(i, 1);
    };
    drop(this.pendingReads);
    if (this.readRound) drop(this.readRound.waiters);
    for (const r of this.readyRounds) drop(r.waiters);
  }

  private startReadRound(): void {
    if (this.readRound || this.pendingReads.length === 0 || this.closed || this.fatal) return;
    const buf = Buffer.alloc(12);
    buf.writeUInt32BE(this.id >>> 0, 0);
    buf.writeDoubleBE(++this.readCtx, 4);
    const round: ReadRound = { ctx: buf.toString('hex'), startedAt: Date.now(), waiters: this.pendingReads };
    this.pendingReads = [];
    try {
      this.raft.readIndex(new Uint8Array(buf));
    } catch (err: unknown) {
      const e = isRaftError(err, 'RAFT_READ_INDEX_DROPPED') ? this.notLeader() : new CodedError('INTERNAL', String(err));
      for (const w of round.waiters) w.reject(e);
      return;
    }
    this.readRound = round;
    // A round whose answer is lost (the message or the leader) is retried by onSoftState or
    // retryStaleReadRound.
    this.kick();
  }

  private retryStaleReadRound(): void {
    const r = this.readRound;
    if (!r || Date.now() - r.startedAt < (this.opts.tickMs ?? 100) * (this.opts.electionTick ?? 10)) return;
    this.readRound = undefined;
    this.pendingReads.unshift(...r.waiters);
    this.startReadRound();
  }

  private serveReads(): void {
    const applied = this.state.appliedIndex;
    for (let i = 0; i < this.readyRounds.length; ) {
      const r = this.readyRounds[i]!;
      if (r.index! <= applied) {
        this.readyRounds.splice(i, 1);
        for (const w of r.waiters) w.resolve();
      } else i++;
    }
    if (this.pendingReads.length > 0) this.startReadRound();
  }

  // ---------------------------------------------------------------- node expiry (leader only)

  /** Records a heartbeat; throws PC_NOT_LEADER / PC_NODE_NOT_REGISTERED. */
  heartbeat(kind: number, nodeId: number, incarnation: number): void {
    this.checkUsable();
    if (this.role !== 'leader') throw this.notLeader();
    const n = this.state.getNode(kind, nodeId);
    if (!n || n.status !== NodeStatus.ALIVE || (incarnation !== 0 && incarnation !== n.incarnation)) {
      throw new CodedError('PC_NODE_NOT_REGISTERED', `node ${nodeKey(kind, nodeId)} is not registered (or was marked dead); register again`, {
        details: { nodeId },
      });
    }
    this.lastHeartbeat.set(nodeKey(kind, nodeId), this.clock());
  }

  private checkExpiry(): void {
    const now = this.clock();
    for (const [key, n] of this.state.nodes) {
      if (n.status !== NodeStatus.ALIVE || this.pendingExpiry.has(key)) continue;
      // A new leader gives every node a full timeout: it has no heartbeat history yet.
      const last = Math.max(this.lastHeartbeat.get(key) ?? 0, this.leaderSince, n.statusChangedAtMs);
      if (now - last <= n.heartbeatTimeoutMs) continue;
      this.pendingExpiry.add(key);
      const cmd = makeCommand({ op: { case: 'expireNode', value: { kind: n.kind, nodeId: n.nodeId, incarnation: n.incarnation } } });
      this.log.info('node stopped heartbeating; marking it dead', { node: key, lastMs: now - last });
      this.propose(cmd)
        .catch(() => undefined)
        .finally(() => this.pendingExpiry.delete(key));
    }
  }

  // ---------------------------------------------------------------- views

  /** Resolves once this node knows a leader (itself or another); PC_NO_LEADER after the timeout. */
  async waitForLeader(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.raft.leaderId === 0 || (this.raft.leaderId === this.id && this.role !== 'leader')) {
      this.checkUsable();
      if (Date.now() > deadline) throw new CodedError('PC_NO_LEADER', `no leader within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The state as of the last applied entry (use after linearizable() for a linearizable read). */
  get view(): PlacementState {
    return this.state;
  }

  subscribe(fromIndex: number, prefixes: readonly string[], sink: WatchSink): () => void {
    this.checkUsable();
    return this.watches.subscribe(fromIndex, prefixes, sink);
  }

  transferLeader(to: NodeId): void {
    this.checkUsable();
    try {
      this.raft.transferLeadership(to);
    } catch (err: unknown) {
      if (isRaftError(err)) throw new CodedError('PC_NO_LEADER', err.message);
      throw err;
    }
    this.kick();
  }

  status(): NodeStatusView {
    const s = this.raft.status();
    const lead = s.lead;
    const member = (id: NodeId, learner: boolean) => ({ id, address: this.addressOf(id), learner, matchIndex: s.progress?.get(id)?.match ?? 0 });
    return {
      nodeId: this.id,
      clusterName: this.clusterName,
      address: this.advertiseAddress,
      role: s.role,
      term: s.term,
      leaderId: lead,
      leaderAddress: lead === 0 ? '' : this.addressOf(lead),
      commitIndex: s.commit,
      appliedIndex: this.state.appliedIndex,
      firstIndex: s.firstIndex,
      lastIndex: s.lastIndex,
      snapshotIndex: this.storage.snapshot().metadata.index,
      members: [...s.confState.voters.map((id) => member(id, false)), ...s.confState.learners.map((id) => member(id, true))],
    };
  }

  private failEverything(err: CodedError): void {
    this.dropProposals();
    for (const p of this.proposals.values()) for (const w of p) w.reject(err);
    const reads = [...this.pendingReads, ...(this.readRound?.waiters ?? []), ...this.readyRounds.flatMap((r) => r.waiters)];
    this.pendingReads = [];
    this.readRound = undefined;
    this.readyRounds.length = 0;
    for (const w of reads) w.reject(err);
    this.watches.closeAll(err);
  }

  /** Stops ticking and sending, fails waiting requests, and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.progressTimer);
    for (const p of this.peers.values()) p.close();
    if (this.looping) await new Promise<void>((r) => this.stopWaiters.push(r));
    this.failEverything(new CodedError('PC_UNREACHABLE', `placement node ${this.id} stopped`));
    await this.storage.close();
  }
}
