// The placement node driver: owns the Raft core, its LevelDB log store, the state machine, the
// tick timer and the peers. Everything asynchronous lives here; the core and the state machine
// stay pure.
//
// One loop handles Raft's Ready in the order the core demands (placement/raft/README.md):
// persist (fsync when mustSync) -> apply snapshot and committed entries -> send messages ->
// advance. Proposals resolve when their entry is applied, with the command's result; reads wait
// for a ReadIndex round and for the state machine to reach it (linearizable on any member).
// Writes are refused on followers with PC_NOT_LEADER carrying the leader's id and address.
//
// Membership (README "Membership changes"): one conf change at a time through changeMembership;
// members' advertised addresses live in the replicated state (conf-change contexts and
// SetMemberAddresses commands) so any member, however partial its raft.peers, reaches all others;
// a node with an empty data directory decides between founding and joining (start-decision.ts);
// a removed node stops.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { RaftNode } from '../raft/raft-node.js';
import { LevelRaftStorage } from '../raft/leveldb-storage.js';
import { SeededRng } from '../raft/rng.js';
import { isRaftError } from '../raft/errors.js';
import { decodeConfChange } from '../raft/conf-change.js';
import type { ConfChange, Entry, Message, NodeId, Ready, RaftRole } from '../raft/types.js';
import {
  applyCommands,
  applyMemberChange,
  decodeCommands,
  decodeMemberContext,
  encodeCommands,
  encodeMemberContext,
  makeCommand,
  nodeKey,
  PlacementState,
} from '../state/index.js';
import { GrpcPlacementClient } from '../client/grpc-client.js';
import { decideStart, type ProbeAnswer } from './start-decision.js';
import { MemberRole, NodeStatus } from '../../proto/gen/placement_pb.js';
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
  /**
   * A node with an empty data directory and other raft.peers founds the cluster only after every
   * peer answered or this long passed with no sign of an existing cluster; default two election
   * timeouts (start-decision.ts).
   */
  readonly foundingWaitMs?: number;
  /** A learner is promoted only when its match index is at most this far behind; default 50. */
  readonly promoteMaxLag?: number;
  /** Called once when this node learns it was removed from the cluster (it has stopped). */
  readonly onRemoved?: () => void;
}

/** A membership change through the API; `promote` is Raft's add-voter on a learner. */
export interface MembershipRequest {
  readonly kind: 'add-learner' | 'add-voter' | 'promote' | 'remove';
  readonly nodeId: NodeId;
  /** The new member's advertised address (adds only). */
  readonly address?: string;
}

interface ConfWaiter {
  readonly cc: ConfChange;
  index: number;
  term: number;
  resolve(index: number): void;
  reject(e: CodedError): void;
}

/** While a node with an empty data directory decides whether to found or join. */
interface FoundingPhase {
  readonly startedAt: number;
  readonly clients: Map<NodeId, GrpcPlacementClient>;
  timer: NodeJS.Timeout | undefined;
  warned: boolean;
}

const ADDRESS = /^(\[[0-9a-fA-F:.]+\]|[^\s:@\[\]]+):\d{1,5}$/;

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
  readonly removed: boolean;
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
  /** Replaced once, when a node in its founding phase founds the cluster. */
  private raft: RaftNode;
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
  private founding: FoundingPhase | undefined;
  private confWaiter: ConfWaiter | undefined;
  /** Conf changes applied in the current Ready, answered once advance() made them effective. */
  private readonly confApplied: { waiter: ConfWaiter; index: number }[] = [];
  private membershipDirty = true;
  /** Index of a committed removal of this node seen while applying; acted on after advance(). */
  private selfRemovalAt = 0;
  private removedAt = 0;
  private addressProposalPending = false;
  private ticks = 0;

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
    const fresh = storage.lastIndex() === 0 && snap.metadata.index === 0 && storage.initialState().hardState.term === 0;
    // A fresh node among other peers must not bootstrap before it knows no cluster exists: it
    // starts with no membership (inert until a leader contacts it) and decides in the background.
    const decide = fresh && opts.peers.size > 1;
    const raft = PlacementNode.makeRaft(opts, storage, decide ? [] : [...opts.peers.keys()], snap.metadata.index);
    const node = new PlacementNode(opts, storage, raft, state);
    for (const [id, addr] of opts.peers) if (id !== opts.nodeId) node.addPeer(id, addr);
    node.syncPeers();
    const cs = raft.confState();
    if (cs.voters.length + cs.learners.length > 0 && !cs.voters.includes(opts.nodeId) && !cs.learners.includes(opts.nodeId) && state.memberRemovedAt(opts.nodeId) > 0) {
      // Restarted after its removal was applied: stay stopped.
      node.becomeRemoved(state.memberRemovedAt(opts.nodeId));
      return node;
    }
    if (opts.peers.size === 1) raft.campaign();
    node.tickTimer = setInterval(() => node.onTick(), opts.tickMs ?? 100);
    node.progressTimer = setInterval(() => node.watches.sendProgress(), 1000);
    if (decide) node.startFounding();
    node.kick();
    return node;
  }

  private static makeRaft(opts: PlacementNodeOptions, storage: LevelRaftStorage, voters: readonly NodeId[], applied: number): RaftNode {
    return new RaftNode({
      id: opts.nodeId,
      voters: [...voters].sort((a, b) => a - b),
      electionTick: opts.electionTick ?? 10,
      heartbeatTick: 1,
      checkQuorum: true,
      preVote: true,
      storage,
      rng: new SeededRng(opts.seed ?? randomBytes(4).readUInt32BE(0)),
      applied,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      disableProposalForwarding: true,
    });
  }

  // ---------------------------------------------------------------- founding or joining

  private startFounding(): void {
    const clients = new Map<NodeId, GrpcPlacementClient>();
    const probeMs = Math.max(200, (this.opts.tickMs ?? 100) * 5);
    for (const [id, addr] of this.opts.peers) {
      if (id !== this.id) clients.set(id, new GrpcPlacementClient({ addresses: [addr], timeoutMs: probeMs, attemptTimeoutMs: probeMs }));
    }
    this.founding = { startedAt: Date.now(), clients, timer: undefined, warned: false };
    this.log.info('empty data directory: probing raft.peers before founding a cluster', { peers: [...this.opts.peers.keys()].join(',') });
    void this.probeRound();
  }

  private async probeRound(): Promise<void> {
    const f = this.founding;
    if (!f || this.closed) return;
    const probes = new Map<NodeId, ProbeAnswer | undefined>();
    await Promise.all(
      [...f.clients].map(async ([id, c]) => {
        try {
          const s = await c.status();
          probes.set(id, {
            leaderId: s.leaderId,
            voters: s.members.filter((m) => m.role !== MemberRole.LEARNER).map((m) => m.id),
            learners: s.members.filter((m) => m.role === MemberRole.LEARNER).map((m) => m.id),
          });
        } catch {
          probes.set(id, undefined);
        }
      }),
    );
    if (this.founding !== f || this.closed) return;
    const waitMs = this.opts.foundingWaitMs ?? 2 * (this.opts.electionTick ?? 10) * (this.opts.tickMs ?? 100);
    const d = decideStart(this.id, [...this.opts.peers.keys()], probes, Date.now() - f.startedAt, waitMs);
    if (d.kind === 'found') {
      this.endFounding();
      try {
        this.raft = PlacementNode.makeRaft(this.opts, this.storage, [...this.opts.peers.keys()], 0);
      } catch (err: unknown) {
        this.fatal = err instanceof Error ? err : new Error(String(err));
        this.log.error('cannot found the cluster', { err: this.fatal.message });
        return;
      }
      this.membershipDirty = true;
      this.log.info('founded the cluster from raft.peers', { voters: [...this.opts.peers.keys()].join(',') });
      this.kick();
      return;
    }
    if (d.kind === 'not-a-member' && !f.warned) {
      f.warned = true;
      this.log.warn('a placement cluster is running without this node; add it first (robust-ctl placement member add), it joins when the leader contacts it', {
        leaderId: d.leaderId,
        peer: d.peer,
      });
    }
    f.timer = setTimeout(() => void this.probeRound(), Math.max(50, (this.opts.tickMs ?? 100) * 2));
  }

  /** Leaves the founding phase: founded, or contacted by a leader (joined). */
  private endFounding(): void {
    const f = this.founding;
    if (!f) return;
    this.founding = undefined;
    clearTimeout(f.timer);
    for (const c of f.clients.values()) void c.close();
  }

  /**
   * Where this node sends Raft traffic for `id`: its raft.peers entry when it has one (which may
   * name a proxy), else the address the replicated state records, else what the peer advertised.
   */
  private raftAddressOf(id: NodeId): string {
    return this.opts.peers.get(id) ?? (this.state.memberAddress(id) || this.clientAddresses.get(id) || '');
  }

  /** One sender per member (the replicated addresses may have changed); none for removed nodes. */
  private syncPeers(): void {
    this.membershipDirty = false;
    const cs = this.raft.confState();
    const members = new Set([...cs.voters, ...cs.learners]);
    for (const id of members) {
      if (id === this.id) continue;
      const address = this.raftAddressOf(id);
      if (address === '') continue;
      const p = this.peers.get(id);
      if (!p) this.addPeer(id, address);
      else if (p.peerAddress !== address) p.setAddress(address);
    }
    for (const [id, p] of this.peers) {
      if (!members.has(id) && this.state.memberRemovedAt(id) > 0) {
        p.close();
        this.peers.delete(id);
      }
    }
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
        onRemoved: (peer, removedAt) => this.onToldRemoved(peer, removedAt),
      }),
    );
  }

  // ---------------------------------------------------------------- the Ready loop

  private onTick(): void {
    if (this.closed || this.removedAt > 0) return;
    // A node still deciding between founding and joining has no membership: nothing to tick.
    if (this.founding) return;
    this.raft.tick();
    this.ticks++;
    if (this.role === 'leader') {
      this.checkExpiry();
      if (this.ticks % 10 === 0) this.recordMemberAddresses();
    }
    this.retryStaleReadRound();
    this.kick();
  }

  private kick(): void {
    if (this.looping || this.closed || this.fatal || this.removedAt > 0) return;
    this.looping = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        if (this.closed || this.removedAt > 0) return;
        this.flushOutbox();
        this.proposeConfChange();
        if (!this.raft.hasReady()) break;
        const rd = this.raft.ready();
        await this.storage.persist(rd);
        if (this.closed) return;
        this.handleReady(rd);
        this.raft.advance(rd);
        this.afterAdvance();
        if (this.removedAt > 0) return;
        // A single-member group need not wait an election timeout to lead. The core refuses to
        // campaign until committed membership entries are applied, so this retries after each
        // Ready until it takes.
        if (this.raft.currentRole !== 'leader' && this.raft.leaderId === 0 && !this.founding) {
          const cs = this.raft.confState();
          if (cs.voters.length === 1 && cs.voters[0] === this.id) this.raft.campaign();
        }
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
    if (!this.closed && !this.fatal && this.removedAt === 0 && (this.outbox.length > 0 || this.raft.hasReady())) this.kick();
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
      this.membershipDirty = true;
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
    const w = this.confWaiter;
    if (w && w.index === e.index) {
      this.confWaiter = undefined;
      // Another leader's entry took the index: the change was not made.
      if (e.term === w.term && e.type === 'conf-change') this.confApplied.push({ waiter: w, index: e.index });
      else w.reject(new CodedError('PC_PROPOSAL_DROPPED', `membership change at index ${w.index} was overwritten by a new leader; check status and retry`));
    }
    if (e.type === 'conf-change') {
      const cc = decodeConfChange(e.data);
      if (e.index > this.state.appliedIndex) {
        applyMemberChange(this.state, e.index, { type: cc.type === 'remove-node' ? 'remove' : 'add', nodeId: cc.nodeId, address: decodeMemberContext(cc.context) });
      }
      if (cc.nodeId === this.id) this.selfRemovalAt = cc.type === 'remove-node' ? e.index : 0;
      this.membershipDirty = true;
      this.watches.publish(e.index, []);
      return;
    }
    if (e.data.byteLength === 0) {
      if (e.index > this.state.appliedIndex) this.state.appliedIndex = e.index;
      this.watches.publish(e.index, []);
      return;
    }
    const cmds = decodeCommands(e.data);
    if (cmds.some((c) => c.op.case === 'setMemberAddresses')) this.membershipDirty = true;
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
    let peer = this.peers.get(m.to);
    if (!peer) {
      // A peer this node has no sender for yet (a leader that contacted a joining node).
      const address = this.raftAddressOf(m.to);
      if (address === '') return;
      this.addPeer(m.to, address);
      peer = this.peers.get(m.to)!;
    }
    peer.send(m);
  }

  /** After advance(): conf changes are in effect now. */
  private afterAdvance(): void {
    for (const { waiter, index } of this.confApplied.splice(0)) waiter.resolve(index);
    if (this.selfRemovalAt > 0) {
      const cs = this.raft.confState();
      if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) {
        this.becomeRemoved(this.selfRemovalAt);
        return;
      }
      this.selfRemovalAt = 0;
    }
    if (this.membershipDirty) this.syncPeers();
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

  /**
   * Messages from the transport. Returns the index at which the sender was removed from the
   * cluster when this node applied that removal (then nothing is stepped), else 0.
   */
  deliver(sender: Sender, messages: Message[]): number {
    if (this.closed || this.fatal || this.removedAt > 0) return 0;
    const removedAt = this.state.memberRemovedAt(sender.nodeId);
    if (removedAt > 0) {
      const cs = this.raft.confState();
      if (!cs.voters.includes(sender.nodeId) && !cs.learners.includes(sender.nodeId)) return removedAt;
    }
    if (sender.address !== '' && this.clientAddresses.get(sender.nodeId) !== sender.address) {
      this.clientAddresses.set(sender.nodeId, sender.address);
    }
    if (this.founding) {
      // Only a leader's contact decides the founding phase (this node is a member of a running
      // cluster); anything else (a founder's campaign) waits until this node has decided.
      if (!messages.some((m) => m.to === this.id && (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap'))) return 0;
      this.log.info('contacted by a leader: joining the running cluster', { leader: sender.nodeId });
      this.endFounding();
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
    return 0;
  }

  /** A peer said this node was removed at `removedAt`; believe it only if that is news. */
  private onToldRemoved(peer: NodeId, removedAt: number): void {
    if (this.closed || this.removedAt > 0 || this.founding) return;
    const cs = this.raft.confState();
    // A node that is not a member by its own log (joining, or re-added after a removal) or has
    // applied past that index already knows better.
    if (!cs.voters.includes(this.id) && !cs.learners.includes(this.id)) return;
    if (this.state.appliedIndex >= removedAt) return;
    this.log.info('a peer reports this node was removed from the cluster', { peer, removedAt });
    this.becomeRemoved(removedAt);
  }

  /** Stops taking part: no ticks, no traffic; requests answer PC_NODE_REMOVED. */
  private becomeRemoved(removedAt: number): void {
    if (this.removedAt > 0) return;
    this.removedAt = removedAt;
    this.log.warn('this node was removed from the placement cluster; it stops taking part', { removedAt });
    clearInterval(this.tickTimer);
    clearInterval(this.progressTimer);
    this.endFounding();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    this.failEverything(this.removedError());
    this.opts.onRemoved?.();
  }

  private removedError(): CodedError {
    return new CodedError('PC_NODE_REMOVED', `placement node ${this.id} was removed from the cluster at index ${this.removedAt}`, {
      details: { nodeId: this.id },
    });
  }

  get removed(): boolean {
    return this.removedAt > 0;
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
    return this.clientAddresses.get(id) ?? (this.state.memberAddress(id) || this.opts.peers.get(id) || '');
  }

  get isLeader(): boolean {
    return this.role === 'leader' && !this.closed && !this.fatal && this.removedAt === 0;
  }

  private checkUsable(): void {
    if (this.fatal) throw new CodedError('INTERNAL', `placement node failed: ${this.fatal.message}`);
    if (this.removedAt > 0) throw this.removedError();
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
    const cw = this.confWaiter;
    if (cw) {
      this.confWaiter = undefined;
      cw.reject(new CodedError('PC_PROPOSAL_DROPPED', `node ${this.id} lost leadership before the membership change was applied; its outcome is unknown, check status`));
    }
  }

  // ---------------------------------------------------------------- membership (leader only)

  /**
   * Proposes one membership change and resolves with its log index once the leader applied it
   * (0 when the member is already there as asked: nothing to do). Refusals: PC_NOT_LEADER,
   * PC_MEMBERSHIP_CHANGE_PENDING (another change not applied yet), PC_MEMBER_NOT_FOUND,
   * PC_MEMBERSHIP_CHANGE_INVALID, PC_LEARNER_NOT_CAUGHT_UP, PC_INVALID_ARGUMENT.
   */
  changeMembership(req: MembershipRequest, timeoutMs = this.opts.requestTimeoutMs ?? 5000): Promise<number> {
    this.checkUsable();
    if (this.role !== 'leader' || this.founding) throw this.notLeader();
    const id = req.nodeId;
    if (!Number.isSafeInteger(id) || id <= 0) throw new CodedError('PC_INVALID_ARGUMENT', `node_id must be a positive integer, got ${id}`);
    if (this.confWaiter) {
      const w = this.confWaiter;
      throw new CodedError('PC_MEMBERSHIP_CHANGE_PENDING', `a membership change (${w.cc.type} of node ${w.cc.nodeId}) is not applied yet; one change at a time`, {
        details: { nodeId: w.cc.nodeId },
      });
    }
    const st = this.raft.status();
    const isVoter = st.confState.voters.includes(id);
    const isLearner = st.confState.learners.includes(id);
    const recorded = this.state.memberAddress(id);
    const notMember = () => new CodedError('PC_MEMBER_NOT_FOUND', `node ${id} is not a member`, { details: { nodeId: id } });
    const invalid = (why: string) => new CodedError('PC_MEMBERSHIP_CHANGE_INVALID', why, { details: { nodeId: id } });
    let cc: ConfChange;
    switch (req.kind) {
      case 'add-learner':
      case 'add-voter': {
        const address = req.address ?? '';
        if (!ADDRESS.test(address)) throw new CodedError('PC_INVALID_ARGUMENT', `address must be host:port, got ${JSON.stringify(address)}`);
        const asLearner = req.kind === 'add-learner';
        if (isVoter || isLearner) {
          const known = id === this.id ? this.advertiseAddress : recorded || this.clientAddresses.get(id) || this.opts.peers.get(id) || '';
          const sameAddress = known === '' || known === address || this.opts.peers.get(id) === address;
          if (sameAddress && isLearner === asLearner) return Promise.resolve(0);
          if (!sameAddress) throw invalid(`node ${id} is already a member at ${known}; remove it first to move it`);
          throw invalid(isLearner ? `node ${id} is a learner; promote it instead` : `node ${id} is already a voter; demotion is not supported`);
        }
        cc = { type: asLearner ? 'add-learner' : 'add-voter', nodeId: id, context: encodeMemberContext(address) };
        break;
      }
      case 'promote': {
        if (isVoter) return Promise.resolve(0);
        if (!isLearner) throw notMember();
        const match = st.progress?.get(id)?.match ?? 0;
        const maxLag = this.opts.promoteMaxLag ?? 50;
        if (st.lastIndex - match > maxLag) {
          throw new CodedError(
            'PC_LEARNER_NOT_CAUGHT_UP',
            `learner ${id} has match index ${match}, the leader's last index is ${st.lastIndex}: more than ${maxLag} behind; retry once it has caught up`,
            { details: { nodeId: id, matchIndex: match, lastIndex: st.lastIndex, maxLag } },
          );
        }
        cc = { type: 'add-voter', nodeId: id };
        break;
      }
      case 'remove': {
        // Already removed (a retry of a change whose answer was lost): nothing to do.
        if (!isVoter && !isLearner && this.state.memberRemovedAt(id) > 0) return Promise.resolve(0);
        if (!isVoter && !isLearner) throw notMember();
        if (isVoter && st.confState.voters.length === 1) throw invalid(`node ${id} is the last voter; a cluster cannot remove it`);
        cc = { type: 'remove-node', nodeId: id };
        break;
      }
    }
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.confWaiter === w) this.confWaiter = undefined;
        reject(new CodedError('PC_TIMEOUT', `membership change not applied within ${timeoutMs} ms; outcome unknown, check status`));
      }, timeoutMs);
      const w: ConfWaiter = {
        cc,
        index: 0,
        term: 0,
        resolve: (index) => {
          clearTimeout(timer);
          resolve(index);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.confWaiter = w;
      this.kick();
    });
  }

  /** Appends the waiting conf change (inside the loop, like every proposal). */
  private proposeConfChange(): void {
    const w = this.confWaiter;
    if (!w || w.index !== 0) return;
    if (this.role !== 'leader') {
      this.confWaiter = undefined;
      w.reject(this.notLeader());
      return;
    }
    try {
      this.raft.proposeConfChange(w.cc);
    } catch (e: unknown) {
      this.confWaiter = undefined;
      if (isRaftError(e, 'RAFT_CONF_CHANGE_REJECTED')) {
        // What the checks above cannot see: a new leader's log tail may hold a change it has not
        // applied yet.
        w.reject(new CodedError('PC_MEMBERSHIP_CHANGE_PENDING', e.message, { details: { nodeId: w.cc.nodeId } }));
      } else if (isRaftError(e, 'RAFT_PROPOSAL_DROPPED')) w.reject(new CodedError('PC_PROPOSAL_DROPPED', e.message));
      else w.reject(new CodedError('INTERNAL', String(e)));
      return;
    }
    const st = this.raft.status();
    w.index = st.lastIndex;
    w.term = st.term;
    this.log.info('proposed a membership change', { type: w.cc.type, nodeId: w.cc.nodeId, index: w.index });
  }

  /**
   * Leader: records members' advertised addresses that the replicated state lacks (founding
   * members' conf changes carry none) or holds stale, as each member announces itself.
   */
  private recordMemberAddresses(): void {
    if (this.addressProposalPending) return;
    const cs = this.raft.confState();
    const updates: { $typeName: 'robustmq.placement.v1.MemberAddress'; nodeId: number; address: string }[] = [];
    for (const id of [...cs.voters, ...cs.learners]) {
      const advertised = id === this.id ? this.advertiseAddress : this.clientAddresses.get(id);
      if (advertised !== undefined && advertised !== '' && this.state.memberAddress(id) !== advertised) {
        updates.push({ $typeName: 'robustmq.placement.v1.MemberAddress', nodeId: id, address: advertised });
      }
    }
    if (updates.length === 0) return;
    this.addressProposalPending = true;
    const cmd = makeCommand({ op: { case: 'setMemberAddresses', value: { members: updates } } });
    this.propose(cmd)
      .catch(() => undefined)
      .finally(() => {
        this.addressProposalPending = false;
      });
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

  /** Asks the leader (through this node) to hand over to voter `to`; see also leaderId. */
  transferLeader(to: NodeId): void {
    this.checkUsable();
    if (!Number.isSafeInteger(to) || to <= 0) throw new CodedError('PC_INVALID_ARGUMENT', `node id must be a positive integer, got ${to}`);
    const cs = this.raft.confState();
    if (cs.learners.includes(to)) throw new CodedError('PC_MEMBERSHIP_CHANGE_INVALID', `node ${to} is a learner; promote it before it can lead`);
    if (!cs.voters.includes(to)) throw new CodedError('PC_MEMBER_NOT_FOUND', `node ${to} is not a voting member (voters: ${cs.voters.join(', ')})`, { details: { nodeId: to } });
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
      removed: this.removedAt > 0,
    };
  }

  /** The id of the leader this node knows, 0 for none. */
  get leaderId(): NodeId {
    return this.founding ? 0 : this.raft.leaderId;
  }

  /** Ticks in an election timeout times the tick length: the unit of the waits around leadership. */
  get electionTimeoutMs(): number {
    return (this.opts.electionTick ?? 10) * (this.opts.tickMs ?? 100);
  }

  private failEverything(err: CodedError): void {
    this.dropProposals();
    for (const { waiter } of this.confApplied.splice(0)) waiter.reject(err);
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
    this.endFounding();
    for (const p of this.peers.values()) p.close();
    if (this.looping) await new Promise<void>((r) => this.stopWaiters.push(r));
    this.failEverything(new CodedError('PC_UNREACHABLE', `placement node ${this.id} stopped`));
    await this.storage.close();
  }
}
