/**
 * A pure, deterministic Raft state machine in the style of etcd's RawNode.
 *
 * The node never touches a clock, a socket, a disk or Math.random: time advances only through
 * tick(), input arrives only through step() and the propose/read/transfer calls, randomness comes
 * from the injected Rng, and everything the outside world must do is returned by ready():
 *
 *   while (node.hasReady()) {
 *     const rd = node.ready();
 *     persist(rd.snapshot, rd.entries, rd.hardState, { fsync: rd.mustSync }); // storage.append etc.
 *     apply(rd.snapshot, rd.committedEntries);
 *     send(rd.messages);               // only after persist: persist-before-send
 *     node.advance(rd);
 *   }
 *
 * Persist-before-send is what makes a vote or an append acknowledgement a durable promise: a
 * node that crashes and restarts from its storage never contradicts a message it already sent.
 * The leader counts its own log towards a commit only after advance() reports it persisted.
 *
 * Membership changes are applied one at a time when the driver reports them applied (advance),
 * and a leader accepts a new change only when the previous one is applied.
 */
import { decodeConfChange, encodeConfChange, validateNodeId } from './conf-change.js';
import { RaftError, isRaftError } from './errors.js';
import { RaftLog } from './raft-log.js';
import { Progress } from './progress.js';
import { ReadOnlyQueue, type ReadRequest } from './read-only.js';
import type { Rng } from './rng.js';
import type { RaftLogStorage } from './storage.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MsgApp,
  MsgAppResp,
  MsgHeartbeat,
  MsgSnap,
  MsgVote,
  NodeId,
  RaftRole,
  ReadState,
  Ready,
  Snapshot,
  SoftState,
} from './types.js';
import { NONE } from './types.js';

export interface RaftNodeConfig {
  readonly id: NodeId;
  /**
   * Voting members used to bootstrap a brand-new cluster when storage is empty (every founding
   * member must be given the same list). Ignored once storage holds state. A node that joins an
   * existing cluster passes none and learns the membership from the leader.
   */
  readonly voters?: readonly NodeId[];
  /** Alias of `voters`. */
  readonly peers?: readonly NodeId[];
  /** Founding learners, like `voters`. */
  readonly learners?: readonly NodeId[];
  /** Ticks without hearing from a leader before campaigning (randomized in [e, 2e)). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats; must be less than electionTick. */
  readonly heartbeatTick: number;
  /** Leader steps down when it has not heard from a quorum for an election timeout. */
  readonly checkQuorum?: boolean;
  /** Campaign in two phases so a partitioned node cannot disrupt the cluster by inflating terms. */
  readonly preVote?: boolean;
  readonly storage: RaftLogStorage;
  readonly rng: Rng;
  /** Last index already applied to the state machine (restart); defaults to the snapshot index. */
  readonly applied?: number;
  /** Upper bound of entry bytes in one append message. */
  readonly maxSizePerMsg?: number;
  /** Appends in flight per follower in replicate state. */
  readonly maxInflightMsgs?: number;
  /** Upper bound of entry bytes in one Ready's committedEntries. */
  readonly maxCommittedSizePerReady?: number;
  /** Refuse proposals on followers instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
}

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: Progress['state'];
  readonly isLearner: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly lead: NodeId;
  readonly role: RaftRole;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
  /** Followers' progress, on the leader only. */
  readonly progress?: ReadonlyMap<NodeId, ProgressStatus>;
}

export type SnapshotReport = 'finish' | 'failure';

const EMPTY = new Uint8Array(0);

export class RaftNode {
  readonly id: NodeId;
  private term = 0;
  private vote: NodeId = NONE;
  private lead: NodeId = NONE;
  private role: RaftRole = 'follower';
  private readonly log: RaftLog;
  private readonly prs = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId = NONE;
  /** Index of the last conf change appended by this leader; a new one waits until it is applied. */
  private pendingConfIndex = 0;
  /** Conf changes up to this index are already reflected in `prs` (bootstrap applies them early). */
  private confApplied = 0;
  private readonly readOnly = new ReadOnlyQueue();
  /** Read requests received before this leader committed an entry of its own term. */
  private pendingReadIndex: { from: NodeId; context: Uint8Array }[] = [];
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevSoftState: SoftState = { lead: NONE, role: 'follower' };
  private prevHardState: HardState;
  private outstanding: Ready | undefined;

  private readonly electionTimeout: number;
  private readonly heartbeatTimeout: number;
  private readonly checkQuorum: boolean;
  private readonly preVote: boolean;
  private readonly rng: Rng;
  private readonly maxSizePerMsg: number;
  private readonly maxInflight: number;
  private readonly disableForwarding: boolean;

  constructor(cfg: RaftNodeConfig) {
    validateNodeId(cfg.id);
    if (!Number.isInteger(cfg.heartbeatTick) || cfg.heartbeatTick <= 0) {
      throw new RaftError('RAFT_INVALID_CONFIG', `heartbeatTick must be a positive integer, got ${cfg.heartbeatTick}`);
    }
    if (!Number.isInteger(cfg.electionTick) || cfg.electionTick <= cfg.heartbeatTick) {
      throw new RaftError('RAFT_INVALID_CONFIG', `electionTick (${cfg.electionTick}) must be an integer greater than heartbeatTick`);
    }
    if (cfg.voters && cfg.peers) throw new RaftError('RAFT_INVALID_CONFIG', 'give voters or peers, not both');
    this.id = cfg.id;
    this.electionTimeout = cfg.electionTick;
    this.heartbeatTimeout = cfg.heartbeatTick;
    this.checkQuorum = cfg.checkQuorum ?? false;
    this.preVote = cfg.preVote ?? false;
    this.rng = cfg.rng;
    this.maxSizePerMsg = cfg.maxSizePerMsg ?? 1024 * 1024;
    this.maxInflight = cfg.maxInflightMsgs ?? 256;
    this.disableForwarding = cfg.disableProposalForwarding ?? false;
    this.log = new RaftLog(cfg.storage, cfg.maxCommittedSizePerReady);

    const { hardState, confState } = cfg.storage.initialState();
    this.prevHardState = hardState;
    const founders = cfg.voters ?? cfg.peers ?? [];
    const founderLearners = cfg.learners ?? [];
    const storageEmpty =
      hardState.term === 0 && cfg.storage.lastIndex() === 0 && cfg.storage.snapshot().metadata.index === 0;

    if (confState.voters.length > 0 || confState.learners.length > 0) {
      this.setConfState(confState);
    }
    if (hardState.commit < this.log.committed || hardState.commit > this.log.lastIndex()) {
      throw new RaftError(
        'RAFT_CORRUPT',
        `hard state commit ${hardState.commit} outside [${this.log.committed}, ${this.log.lastIndex()}]`,
      );
    }
    this.log.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;

    if (storageEmpty && (founders.length > 0 || founderLearners.length > 0)) {
      this.bootstrap(founders, founderLearners);
    }

    const snapIndex = this.log.firstIndex() - 1;
    const applied = cfg.applied ?? snapIndex;
    if (!Number.isInteger(applied) || applied < snapIndex || applied > this.log.committed) {
      throw new RaftError('RAFT_INVALID_CONFIG', `applied ${applied} outside [${snapIndex}, ${this.log.committed}]`);
    }
    // Membership changes between the snapshot and `applied` were applied before the restart.
    if (applied > snapIndex) {
      for (const e of this.log.slice(snapIndex + 1, applied + 1)) {
        if (e.type === 'conf-change') this.applyConfChange(decodeConfChange(e.data));
      }
    }
    this.log.applied = applied;
    this.confApplied = Math.max(this.confApplied, applied);
    this.becomeFollower(this.term, NONE);
  }

  /**
   * A new cluster starts with one committed conf-change entry per founding member at term 1, so
   * a node that joins later rebuilds the same membership by replaying the log (as etcd does).
   */
  private bootstrap(voters: readonly NodeId[], learners: readonly NodeId[]): void {
    const changes: ConfChange[] = [
      ...[...new Set(voters)].map((nodeId): ConfChange => ({ type: 'add-voter', nodeId })),
      ...[...new Set(learners)].map((nodeId): ConfChange => ({ type: 'add-learner', nodeId })),
    ];
    for (const cc of changes) validateNodeId(cc.nodeId);
    const ents: Entry[] = changes.map((cc, i) => ({ term: 1, index: i + 1, type: 'conf-change', data: encodeConfChange(cc) }));
    this.log.append(ents);
    this.log.committed = ents.length;
    this.term = 1;
    for (const cc of changes) this.applyConfChange(cc);
    this.confApplied = ents.length;
  }

  // ---------------------------------------------------------------- public API

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  step(m: Message): void {
    if (m.to !== this.id) {
      throw new RaftError('RAFT_MISUSE', `message ${m.type} for node ${m.to} stepped into node ${this.id}`);
    }
    this.stepInternal(m);
  }

  propose(data: Uint8Array): void {
    this.proposeLocal({ type: 'normal', data });
  }

  proposeConfChange(cc: ConfChange): void {
    validateNodeId(cc.nodeId);
    this.proposeLocal({ type: 'conf-change', data: encodeConfChange(cc) });
  }

  /**
   * Requests a linearizable read point. The answer arrives later as a ReadState carrying `ctx`
   * (which must be unique among in-flight reads); the caller then waits until its applied index
   * reaches ReadState.index and reads its state machine.
   */
  readIndex(ctx: Uint8Array): void {
    if (this.role === 'leader') {
      this.handleReadIndex(this.id, ctx);
      return;
    }
    if (this.lead === NONE) throw new RaftError('RAFT_READ_INDEX_DROPPED', `node ${this.id} knows no leader at term ${this.term}`);
    this.send({ type: 'MsgReadIndex', from: this.id, to: this.lead, term: 0, context: ctx });
  }

  /** Asks the leader (this node or, through forwarding, the known leader) to hand over to `to`. */
  transferLeadership(to: NodeId): void {
    validateNodeId(to);
    if (this.role === 'leader') {
      this.handleTransferLeader(to);
      return;
    }
    if (this.lead === NONE) throw new RaftError('RAFT_PROPOSAL_DROPPED', `node ${this.id} knows no leader to transfer from`);
    this.send({ type: 'MsgTransferLeader', from: this.id, to: this.lead, term: this.term, transferee: to });
  }

  /** The transport reports the outcome of sending a snapshot (etcd's ReportSnapshot). */
  reportSnapshot(to: NodeId, status: SnapshotReport): void {
    const pr = this.prs.get(to);
    if (this.role !== 'leader' || !pr || pr.state !== 'snapshot') return;
    if (status === 'failure') pr.pendingSnapshot = 0;
    pr.becomeProbe();
    // Wait for a heartbeat response before probing again.
    pr.probeSent = true;
  }

  /** The transport could not reach `to`; stop pipelining to it. */
  reportUnreachable(to: NodeId): void {
    const pr = this.prs.get(to);
    if (this.role === 'leader' && pr && pr.state === 'replicate') pr.becomeProbe();
  }

  /** Makes this node campaign now (tests and operator tooling). */
  campaign(): void {
    this.hup(false);
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    if (this.msgs.length > 0 || this.readStates.length > 0) return true;
    if (this.log.unstableEntries().length > 0 || this.log.hasPendingSnapshot()) return true;
    if (this.log.hasNextCommittedEnts()) return true;
    const ss = this.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role) return true;
    return !sameHardState(this.hardState(), this.prevHardState);
  }

  ready(): Ready {
    if (this.outstanding) throw new RaftError('RAFT_MISUSE', 'ready() called again before advance()');
    const ss = this.softState();
    const hs = this.hardState();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.role !== this.prevSoftState.role;
    const hardChanged = !sameHardState(hs, this.prevHardState);
    const entries = this.log.unstableEntries();
    const snapshot = this.log.unstable.snapshot;
    const rd: Ready = {
      ...(softChanged ? { softState: ss } : {}),
      ...(hardChanged ? { hardState: hs } : {}),
      entries,
      ...(snapshot ? { snapshot } : {}),
      committedEntries: this.log.nextCommittedEnts(),
      messages: this.msgs,
      readStates: this.readStates,
      mustSync:
        entries.length > 0 ||
        snapshot !== undefined ||
        hs.term !== this.prevHardState.term ||
        hs.vote !== this.prevHardState.vote,
    };
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    this.msgs = [];
    this.readStates = [];
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready): void {
    if (this.outstanding === undefined) throw new RaftError('RAFT_MISUSE', 'advance() without a preceding ready()');
    if (this.outstanding !== rd) throw new RaftError('RAFT_MISUSE', 'advance() with a Ready that is not the last one returned');
    this.outstanding = undefined;
    if (rd.snapshot) {
      const idx = rd.snapshot.metadata.index;
      this.log.stableSnapTo(idx);
      if (idx > this.log.applied) this.log.applied = idx;
    }
    for (const e of rd.committedEntries) {
      if (e.type === 'conf-change' && e.index > this.confApplied) {
        this.applyConfChange(decodeConfChange(e.data));
        this.confApplied = e.index;
      }
    }
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) this.log.appliedTo(lastCommitted.index);
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) {
      this.log.stableTo(lastEntry.index, lastEntry.term);
      // The leader's own log counts towards a quorum only once it is durable.
      const self = this.prs.get(this.id);
      if (this.role === 'leader' && self && this.log.term(lastEntry.index) === lastEntry.term) {
        if (self.maybeUpdate(lastEntry.index) && this.maybeCommit()) this.onCommitAdvanced();
      }
    }
  }

  /** Records a snapshot of the state machine as of the applied index, with the matching membership. */
  createSnapshot(data: Uint8Array): Snapshot {
    return this.log.storage.createSnapshot(this.log.applied, this.confState(), data);
  }

  /** Discards log entries up to and including `index` (which a snapshot must already cover). */
  compact(index: number): void {
    if (index > this.log.applied) {
      throw new RaftError('RAFT_MISUSE', `compact(${index}) beyond applied index ${this.log.applied}`);
    }
    this.log.storage.compact(index);
  }

  /** Cheap accessors for hot loops (status() allocates). */
  get currentTerm(): number {
    return this.term;
  }

  get currentRole(): RaftRole {
    return this.role;
  }

  get leaderId(): NodeId {
    return this.lead;
  }

  get appliedIndex(): number {
    return this.log.applied;
  }

  get commitIndex(): number {
    return this.log.committed;
  }

  status(): RaftStatus {
    let progress: Map<NodeId, ProgressStatus> | undefined;
    if (this.role === 'leader') {
      progress = new Map();
      for (const [id, pr] of this.prs) {
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state, isLearner: pr.isLearner });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      lead: this.lead,
      role: this.role,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      confState: this.confState(),
      leadTransferee: this.leadTransferee,
      ...(progress ? { progress } : {}),
    };
  }

  confState(): ConfState {
    const voters: NodeId[] = [];
    const learners: NodeId[] = [];
    for (const [id, pr] of this.prs) (pr.isLearner ? learners : voters).push(id);
    return { voters: voters.sort((a, b) => a - b), learners: learners.sort((a, b) => a - b) };
  }

  /** Term of log entry i, or undefined if compacted or beyond the log. */
  termAt(i: number): number | undefined {
    return this.log.term(i);
  }

  /** Log entries in [lo, hi) (tests and debugging); throws RAFT_COMPACTED below the first index. */
  entries(lo: number, hi: number): Entry[] {
    return this.log.slice(lo, hi);
  }

  // ---------------------------------------------------------------- state transitions

  private softState(): SoftState {
    return { lead: this.lead, role: this.role };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTimeout + this.rng.nextInt(this.electionTimeout);
    this.leadTransferee = NONE;
    this.votes.clear();
    const last = this.log.lastIndex();
    for (const [id, pr] of this.prs) {
      const fresh = new Progress(id, last + 1, pr.isLearner, this.maxInflight);
      if (id === this.id) {
        // Only what storage already holds is known durable; later entries count after advance().
        fresh.match = this.log.hasPendingSnapshot() ? 0 : this.log.unstable.offset - 1;
        fresh.recentActive = true;
      }
      this.prs.set(id, fresh);
    }
    this.pendingConfIndex = 0;
    this.readOnly.clear();
    this.pendingReadIndex = [];
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new RaftError('RAFT_MISUSE', 'leader cannot become pre-candidate');
    // A pre-vote changes neither term nor vote: it only asks whether an election could win.
    this.votes.clear();
    this.lead = NONE;
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new RaftError('RAFT_MISUSE', 'leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new RaftError('RAFT_MISUSE', 'follower cannot become leader directly');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    this.prs.get(this.id)?.becomeReplicate();
    // Any conf change in the uncommitted tail may be pending; refuse new ones until it applies.
    this.pendingConfIndex = this.log.lastIndex();
    // An entry of the new term: committing it commits everything before (paper, section 5.4.2).
    this.appendEntries([{ type: 'normal', data: EMPTY }]);
  }

  private promotable(): boolean {
    const pr = this.prs.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.log.hasPendingSnapshot();
  }

  private hasUnappliedConfChanges(): boolean {
    const done = Math.max(this.log.applied, this.confApplied);
    if (this.log.committed <= done) return false;
    const lo = Math.max(done + 1, this.log.firstIndex());
    if (lo > this.log.committed) return false;
    return this.log.slice(lo, this.log.committed + 1).some((e) => e.type === 'conf-change');
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.promotable()) return;
    // The membership may be about to change; campaigning under a stale one is unsafe.
    if (this.hasUnappliedConfChanges()) return;
    if (this.preVote && !transfer) this.startCampaign('pre-vote', false);
    else this.startCampaign('election', transfer);
  }

  private startCampaign(kind: 'pre-vote' | 'election', transfer: boolean): void {
    let term: number;
    let type: MsgVote['type'];
    if (kind === 'pre-vote') {
      this.becomePreCandidate();
      term = this.term + 1;
      type = 'MsgPreVote';
    } else {
      this.becomeCandidate();
      term = this.term;
      type = 'MsgVote';
    }
    const result = this.poll(this.id, true);
    if (result === 'won') {
      // Single-voter cluster.
      if (kind === 'pre-vote') this.startCampaign('election', transfer);
      else this.becomeLeader();
      return;
    }
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const [id, pr] of this.prs) {
      if (id === this.id || pr.isLearner) continue;
      this.send({ type, from: this.id, to: id, term, index, logTerm, transfer });
    }
  }

  private poll(id: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(id)) this.votes.set(id, granted);
    let yes = 0;
    let no = 0;
    let voters = 0;
    for (const [vid, pr] of this.prs) {
      if (pr.isLearner) continue;
      voters++;
      const v = this.votes.get(vid);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    const q = quorum(voters);
    if (yes >= q) return 'won';
    if (voters - no < q) return 'lost';
    return 'pending';
  }

  // ---------------------------------------------------------------- ticks

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastPendingContext() ?? EMPTY);
    }
  }

  private quorumActive(): boolean {
    let voters = 0;
    let active = 0;
    for (const [id, pr] of this.prs) {
      if (pr.isLearner) continue;
      voters++;
      if (id === this.id || pr.recentActive) active++;
    }
    return active >= quorum(voters);
  }

  // ---------------------------------------------------------------- message handling

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private stepInternal(m: Message): void {
    if (m.term === 0) {
      if (m.type !== 'MsgProp' && m.type !== 'MsgReadIndex') return; // malformed: only these carry no term
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        // Leader lease: a node that heard from a live leader recently ignores disruptive campaigns.
        if (!m.transfer && inLease) return;
      }
      if (m.type === 'MsgPreVote') {
        // Answer without adopting the term: a pre-vote is only a question.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // The term in a granted pre-vote is the one we will campaign at; not ours yet.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
        this.becomeFollower(m.term, m.from);
      } else if (m.type === 'MsgVote' && this.role !== 'leader') {
        // Paper, Figure 2: the election timer restarts on contact with the leader or on granting
        // a vote, not on merely seeing a higher term. Otherwise a node with a stale log that
        // keeps campaigning (without pre-vote) keeps resetting everyone's timer and no one else
        // ever stands for election.
        const elapsed = this.electionElapsed;
        this.becomeFollower(m.term, NONE);
        this.electionElapsed = elapsed;
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')) {
        // A stale leader cut off by a partition learns our term and steps down; without this it
        // would never hear a higher term because pre-vote keeps terms from growing.
        this.send(appResp(this.id, m.from, this.term, 0, false, 0, 0));
      } else if (m.type === 'MsgPreVote') {
        this.send({ type: 'MsgPreVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private handleVote(m: MsgVote): void {
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'MsgProp':
        this.leaderPropose(m.entries.map((e) => ({ type: e.type, data: e.data })), false);
        return;
      case 'MsgReadIndex':
        this.handleReadIndex(m.from, m.context);
        return;
      case 'MsgTransferLeader':
        this.handleTransferLeader(m.transferee);
        return;
      case 'MsgAppResp':
        this.handleAppResp(m);
        return;
      case 'MsgHeartbeatResp': {
        const pr = this.prs.get(m.from);
        if (!pr) return;
        pr.recentActive = true;
        pr.resume();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
        if (m.context.byteLength === 0) return;
        const acks = this.readOnly.recvAck(m.from, m.context);
        if (!acks || !this.hasQuorum(acks)) return;
        for (const req of this.readOnly.advance(m.context)) this.respondRead(req.from, req.index, req.context);
        return;
      }
      default:
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'MsgVoteResp':
      case 'MsgPreVoteResp': {
        const expected = this.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
        if (m.type !== expected) return;
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === 'pre-candidate') {
            this.startCampaign('election', false);
          } else {
            this.becomeLeader();
            this.bcastAppend();
          }
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        // Proposals and reads are dropped while no leader is known.
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgProp':
        if (this.lead === NONE || this.disableForwarding) return;
        this.send({ type: 'MsgProp', from: this.id, to: this.lead, term: 0, entries: m.entries });
        return;
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'MsgTransferLeader':
        if (this.lead === NONE) return;
        this.send({ ...m, from: this.id, to: this.lead, term: this.term });
        return;
      case 'MsgTimeoutNow':
        // The leader asked us to take over: campaign now, skipping pre-vote and the lease check.
        this.hup(true);
        return;
      case 'MsgReadIndex':
        if (this.lead === NONE) return;
        this.send({ type: 'MsgReadIndex', from: m.from, to: this.lead, term: 0, context: m.context });
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- proposals

  private proposeLocal(e: { type: EntryType; data: Uint8Array }): void {
    if (this.role === 'leader') {
      this.leaderPropose([e], true);
      return;
    }
    if (this.role !== 'follower' || this.lead === NONE) {
      throw new RaftError('RAFT_PROPOSAL_DROPPED', `node ${this.id} knows no leader at term ${this.term}`);
    }
    if (this.disableForwarding) {
      throw new RaftError('RAFT_PROPOSAL_DROPPED', `node ${this.id} is not the leader (leader is ${this.lead})`);
    }
    const entry: Entry = { term: 0, index: 0, type: e.type, data: e.data };
    this.send({ type: 'MsgProp', from: this.id, to: this.lead, term: 0, entries: [entry] });
  }

  /** Appends proposals on the leader; local callers get a typed error, forwarded ones are dropped. */
  private leaderPropose(ents: { type: EntryType; data: Uint8Array }[], local: boolean): void {
    const fail = (code: 'RAFT_PROPOSAL_DROPPED' | 'RAFT_CONF_CHANGE_REJECTED', why: string): void => {
      if (local) throw new RaftError(code, why);
    };
    if (ents.length === 0) return;
    if (!this.prs.has(this.id)) return fail('RAFT_PROPOSAL_DROPPED', `leader ${this.id} was removed from the cluster`);
    if (this.leadTransferee !== NONE) {
      return fail('RAFT_PROPOSAL_DROPPED', `leader ${this.id} is transferring leadership to ${this.leadTransferee}`);
    }
    const accepted: { type: EntryType; data: Uint8Array }[] = [];
    for (const e of ents) {
      if (e.type === 'conf-change') {
        let reason: string | undefined;
        if (this.pendingConfIndex > this.log.applied) {
          reason = `conf change at index ${this.pendingConfIndex} is not applied yet (applied ${this.log.applied})`;
        } else {
          let cc: ConfChange | undefined;
          try {
            cc = decodeConfChange(e.data);
          } catch (err: unknown) {
            if (!isRaftError(err)) throw err;
            reason = err.message;
          }
          if (cc) reason = this.confChangeProblem(cc);
        }
        if (reason !== undefined) {
          if (local) throw new RaftError('RAFT_CONF_CHANGE_REJECTED', reason);
          continue;
        }
        this.pendingConfIndex = this.log.lastIndex() + accepted.length + 1;
      }
      accepted.push(e);
    }
    if (accepted.length === 0) return;
    this.appendEntries(accepted);
    this.bcastAppend();
  }

  private appendEntries(ents: { type: EntryType; data: Uint8Array }[]): void {
    const last = this.log.lastIndex();
    const full: Entry[] = ents.map((e, i) => ({ term: this.term, index: last + 1 + i, type: e.type, data: e.data }));
    this.log.append(full);
  }

  // ---------------------------------------------------------------- replication (leader side)

  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const last = this.log.lastIndex();
    if (pr.next > last + 1) pr.next = last + 1;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    try {
      ents = this.log.entriesFrom(pr.next, this.maxSizePerMsg);
    } catch (err: unknown) {
      if (!isRaftError(err, 'RAFT_COMPACTED')) throw err;
    }
    if (prevTerm === undefined || ents === undefined) return this.sendSnapshot(to, pr);
    if (ents.length === 0 && !sendIfEmpty) return false;
    const msg: MsgApp = {
      type: 'MsgApp',
      from: this.id,
      to,
      term: this.term,
      index: prevIndex,
      logTerm: prevTerm,
      entries: ents,
      commit: this.log.committed,
    };
    this.send(msg);
    if (ents.length > 0) pr.sentEntries(ents[ents.length - 1]!.index);
    else if (pr.state === 'probe') pr.probeSent = true;
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // A snapshot is expensive; only send it to a follower known to be alive.
    if (!pr.recentActive) return false;
    const snapshot = this.log.snapshot();
    if (snapshot.metadata.index === 0) {
      throw new RaftError('RAFT_CORRUPT', `log compacted but storage holds no snapshot (node ${this.id})`);
    }
    this.send({ type: 'MsgSnap', from: this.id, to, term: this.term, snapshot });
    pr.becomeSnapshot(snapshot.metadata.index);
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(ctx: Uint8Array): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      // Never tell a follower to commit beyond what it is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'MsgHeartbeat', from: this.id, to: id, term: this.term, commit, context: ctx });
    }
  }

  private maybeCommit(): boolean {
    const matches: number[] = [];
    for (const pr of this.prs.values()) if (!pr.isLearner) matches.push(pr.match);
    if (matches.length === 0) return false;
    matches.sort((a, b) => b - a);
    const mci = matches[quorum(matches.length) - 1]!;
    return this.log.maybeCommit(mci, this.term);
  }

  private onCommitAdvanced(): void {
    this.bcastAppend();
    if (this.pendingReadIndex.length > 0 && this.committedEntryInCurrentTerm()) {
      const pending = this.pendingReadIndex;
      this.pendingReadIndex = [];
      for (const p of pending) this.handleReadIndex(p.from, p.context);
    }
  }

  private handleAppResp(m: MsgAppResp): void {
    const pr = this.prs.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm)[0];
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.freeInflightsTo(m.index);
    }
    if (this.maybeCommit()) this.onCommitAdvanced();
    else if (oldPaused) this.sendAppend(m.from, true);
    while (this.sendAppend(m.from, false)) {
      // Pipeline appends until the window is full or the follower is caught up.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  // ---------------------------------------------------------------- replication (follower side)

  private handleAppend(m: MsgApp): void {
    if (m.index < this.log.committed) {
      this.send(appResp(this.id, m.from, this.term, this.log.committed, false, 0, 0));
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send(appResp(this.id, m.from, this.term, lastNew, false, 0, 0));
      return;
    }
    const [hintIndex, hintTerm] = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(appResp(this.id, m.from, this.term, m.index, true, hintIndex, hintTerm));
  }

  private handleHeartbeat(m: MsgHeartbeat): void {
    this.log.commitTo(m.commit);
    this.send({ type: 'MsgHeartbeatResp', from: this.id, to: m.from, term: this.term, context: m.context });
  }

  private handleSnapshot(m: MsgSnap): void {
    const restored = this.restore(m.snapshot);
    const index = restored ? this.log.lastIndex() : this.log.committed;
    this.send(appResp(this.id, m.from, this.term, index, false, 0, 0));
  }

  private restore(s: Snapshot): boolean {
    const { index, term, confState } = s.metadata;
    if (index <= this.log.committed) return false;
    // A snapshot taken before this node was added does not list it; restoring it anyway is safe
    // (the node is simply not promotable until it applies its own addition from the log), and
    // refusing it would stall a joining node until the leader happens to take a newer snapshot.
    if (this.log.matchTerm(index, term)) {
      // We already hold the snapshot's last entry; just learn that it is committed.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(s);
    this.setConfState(confState);
    this.confApplied = index;
    return true;
  }

  // ---------------------------------------------------------------- membership

  private setConfState(cs: ConfState): void {
    this.prs.clear();
    const next = this.log.lastIndex() + 1;
    for (const id of cs.voters) this.prs.set(id, new Progress(id, next, false, this.maxInflight));
    for (const id of cs.learners) this.prs.set(id, new Progress(id, next, true, this.maxInflight));
  }

  /** Why `cc` cannot apply to the current membership, or undefined when it can. */
  private confChangeProblem(cc: ConfChange): string | undefined {
    const pr = this.prs.get(cc.nodeId);
    switch (cc.type) {
      case 'add-voter':
        return pr && !pr.isLearner ? `node ${cc.nodeId} is already a voter` : undefined;
      case 'add-learner':
        if (pr && !pr.isLearner) return `node ${cc.nodeId} is a voter; demotion is not supported`;
        return pr ? `node ${cc.nodeId} is already a learner` : undefined;
      case 'remove-node': {
        if (!pr) return `node ${cc.nodeId} is not a member`;
        let voters = 0;
        for (const p of this.prs.values()) if (!p.isLearner) voters++;
        return !pr.isLearner && voters === 1 ? `cannot remove the last voter ${cc.nodeId}` : undefined;
      }
    }
  }

  /**
   * Applies a committed membership change. Every node applies the same log in the same order,
   * so a change that became invalid (a concurrent duplicate) is skipped identically everywhere.
   */
  private applyConfChange(cc: ConfChange): void {
    if (this.confChangeProblem(cc) !== undefined) return;
    const next = this.log.lastIndex() + 1;
    switch (cc.type) {
      case 'add-voter': {
        const pr = this.prs.get(cc.nodeId);
        if (pr) pr.isLearner = false;
        else this.addProgress(cc.nodeId, next, false);
        break;
      }
      case 'add-learner':
        this.addProgress(cc.nodeId, next, true);
        break;
      case 'remove-node':
        this.prs.delete(cc.nodeId);
        break;
    }
    if (this.role !== 'leader') return;
    const self = this.prs.get(this.id);
    if (!self || self.isLearner) {
      // A leader no longer in the voting membership steps down; the rest elect a new leader.
      this.becomeFollower(this.term, NONE);
      return;
    }
    if (this.leadTransferee !== NONE && !this.prs.has(this.leadTransferee)) this.leadTransferee = NONE;
    // The quorum may have shrunk; a new member is probed right away.
    if (this.maybeCommit()) this.onCommitAdvanced();
    if (cc.type !== 'remove-node' && cc.nodeId !== this.id) this.sendAppend(cc.nodeId, true);
  }

  private addProgress(id: NodeId, next: number, isLearner: boolean): void {
    const pr = new Progress(id, next, isLearner, this.maxInflight);
    // A new member gets one election timeout of grace before check-quorum counts it as silent.
    pr.recentActive = true;
    if (id === this.id) pr.match = this.log.unstable.offset - 1;
    this.prs.set(id, pr);
  }

  // ---------------------------------------------------------------- leader transfer

  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.prs.get(transferee);
    if (!pr || pr.isLearner) return;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) return;
      this.leadTransferee = NONE;
    }
    if (transferee === this.id) return;
    this.leadTransferee = transferee;
    // The transfer must finish within one election timeout or it is abandoned.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(transferee);
    else this.sendAppend(transferee, true);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'MsgTimeoutNow', from: this.id, to, term: this.term });
  }

  // ---------------------------------------------------------------- linearizable reads

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private handleReadIndex(from: NodeId, ctx: Uint8Array): void {
    let voters = 0;
    for (const pr of this.prs.values()) if (!pr.isLearner) voters++;
    if (voters === 1 && this.prs.get(this.id)?.isLearner === false) {
      this.respondRead(from, this.log.committed, ctx);
      return;
    }
    // Until the leader commits an entry of its term, its commit index may lag the cluster's.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndex.push({ from, context: ctx });
      return;
    }
    const req: ReadRequest = { from, context: ctx, index: this.log.committed };
    this.readOnly.add(req, this.id);
    this.bcastHeartbeat(ctx);
  }

  private respondRead(from: NodeId, index: number, ctx: Uint8Array): void {
    if (from === this.id || from === NONE) {
      this.readStates.push({ index, context: ctx });
    } else {
      this.send({ type: 'MsgReadIndexResp', from: this.id, to: from, term: this.term, index, context: ctx });
    }
  }

  private hasQuorum(acks: ReadonlySet<NodeId>): boolean {
    let voters = 0;
    let yes = 0;
    for (const [id, pr] of this.prs) {
      if (pr.isLearner) continue;
      voters++;
      if (acks.has(id)) yes++;
    }
    return yes >= quorum(voters);
  }
}

function quorum(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function appResp(
  from: NodeId,
  to: NodeId,
  term: number,
  index: number,
  reject: boolean,
  rejectHint: number,
  logTerm: number,
): MsgAppResp {
  return { type: 'MsgAppResp', from, to, term, index, reject, rejectHint, logTerm };
}

