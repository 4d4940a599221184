// A journal node: its shard replicas on local disk, kept in line with the shard metadata of the
// store (placement, or a local file when standalone), and the operations the gRPC API exposes.
//
// A refresh loop re-reads the metadata every `timing.refreshMs` (and at once when a peer says our
// view is stale): it opens replicas of shards assigned to this node, applies leader/epoch/ISR
// changes, removes the data of deleted shards, and starts an election for a shard whose leader
// is unreachable or gone.

import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { Acks, JournalReplication } from '../../proto/gen/journal_pb.js';
import { ShardLog, type AppendRecord, type ShardLogOptions, type StoredRecord } from '../storage/index.js';
import { ConnectionPool, type JournalConnection } from '../client/connection.js';
import { EpochHistory } from '../replication/epoch-history.js';
import { electLeader } from '../replication/election.js';
import type { JournalMetadataStore, JournalNodeInfo, ShardChange, ShardMeta } from '../replication/metadata-store.js';
import { ShardReplica, type FenceResult, type ReplicaHost, type WriteResult } from '../replication/shard-replica.js';
import { DEFAULT_TIMING, type ReplicationTiming } from '../replication/timing.js';
import { checkShardName } from './shard-name.js';

export interface JournalNodeOptions {
  readonly nodeId: number;
  /** Shards live in `<dataDir>/journal/<shard>`. */
  readonly dataDir: string;
  /** `host:port` other nodes and clients use to reach this node. */
  readonly advertisedAddr: string;
  readonly store: JournalMetadataStore;
  readonly log: Logger;
  readonly timing?: Partial<ReplicationTiming>;
  readonly shardLog?: Partial<Omit<ShardLogOptions, 'key_index'>>;
}

export interface ShardView {
  readonly meta: ShardMeta;
  readonly leaderAddr: string;
  /** Present when this node leads the shard. */
  readonly offsets?: { earliest: number; latest: number; hw: number };
}

const DEFAULT_WRITE_TIMEOUT_MS = 10_000;

export class JournalNode {
  readonly nodeId: number;
  readonly timing: ReplicationTiming;
  private readonly shardRoot: string;
  private readonly replicas = new Map<string, ShardReplica>();
  private readonly opening = new Map<string, Promise<ShardReplica | null>>();
  private metas = new Map<string, ShardMeta>();
  private nodes = new Map<number, JournalNodeInfo>();
  private readonly pool = new ConnectionPool();
  private readonly host: ReplicaHost;
  private refreshTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  private readonly electing = new Set<string>();
  private readonly fenceFloor = new Map<string, number>();
  private readonly lastElection = new Map<string, number>();
  private closed = false;

  private constructor(private readonly opts: JournalNodeOptions) {
    this.nodeId = opts.nodeId;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.shardRoot = path.join(opts.dataDir, 'journal');
    this.host = {
      nodeId: opts.nodeId,
      timing: this.timing,
      log: opts.log,
      peer: (id) => this.peer(id),
      addrOf: (id) => this.addrOf(id),
      updateShard: (name, version, change) => this.opts.store.updateShard(name, version, change),
      requestRefresh: () => this.kick(),
    };
  }

  /** Registers with the store, loads metadata and opens this node's replicas. */
  static async start(opts: JournalNodeOptions): Promise<JournalNode> {
    const node = new JournalNode(opts);
    await fs.promises.mkdir(node.shardRoot, { recursive: true });
    await opts.store.register({ id: opts.nodeId, addr: opts.advertisedAddr });
    await node.refresh();
    node.refreshTimer = setInterval(() => node.kick(), node.timing.refreshMs);
    node.refreshTimer.unref();
    node.retentionTimer = setInterval(() => node.applyRetention(), node.timing.retentionCheckMs);
    node.retentionTimer.unref();
    return node;
  }

  get advertisedAddr(): string {
    return this.opts.advertisedAddr;
  }

  private peer(id: number): JournalConnection | null {
    const addr = this.addrOf(id);
    return addr === '' ? null : this.pool.get(addr);
  }

  private addrOf(id: number): string {
    if (id === this.nodeId) return this.opts.advertisedAddr;
    return this.nodes.get(id)?.addr ?? '';
  }

  // ---------------------------------------------------------------- metadata refresh

  /** Schedules a refresh (coalesced with one that is running). */
  kick(): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    void this.refresh().catch((e: unknown) => this.opts.log.warn('metadata refresh failed', { err: e instanceof Error ? e.message : String(e) }));
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    const run = async (): Promise<void> => {
      do {
        this.refreshAgain = false;
        await this.refreshOnce();
      } while (this.refreshAgain && !this.closed);
    };
    this.refreshing = run().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    if (this.closed) return;
    const [shards, nodes] = await Promise.all([this.opts.store.listShards(), this.opts.store.listNodes()]);
    this.nodes = new Map(nodes.map((n) => [n.id, n]));
    this.metas = new Map(shards.map((s) => [s.name, s]));
    for (const meta of shards) {
      if (this.closed) return;
      if (!meta.replicas.includes(this.nodeId)) continue;
      const replica = await this.ensureReplica(meta);
      if (replica === null) continue;
      await replica.applyMeta(meta);
      this.maybeElect(replica, meta);
    }
    for (const [name, replica] of this.replicas) {
      const meta = this.metas.get(name);
      if (meta !== undefined && meta.uid === replica.meta.uid && meta.replicas.includes(this.nodeId)) continue;
      this.replicas.delete(name);
      await replica.close();
      await fs.promises.rm(replica.log.dir, { recursive: true, force: true });
      this.opts.log.info('shard removed', { shard: name });
    }
    await this.removeOrphanDirs();
  }

  private async removeOrphanDirs(): Promise<void> {
    let names: string[];
    try {
      names = await fs.promises.readdir(this.shardRoot);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith('.') || this.replicas.has(name) || this.opening.has(name)) continue;
      const meta = this.metas.get(name);
      if (meta !== undefined && meta.replicas.includes(this.nodeId)) continue;
      await fs.promises.rm(path.join(this.shardRoot, name), { recursive: true, force: true });
    }
  }

  private ensureReplica(meta: ShardMeta): Promise<ShardReplica | null> {
    const have = this.replicas.get(meta.name);
    if (have !== undefined && have.meta.uid === meta.uid) return Promise.resolve(have);
    let p = this.opening.get(meta.name);
    if (p === undefined) {
      p = this.openReplica(meta).finally(() => this.opening.delete(meta.name));
      this.opening.set(meta.name, p);
    }
    return p;
  }

  private async openReplica(meta: ShardMeta): Promise<ShardReplica | null> {
    const old = this.replicas.get(meta.name);
    if (old !== undefined) {
      this.replicas.delete(meta.name);
      await old.close();
    }
    const dir = path.join(this.shardRoot, meta.name);
    const recorded = await EpochHistory.recordedUid(dir);
    if (recorded !== null && recorded !== meta.uid) {
      // An earlier shard of the same name: its data is not this shard's.
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
    const log = await ShardLog.open(dir, { fsync: 'always', ...this.opts.shardLog, key_index: meta.keyIndex });
    const history = await EpochHistory.open(dir, meta.uid, log.nextOffset());
    const replica = new ShardReplica(log, history, meta, this.host);
    this.replicas.set(meta.name, replica);
    this.opts.log.info('shard opened', { shard: meta.name, log_end: log.nextOffset(), recovery_clean: log.recovery.clean });
    return replica;
  }

  /** Each replica applies retention on its own (whole sealed segments; offsets do not move). */
  private applyRetention(): void {
    for (const r of this.replicas.values()) {
      void r.log.applyRetention().then(
        (res) => {
          if (res.deletedSegments.length > 0) this.opts.log.info('retention deleted segments', { shard: r.name, segments: res.deletedSegments, earliest: res.earliestOffset });
        },
        (e: unknown) => this.opts.log.debug('retention skipped', { shard: r.name, err: e instanceof Error ? e.message : String(e) }),
      );
    }
  }

  // ---------------------------------------------------------------- elections

  private needsElection(replica: ShardReplica, meta: ShardMeta): boolean {
    const now = Date.now();
    const t = this.timing.electionTimeoutMs;
    if (meta.leader === this.nodeId) return replica.role !== 'leader' && now - replica.lastContactMs > t / 2;
    if (meta.leader === 0) return true;
    const leaderNode = this.nodes.get(meta.leader);
    const leaderDead = leaderNode !== undefined && !leaderNode.alive;
    // Stagger electors by their rank among the replicas so they rarely collide.
    const rank = [...meta.replicas].sort((a, b) => a - b).indexOf(this.nodeId);
    const wait = t + rank * Math.floor(t / 3);
    if (leaderDead) return now - replica.lastContactMs > rank * Math.floor(t / 3);
    return now - replica.lastContactMs > wait;
  }

  private maybeElect(replica: ShardReplica, meta: ShardMeta): void {
    if (this.electing.has(meta.name) || this.closed || !this.needsElection(replica, meta)) return;
    // One attempt per election timeout: a failed one (no majority reachable) must not turn into a
    // fence storm that bumps epochs every refresh.
    if (Date.now() - (this.lastElection.get(meta.name) ?? 0) < this.timing.electionTimeoutMs) return;
    this.lastElection.set(meta.name, Date.now());
    this.electing.add(meta.name);
    void this.runElection(meta)
      .catch((e: unknown) => this.opts.log.warn('election failed', { shard: meta.name, err: e instanceof Error ? e.message : String(e) }))
      .finally(() => {
        this.electing.delete(meta.name);
        replica.lastContactMs = Date.now();
        this.kick();
      });
  }

  private async runElection(meta: ShardMeta): Promise<void> {
    const floor = Math.max(this.fenceFloor.get(meta.name) ?? 0, this.replicas.get(meta.name)?.history.fencedEpoch ?? 0);
    this.opts.log.info('starting shard election', { shard: meta.name, epoch: meta.leaderEpoch, leader: meta.leader });
    const outcome = await electLeader(
      meta,
      {
        selfId: this.nodeId,
        fence: (id, epoch) => this.fenceReplica(meta.name, id, epoch),
        update: (version, change) => this.opts.store.updateShard(meta.name, version, change),
        current: () => this.opts.store.getShard(meta.name),
      },
      floor,
    );
    if (outcome.kind === 'stale') this.fenceFloor.set(meta.name, outcome.fencedEpoch);
    if (outcome.kind === 'no-quorum') this.fenceFloor.set(meta.name, outcome.epoch);
    this.opts.log.info('shard election', {
      shard: meta.name,
      outcome: outcome.kind,
      ...(outcome.kind === 'elected' ? { leader: outcome.meta.leader, epoch: outcome.meta.leaderEpoch, isr: outcome.meta.isr } : {}),
    });
  }

  private async fenceReplica(shard: string, id: number, epoch: number): Promise<FenceResult> {
    if (id === this.nodeId) return this.fence(shard, epoch);
    const conn = this.peer(id);
    if (conn === null) throw new CodedError('JR_UNREACHABLE', `no address for node ${id}`);
    const r = await conn.call(JournalReplication, JournalReplication.method.fence, { shard, epoch, electorId: this.nodeId }, this.timing.rpcTimeoutMs);
    return { nodeId: r.nodeId, lastEpoch: r.lastEpoch, logEndOffset: r.logEndOffset, fencedEpoch: r.fencedEpoch };
  }

  // ---------------------------------------------------------------- the API

  private metaOf(name: string): ShardMeta {
    checkShardName(name);
    const meta = this.metas.get(name);
    if (meta === undefined) throw new CodedError('JR_SHARD_NOT_FOUND', `shard ${name} does not exist`, { details: { shard: name } });
    return meta;
  }

  /** The local replica when this node holds one, else a NOT_LEADER error that names the leader. */
  private replicaOf(name: string): ShardReplica {
    const meta = this.metaOf(name);
    const r = this.replicas.get(name);
    if (r !== undefined) return r;
    throw new CodedError('JR_NOT_SHARD_LEADER', `node ${this.nodeId} holds no replica of shard ${name}`, {
      details: { shard: name, leader_id: meta.leader, leader_addr: meta.leader > 0 ? this.addrOf(meta.leader) : '' },
    });
  }

  async createShard(name: string, replicationFactor: number, keyIndex: boolean): Promise<ShardView> {
    checkShardName(name);
    const factor = replicationFactor === 0 ? 1 : replicationFactor;
    if (!Number.isInteger(factor) || factor < 1 || factor > 15) throw new CodedError('JR_INVALID_ARGUMENT', `replicas must be 1..15, got ${replicationFactor}`);
    await this.refresh();
    if (this.metas.has(name)) throw new CodedError('JR_SHARD_EXISTS', `shard ${name} already exists`, { details: { shard: name } });
    const alive = [...this.nodes.values()].filter((n) => n.alive);
    if (alive.length < factor) {
      throw new CodedError('JR_NOT_ENOUGH_REPLICAS', `shard ${name} needs ${factor} journal nodes, ${alive.length} alive`, { details: { alive: alive.map((n) => n.id), needed: factor } });
    }
    // Fewest shards first, so replicas and leaders spread over the nodes.
    const load = new Map<number, number>(alive.map((n) => [n.id, 0]));
    for (const m of this.metas.values()) for (const id of m.replicas) if (load.has(id)) load.set(id, load.get(id)! + (id === m.leader ? 1.5 : 1));
    const chosen = alive.map((n) => n.id).sort((a, b) => load.get(a)! - load.get(b)! || a - b).slice(0, factor);
    const meta = await this.opts.store.createShard({
      name,
      uid: randomUUID(),
      replicationFactor: factor,
      replicas: chosen,
      leader: chosen[0]!,
      leaderEpoch: 1,
      isr: [...chosen].sort((a, b) => a - b),
      keyIndex,
      createdAtMs: Date.now(),
    });
    this.metas.set(name, meta);
    // Open this node's replica before answering, so a write right after goes through here at once.
    await this.refresh();
    return this.view(this.metas.get(name) ?? meta);
  }

  async deleteShard(name: string): Promise<void> {
    checkShardName(name);
    await this.opts.store.deleteShard(name);
    this.metas.delete(name);
    this.kick();
  }

  async listShards(): Promise<ShardView[]> {
    await this.refresh();
    return [...this.metas.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((m) => this.view(m));
  }

  async describeShard(name: string): Promise<ShardView> {
    checkShardName(name);
    const meta = await this.opts.store.getShard(name);
    if (meta === null) throw new CodedError('JR_SHARD_NOT_FOUND', `shard ${name} does not exist`, { details: { shard: name } });
    return this.view(meta);
  }

  private view(meta: ShardMeta): ShardView {
    const r = this.replicas.get(meta.name);
    const leaderAddr = meta.leader > 0 ? this.addrOf(meta.leader) : '';
    if (r !== undefined && r.role === 'leader') {
      const o = r.offsets();
      return { meta: r.meta.version > meta.version ? r.meta : meta, leaderAddr, offsets: { earliest: o.earliest, latest: o.latest, hw: o.hw } };
    }
    return { meta, leaderAddr };
  }

  write(name: string, records: AppendRecord[], acks: Acks, timeoutMs: number): Promise<WriteResult> {
    if (records.length === 0) throw new CodedError('JR_INVALID_ARGUMENT', 'a write needs at least one record');
    return this.replicaOf(name).write(records, acks === Acks.UNSPECIFIED ? Acks.QUORUM : acks, timeoutMs > 0 ? timeoutMs : DEFAULT_WRITE_TIMEOUT_MS);
  }

  read(name: string, q: { offset: number; maxRecords: number; maxBytes: number; committed: boolean }): Promise<{ records: StoredRecord[]; hw: number }> {
    return this.replicaOf(name).read(q);
  }

  offsetForTime(name: string, ts: number, committed: boolean): Promise<number> {
    return this.replicaOf(name).offsetForTime(ts, committed);
  }

  readByKey(name: string, key: Uint8Array, committed: boolean): Promise<StoredRecord | null> {
    return this.replicaOf(name).readByKey(key, committed);
  }

  offsets(name: string): { earliest: number; latest: number; hw: number; epoch: number } {
    return this.replicaOf(name).offsets();
  }

  /** A follower's fetch; the shard may be one this node has not loaded yet. */
  replicaForPeer(name: string): ShardReplica {
    const r = this.replicas.get(name);
    if (r === undefined) {
      this.kick();
      throw new CodedError('JR_NOT_SHARD_LEADER', `node ${this.nodeId} has not loaded shard ${name}`, { details: { shard: name } });
    }
    return r;
  }

  async fence(name: string, epoch: number): Promise<FenceResult> {
    let r = this.replicas.get(name);
    if (r === undefined) {
      // A replica this node has not opened yet still has a position (possibly an empty log).
      const meta = this.metas.get(name) ?? (await this.opts.store.getShard(name));
      if (meta === null || meta === undefined || !meta.replicas.includes(this.nodeId)) {
        throw new CodedError('JR_SHARD_NOT_FOUND', `node ${this.nodeId} holds no replica of shard ${name}`, { details: { shard: name } });
      }
      r = (await this.ensureReplica(meta)) ?? undefined;
      if (r === undefined) throw new CodedError('JR_SHARD_NOT_FOUND', `shard ${name} could not be opened`);
    }
    return r.fence(epoch);
  }

  /** Stops the refresh loop, closes every shard (clean-shutdown markers), drops connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    if (this.retentionTimer) clearInterval(this.retentionTimer);
    // A metadata refresh in flight waits on placement; with placement gone, stopping does not.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.refreshing?.catch(() => undefined), new Promise<void>((resolve) => { timer = setTimeout(resolve, 1000); })]);
    clearTimeout(timer);
    await Promise.all([...this.opening.values()].map((p) => p.catch(() => null)));
    const replicas = [...this.replicas.values()];
    this.replicas.clear();
    await Promise.allSettled(replicas.map((r) => r.close()));
    this.pool.close();
    await this.opts.store.close();
  }
}

export type { ShardChange };
