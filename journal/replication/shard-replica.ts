// One shard's copy on this node, in one of three roles:
// - leader of an epoch: appends writes, serves follower fetches, keeps the high watermark (HW)
//   and the in-sync set (ISR), answers writes once their acks hold;
// - follower of a leader and epoch: fetches from it, truncates where its log diverges (by leader
//   epoch, Kafka KIP-279), appends what it gets;
// - idle: no usable leader (fenced by an election, or no leader in the metadata).
//
// Safety rules (why no acknowledged acks=quorum/all record is lost across a failover):
// - The HW is the offset a majority of replicas hold, counting a follower only once it has
//   adopted the leader's current epoch (its fetch says last_fetched_epoch = the leader's epoch).
//   This is Raft's "commit only by counting replicas in the current term": a follower that adopted
//   epoch E carries the claim (E, its log end) into any election, so no log from an earlier epoch
//   can beat it.
// - Elections (election.ts) fence a majority first, then choose the most complete log among it.
// - Every state change of a replica (role switch, follower append, truncation, fence) runs through
//   one serial queue, so a fence never interleaves with an append from the old leader.

import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { Acks, JournalReplication, type FetchReply, type FetchRequest, type Record as WireRecord } from '../../proto/gen/journal_pb.js';
import { isJournalStorageError, type AppendRecord, type ShardLog, type StoredRecord } from '../storage/index.js';
import type { JournalConnection } from '../client/connection.js';
import type { EpochHistory } from './epoch-history.js';
import { quorumOf, type ShardChange, type ShardMeta } from './metadata-store.js';
import type { ReplicationTiming } from './timing.js';

export type Role = 'leader' | 'follower' | 'idle';

/** What a replica needs from its node. */
export interface ReplicaHost {
  readonly nodeId: number;
  readonly timing: ReplicationTiming;
  readonly log: Logger;
  /** Connection to a node's journal gRPC server, or null when its address is unknown. */
  peer(nodeId: number): JournalConnection | null;
  addrOf(nodeId: number): string;
  /** Compare-and-set of the shard's leader/epoch/ISR in the metadata store. */
  updateShard(name: string, expectedVersion: number, change: ShardChange): Promise<ShardMeta | null>;
  /** Ask the node to re-read metadata soon (a peer said our view is stale). */
  requestRefresh(): void;
}

interface FollowerProgress {
  /** Everything below is on the follower. */
  fetchOffset: number;
  /** The follower adopted the current epoch, so its position counts for the HW. */
  counts: boolean;
  lastCaughtUpMs: number;
  lastFetchMs: number;
}

interface AckWaiter {
  end: number;
  acks: Acks;
  resolve: () => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

export interface WriteResult {
  baseOffset: number;
  lastOffset: number;
  leaderEpoch: number;
}

export interface FenceResult {
  nodeId: number;
  lastEpoch: number;
  logEndOffset: number;
  fencedEpoch: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export function toAppendRecord(r: { timestamp: number; key?: Uint8Array; headers: { name: string; value: Uint8Array }[]; value: Uint8Array }): AppendRecord {
  return {
    value: r.value,
    key: r.key ?? null,
    headers: r.headers.length > 0 ? r.headers.map((h) => [h.name, h.value] as const) : undefined,
    timestamp: r.timestamp,
  };
}

export function toWireRecord(r: StoredRecord): Omit<WireRecord, '$typeName' | '$unknown'> {
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key,
    headers: (r.headers ?? []).map(([name, value]) => ({ $typeName: 'robustmq.journal.v1.Header', name, value })),
    value: r.value,
  };
}

export class ShardReplica {
  private roleNow: Role = 'idle';
  private epochNow = 0;
  private leaderIdNow = 0;
  private metaNow: ShardMeta;
  private hwNow = 0;
  /** Leader: the log end covered by resolved appends. */
  private appendedEnd = 0;
  private readonly progress = new Map<number, FollowerProgress>();
  private waiters: AckWaiter[] = [];
  private logWatchers = new Set<() => void>();
  private chain: Promise<unknown> = Promise.resolve();
  private follower: { stopped: boolean } | null = null;
  private isrTimer: NodeJS.Timeout | null = null;
  private isrUpdating = false;
  private closed = false;
  /** Follower: when it last heard from its leader; idle: when it became idle. Drives elections. */
  lastContactMs = Date.now();

  constructor(
    readonly log: ShardLog,
    readonly history: EpochHistory,
    meta: ShardMeta,
    private readonly host: ReplicaHost,
  ) {
    this.metaNow = meta;
  }

  get name(): string {
    return this.metaNow.name;
  }
  get meta(): ShardMeta {
    return this.metaNow;
  }
  get role(): Role {
    return this.roleNow;
  }
  get epoch(): number {
    return this.epochNow;
  }
  get leaderId(): number {
    return this.leaderIdNow;
  }
  get highWatermark(): number {
    return this.hwNow;
  }

  /** Runs `fn` after every earlier state change of this replica. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  // ---------------------------------------------------------------- role changes

  /** Adopts the metadata the node read from the store: becomes leader, follower or idle. */
  applyMeta(meta: ShardMeta): Promise<void> {
    return this.serial(async () => {
      if (this.closed) return;
      this.metaNow = meta;
      const self = this.host.nodeId;
      const fenced = this.history.fencedEpoch;
      if (!meta.replicas.includes(self) || meta.leader === 0 || fenced > meta.leaderEpoch || this.history.lastEpoch() > meta.leaderEpoch) {
        this.becomeIdle('no usable leader in the metadata');
        return;
      }
      if (meta.leader === self) {
        if (this.roleNow === 'leader' && this.epochNow === meta.leaderEpoch) {
          this.checkWaiters();
          return;
        }
        await this.becomeLeader(meta.leaderEpoch);
        return;
      }
      if (this.roleNow === 'follower' && this.epochNow === meta.leaderEpoch && this.leaderIdNow === meta.leader) return;
      this.becomeFollower(meta.leader, meta.leaderEpoch);
    });
  }

  private stopRole(reason: string): void {
    if (this.follower) this.follower.stopped = true;
    this.follower = null;
    if (this.isrTimer) clearInterval(this.isrTimer);
    this.isrTimer = null;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(this.notLeader(`leadership of epoch ${this.epochNow} ended (${reason}); the write may or may not survive`, { outcome: 'unknown' }));
    }
    this.progress.clear();
    this.wakeWatchers();
  }

  private becomeIdle(reason: string): void {
    if (this.roleNow !== 'idle') {
      this.host.log.info('shard replica idle', { shard: this.name, epoch: this.epochNow, reason });
      this.stopRole(reason);
      this.lastContactMs = Date.now();
    }
    this.roleNow = 'idle';
    this.leaderIdNow = this.metaNow.leader;
  }

  private async becomeLeader(epoch: number): Promise<void> {
    this.stopRole('became leader');
    await this.history.assign(epoch, this.log.nextOffset());
    this.roleNow = 'leader';
    this.epochNow = epoch;
    this.leaderIdNow = this.host.nodeId;
    this.appendedEnd = this.log.nextOffset();
    const now = Date.now();
    for (const id of this.metaNow.replicas) {
      if (id !== this.host.nodeId) this.progress.set(id, { fetchOffset: 0, counts: false, lastCaughtUpMs: now, lastFetchMs: 0 });
    }
    this.isrTimer = setInterval(() => this.checkIsr(), Math.max(50, Math.floor(this.host.timing.isrLagMs / 4)));
    this.isrTimer.unref();
    this.recomputeHw();
    this.host.log.info('shard leader', { shard: this.name, epoch, log_end: this.appendedEnd, hw: this.hwNow });
  }

  private becomeFollower(leaderId: number, epoch: number): void {
    this.stopRole('became follower');
    this.roleNow = 'follower';
    this.epochNow = epoch;
    this.leaderIdNow = leaderId;
    this.lastContactMs = Date.now();
    const token = { stopped: false };
    this.follower = token;
    this.host.log.info('shard follower', { shard: this.name, epoch, leader: leaderId });
    void this.runFollower(token, leaderId, epoch);
  }

  // ---------------------------------------------------------------- leader: writes

  private notLeader(message: string, extra: Record<string, unknown> = {}): CodedError {
    // Fenced above the metadata's epoch: an election is replacing the leader the metadata names,
    // which may be the very node that became unreachable. Naming no one makes the client ask
    // again shortly instead of following a deposed leader.
    const deposed = this.history.fencedEpoch > this.metaNow.leaderEpoch;
    const leader = this.roleNow === 'leader' || deposed ? 0 : this.metaNow.leader;
    return new CodedError('JR_NOT_SHARD_LEADER', message, {
      details: { shard: this.name, leader_id: leader, leader_addr: leader > 0 && leader !== this.host.nodeId ? this.host.addrOf(leader) : '', ...extra },
    });
  }

  private assertLeader(): void {
    if (this.closed) throw new CodedError('JR_CLOSED', `shard ${this.name} is closing`);
    if (this.roleNow !== 'leader') throw this.notLeader(`node ${this.host.nodeId} does not lead shard ${this.name}`);
  }

  async write(records: AppendRecord[], acks: Acks, timeoutMs: number): Promise<WriteResult> {
    this.assertLeader();
    const epoch = this.epochNow;
    const q = quorumOf(this.metaNow.replicas.length);
    if (acks !== Acks.ONE && this.metaNow.isr.length < q) {
      throw new CodedError('JR_NOT_ENOUGH_REPLICAS', `shard ${this.name} has ${this.metaNow.isr.length} in-sync replicas, acks needs ${q}`, {
        details: { shard: this.name, isr: [...this.metaNow.isr], needed: q },
      });
    }
    const r = await this.log.append(records);
    if (this.roleNow !== 'leader' || this.epochNow !== epoch) {
      throw this.notLeader(`leadership of shard ${this.name} changed during the write; it may or may not survive`, { outcome: 'unknown' });
    }
    this.appendedEnd = Math.max(this.appendedEnd, r.lastOffset + 1);
    this.wakeWatchers();
    this.recomputeHw();
    if (acks !== Acks.ONE) await this.waitAcks(r.lastOffset + 1, acks, timeoutMs);
    return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, leaderEpoch: epoch };
  }

  private acked(end: number, acks: Acks): boolean {
    if (this.hwNow < end) return false;
    if (acks !== Acks.ALL) return true;
    return this.metaNow.isr.every((id) => {
      if (id === this.host.nodeId) return true;
      const p = this.progress.get(id);
      return p !== undefined && p.counts && p.fetchOffset >= end;
    });
  }

  private waitAcks(end: number, acks: Acks, timeoutMs: number): Promise<void> {
    if (this.acked(end, acks)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w: AckWaiter = {
        end,
        acks,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(
            new CodedError('JR_WRITE_TIMEOUT', `shard ${this.name}: records below ${end} not replicated as acks=${Acks[acks]} requires within ${timeoutMs} ms`, {
              details: { shard: this.name, end, high_watermark: this.hwNow, isr: [...this.metaNow.isr] },
            }),
          );
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  private checkWaiters(): void {
    if (this.waiters.length === 0) return;
    const keep: AckWaiter[] = [];
    for (const w of this.waiters) {
      if (this.acked(w.end, w.acks)) {
        clearTimeout(w.timer);
        w.resolve();
      } else keep.push(w);
    }
    this.waiters = keep;
  }

  private recomputeHw(): void {
    if (this.roleNow !== 'leader') return;
    const positions = [this.appendedEnd];
    for (const id of this.metaNow.replicas) {
      if (id === this.host.nodeId) continue;
      const p = this.progress.get(id);
      positions.push(p !== undefined && p.counts ? p.fetchOffset : 0);
    }
    positions.sort((a, b) => b - a);
    const candidate = Math.min(positions[quorumOf(this.metaNow.replicas.length) - 1]!, this.appendedEnd);
    if (candidate > this.hwNow) this.hwNow = candidate;
    this.checkWaiters();
  }

  // ---------------------------------------------------------------- leader: ISR

  private checkIsr(): void {
    if (this.roleNow !== 'leader' || this.isrUpdating) return;
    const now = Date.now();
    const isr = this.metaNow.isr;
    const lagging = isr.filter((id) => {
      if (id === this.host.nodeId) return false;
      const p = this.progress.get(id);
      return p === undefined || now - p.lastCaughtUpMs > this.host.timing.isrLagMs;
    });
    if (lagging.length > 0) void this.changeIsr(isr.filter((id) => !lagging.includes(id)), `lagging: ${lagging.join(',')}`);
  }

  private maybeExpandIsr(id: number, p: FollowerProgress): void {
    if (this.isrUpdating || this.metaNow.isr.includes(id)) return;
    if (p.counts && p.fetchOffset >= this.hwNow && p.fetchOffset >= this.appendedEnd) {
      void this.changeIsr([...this.metaNow.isr, id].sort((a, b) => a - b), `caught up: ${id}`);
    }
  }

  private async changeIsr(isr: number[], reason: string): Promise<void> {
    const epoch = this.epochNow;
    const meta = this.metaNow;
    this.isrUpdating = true;
    try {
      const next = await this.host.updateShard(this.name, meta.version, { leader: this.host.nodeId, leaderEpoch: epoch, isr });
      if (next === null) {
        this.host.requestRefresh();
        return;
      }
      this.host.log.info('shard in-sync set changed', { shard: this.name, epoch, isr, reason });
      await this.applyMeta(next);
    } catch (e: unknown) {
      this.host.log.warn('in-sync set update failed', { shard: this.name, err: e instanceof Error ? e.message : String(e) });
    } finally {
      this.isrUpdating = false;
    }
  }

  // ---------------------------------------------------------------- leader: follower fetch

  private wakeWatchers(): void {
    const ws = this.logWatchers;
    this.logWatchers = new Set();
    for (const w of ws) w();
  }

  private waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.logWatchers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.logWatchers.add(done);
    });
  }

  async handleFetch(req: FetchRequest): Promise<Omit<FetchReply, '$typeName' | '$unknown'>> {
    this.assertLeader();
    const epoch = this.epochNow;
    if (req.leaderEpoch !== epoch) {
      throw new CodedError('JR_FENCED', `shard ${this.name}: fetch for epoch ${req.leaderEpoch}, leader is at ${epoch}`, { details: { shard: this.name, epoch } });
    }
    const p = this.progress.get(req.replicaId);
    if (p === undefined) throw new CodedError('JR_INVALID_ARGUMENT', `node ${req.replicaId} is not a follower of shard ${this.name}`);
    const leo = this.log.nextOffset();
    const { epoch: e, endOffset } = this.history.endOf(req.lastFetchedEpoch, leo);
    if (e !== req.lastFetchedEpoch || endOffset < req.fetchOffset) {
      p.counts = false;
      return { records: [], recordsEpoch: epoch, highWatermark: this.hwNow, logEndOffset: leo, diverging: { $typeName: 'robustmq.journal.v1.EpochEnd', epoch: e, endOffset } };
    }
    const now = Date.now();
    p.fetchOffset = req.fetchOffset;
    p.counts = req.lastFetchedEpoch === epoch;
    p.lastFetchMs = now;
    if (req.fetchOffset >= this.appendedEnd) p.lastCaughtUpMs = now;
    this.recomputeHw();
    this.maybeExpandIsr(req.replicaId, p);

    if (req.fetchOffset >= this.log.nextOffset() && req.maxWaitMs > 0) await this.waitForAppend(req.maxWaitMs);
    this.assertLeader();
    if (this.epochNow !== epoch) throw this.notLeader(`shard ${this.name}: leadership changed`);
    const end = this.log.nextOffset();
    const recordsEpoch = this.history.epochAt(req.fetchOffset);
    let records: StoredRecord[] = [];
    if (req.fetchOffset < end) {
      const epochEnd = this.history.endOffsetFor(recordsEpoch, end);
      records = await this.log.read({ offset: req.fetchOffset, maxRecords: 100_000, maxBytes: Math.max(1, req.maxBytes || this.host.timing.fetchMaxBytes), maxOffset: epochEnd });
    }
    return { records: records.map((r) => ({ $typeName: 'robustmq.journal.v1.Record', ...toWireRecord(r) })), recordsEpoch, highWatermark: this.hwNow, logEndOffset: end };
  }

  // ---------------------------------------------------------------- follower

  private async runFollower(token: { stopped: boolean }, leaderId: number, epoch: number): Promise<void> {
    const timing = this.host.timing;
    while (!token.stopped && !this.closed) {
      const conn = this.host.peer(leaderId);
      if (conn === null) {
        await sleep(100);
        continue;
      }
      const fetchOffset = this.log.nextOffset();
      let reply: FetchReply;
      try {
        reply = await conn.call(JournalReplication, JournalReplication.method.fetch, {
          shard: this.name,
          replicaId: this.host.nodeId,
          leaderEpoch: epoch,
          fetchOffset,
          lastFetchedEpoch: this.history.lastEpoch(),
          maxBytes: timing.fetchMaxBytes,
          maxWaitMs: timing.fetchMaxWaitMs,
        }, timing.fetchMaxWaitMs + timing.rpcTimeoutMs);
      } catch (e: unknown) {
        if (token.stopped) return;
        const code = e instanceof CodedError ? e.code : 'INTERNAL';
        if (code === 'JR_FENCED' || code === 'JR_NOT_SHARD_LEADER' || code === 'JR_SHARD_NOT_FOUND') this.host.requestRefresh();
        this.host.log.debug('fetch failed', { shard: this.name, leader: leaderId, code });
        await sleep(code === 'JR_UNREACHABLE' || code === 'JR_TIMEOUT' ? 100 : 50);
        continue;
      }
      try {
        await this.serial(() => this.applyFetch(token, epoch, fetchOffset, reply));
      } catch (e: unknown) {
        if (token.stopped) return;
        this.host.log.warn('applying a fetch failed', { shard: this.name, err: e instanceof Error ? e.message : String(e) });
        await sleep(100);
      }
    }
  }

  private async applyFetch(token: { stopped: boolean }, epoch: number, fetchOffset: number, reply: FetchReply): Promise<void> {
    if (token.stopped || this.closed || this.history.fencedEpoch > epoch) return;
    if (this.log.nextOffset() !== fetchOffset) return;
    this.lastContactMs = Date.now();
    if (reply.diverging !== undefined) {
      const d = reply.diverging;
      const target = Math.max(this.log.earliestOffset(), Math.min(d.endOffset, this.history.endOffsetFor(d.epoch, fetchOffset)));
      this.host.log.info('follower log diverges, truncating', { shard: this.name, epoch, from: fetchOffset, to: target, leader_epoch_end: d.epoch });
      // Log first, then history: a crash between leaves entries whose claims still hold.
      await this.log.truncateTo(target);
      await this.history.truncate(target, d.epoch);
      this.hwNow = Math.min(this.hwNow, target);
      return;
    }
    if (reply.recordsEpoch > this.history.lastEpoch()) await this.history.assign(reply.recordsEpoch, fetchOffset);
    if (reply.records.length > 0) {
      if (reply.records[0]!.offset !== fetchOffset) throw new CodedError('INTERNAL', `fetch at ${fetchOffset} returned records from ${reply.records[0]!.offset}`);
      try {
        await this.log.append(reply.records.map(toAppendRecord), { expectedBaseOffset: fetchOffset });
      } catch (e: unknown) {
        if (isJournalStorageError(e, 'JR_OFFSET_MISMATCH')) return;
        throw e;
      }
    }
    this.hwNow = Math.max(this.hwNow, Math.min(reply.highWatermark, this.log.nextOffset()));
  }

  // ---------------------------------------------------------------- elections

  /** Stops following or leading anything below `epoch` (durably) and reports this log's position. */
  fence(epoch: number): Promise<FenceResult> {
    return this.serial(async () => {
      if (this.closed) throw new CodedError('JR_CLOSED', `shard ${this.name} is closing`);
      const fenced = await this.history.fence(epoch);
      if (fenced > this.epochNow && this.roleNow !== 'idle') this.becomeIdle(`fenced at epoch ${fenced}`);
      // Another replica's election is under way (this answer is its vote): give it an election
      // timeout to finish before starting one here, as a Raft node resets its election timer when
      // it grants a vote. Otherwise two electors overlap, and the later one, fencing at a higher
      // epoch, deposes the leader the first one is about to install.
      if (epoch >= fenced) this.lastContactMs = Date.now();
      return { nodeId: this.host.nodeId, lastEpoch: this.history.lastEpoch(), logEndOffset: this.log.nextOffset(), fencedEpoch: fenced };
    });
  }

  // ---------------------------------------------------------------- reads and offsets

  /** Reads need the leader: only it knows the HW that makes a record safe to show. */
  async read(q: { offset: number; maxRecords: number; maxBytes: number; committed: boolean }): Promise<{ records: StoredRecord[]; hw: number }> {
    this.assertLeader();
    const limit = q.committed ? this.hwNow : this.log.nextOffset();
    if (q.offset > this.log.nextOffset()) {
      throw new CodedError('JR_OFFSET_OUT_OF_RANGE', `offset ${q.offset} is past the log end ${this.log.nextOffset()}`, {
        details: { offset: q.offset, earliest: this.log.earliestOffset(), latest: this.log.nextOffset() },
      });
    }
    const records = q.offset >= limit ? [] : await this.log.read({ offset: q.offset, maxRecords: q.maxRecords, maxBytes: q.maxBytes, maxOffset: limit });
    return { records, hw: this.hwNow };
  }

  async offsetForTime(ts: number, committed: boolean): Promise<number> {
    this.assertLeader();
    const found = await this.log.offsetForTime(ts);
    const limit = committed ? this.hwNow : this.log.nextOffset();
    return found === null ? limit : Math.min(found, limit);
  }

  async readByKey(key: Uint8Array, committed: boolean): Promise<StoredRecord | null> {
    this.assertLeader();
    const rec = await this.log.readByKey(key);
    if (rec === null || (committed && rec.offset >= this.hwNow)) return null;
    return rec;
  }

  offsets(): { earliest: number; latest: number; hw: number; epoch: number } {
    this.assertLeader();
    return { earliest: this.log.earliestOffset(), latest: this.log.nextOffset(), hw: this.hwNow, epoch: this.epochNow };
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      this.stopRole('closing');
      this.closed = true;
    });
    await this.log.close();
  }
}
