// The journal's metadata in the placement center (issue 4). Journal nodes register there
// (kind JOURNAL) and heartbeat; a node that stops heartbeating is marked dead by placement.
// A shard is two placement objects in namespace "journal":
// - JournalShard {name, replica_count, config {uid, key_index}}: the shard exists (created first,
//   exclusively, so the name is taken once);
// - JournalSegment {shard, segment_seq 0}: its replication state — replicas, leader, leader epoch,
//   ISR. The local log is segmented by journal/storage, so one placement segment object per shard
//   carries what placement must know. Its mod_index is the compare-and-set version.

import { CodedError, isCodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { GrpcPlacementClient } from '../../placement/client/grpc-client.js';
import type { PlacementClient } from '../../placement/client/placement-client.js';
import type { ObjectInit } from '../../placement/client/api-types.js';
import { NodeKind, NodeStatus, ObjectKind, SegmentStatus, type JournalSegment, type JournalShard } from '../../proto/gen/placement_pb.js';
import type { JournalMetadataStore, JournalNodeInfo, ShardChange, ShardMeta } from './metadata-store.js';

export const JOURNAL_NAMESPACE = 'journal';

export interface PlacementStoreOptions {
  readonly addrs: readonly string[];
  readonly clusterName: string;
  readonly log: Logger;
  /** Placement marks the node dead after this long without a heartbeat; default 3 s. */
  readonly heartbeatTimeoutMs?: number;
}

function unavailable(e: unknown): never {
  if (isCodedError(e) && e.code.startsWith('JR_')) throw e;
  throw new CodedError('JR_PLACEMENT_UNAVAILABLE', `placement: ${e instanceof Error ? e.message : String(e)}`, {
    details: isCodedError(e) ? { placement_code: e.code } : {},
    cause: e,
  });
}

function shardObject(meta: Omit<ShardMeta, 'version'>): ObjectInit {
  return {
    case: 'journalShard',
    value: {
      namespace: JOURNAL_NAMESPACE,
      name: meta.name,
      replicaCount: meta.replicationFactor,
      status: 'active',
      createdAtMs: meta.createdAtMs,
      config: { uid: meta.uid, key_index: String(meta.keyIndex) },
    },
  };
}

function segmentObject(name: string, s: { replicas: readonly number[]; leader: number; leaderEpoch: number; isr: readonly number[] }): ObjectInit {
  return {
    case: 'journalSegment',
    value: { namespace: JOURNAL_NAMESPACE, shard: name, segmentSeq: 0, replicas: [...s.replicas], leader: s.leader, leaderEpoch: s.leaderEpoch, isr: [...s.isr], status: SegmentStatus.WRITE },
  };
}

function toMeta(shard: JournalShard, seg: JournalSegment, version: number): ShardMeta {
  return {
    name: shard.name,
    uid: shard.config.uid ?? '',
    replicationFactor: shard.replicaCount,
    replicas: seg.replicas,
    leader: seg.leader,
    leaderEpoch: seg.leaderEpoch,
    isr: seg.isr,
    keyIndex: shard.config.key_index === 'true',
    createdAtMs: shard.createdAtMs,
    version,
  };
}

export class PlacementMetadataStore implements JournalMetadataStore {
  private heartbeat: NodeJS.Timeout | null = null;
  private self: { id: number; addr: string; incarnation: number } | null = null;

  constructor(
    private readonly client: PlacementClient,
    private readonly log: Logger,
    private readonly heartbeatTimeoutMs = 3000,
    private readonly ownsClient = true,
  ) {}

  static async connect(opts: PlacementStoreOptions): Promise<PlacementMetadataStore> {
    const client = new GrpcPlacementClient({ addresses: opts.addrs, timeoutMs: 5000, attemptTimeoutMs: 2000 });
    return new PlacementMetadataStore(client, opts.log, opts.heartbeatTimeoutMs ?? 3000);
  }

  async register(node: { id: number; addr: string }): Promise<void> {
    try {
      const r = await this.client.registerNode({ kind: NodeKind.JOURNAL, nodeId: node.id, address: node.addr, heartbeatTimeoutMs: this.heartbeatTimeoutMs });
      this.self = { ...node, incarnation: r.node?.incarnation ?? 0 };
    } catch (e: unknown) {
      unavailable(e);
    }
    if (this.heartbeat === null) {
      this.heartbeat = setInterval(() => void this.beat(), Math.max(100, Math.floor(this.heartbeatTimeoutMs / 3)));
      this.heartbeat.unref();
    }
  }

  private async beat(): Promise<void> {
    const self = this.self;
    if (self === null) return;
    try {
      await this.client.heartbeat(NodeKind.JOURNAL, self.id, self.incarnation);
    } catch (e: unknown) {
      if (isCodedError(e) && e.code === 'PC_NODE_NOT_REGISTERED') {
        this.log.warn('placement forgot this journal node (heartbeats missed); registering again', { node: self.id });
        await this.register(self).catch(() => undefined);
      } else {
        this.log.debug('heartbeat failed', { err: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  async listNodes(): Promise<JournalNodeInfo[]> {
    try {
      const nodes = await this.client.listNodes(NodeKind.JOURNAL);
      return nodes.map((n) => ({ id: n.nodeId, addr: n.address, alive: n.status === NodeStatus.ALIVE }));
    } catch (e: unknown) {
      return unavailable(e);
    }
  }

  async listShards(): Promise<ShardMeta[]> {
    try {
      const [shards, segs] = await Promise.all([this.client.listObjects(ObjectKind.JOURNAL_SHARD), this.client.listObjects(ObjectKind.JOURNAL_SEGMENT)]);
      const bySeg = new Map<string, { seg: JournalSegment; version: number }>();
      for (const o of segs.objects) {
        if (o.object?.object.case !== 'journalSegment') continue;
        const s = o.object.object.value;
        if (s.namespace === JOURNAL_NAMESPACE && s.segmentSeq === 0) bySeg.set(s.shard, { seg: s, version: o.modIndex });
      }
      const out: ShardMeta[] = [];
      for (const o of shards.objects) {
        if (o.object?.object.case !== 'journalShard') continue;
        const sh = o.object.object.value;
        const seg = bySeg.get(sh.name);
        // A shard without its segment object is being created (or its creator died midway).
        if (sh.namespace === JOURNAL_NAMESPACE && seg !== undefined) out.push(toMeta(sh, seg.seg, seg.version));
      }
      return out;
    } catch (e: unknown) {
      return unavailable(e);
    }
  }

  async getShard(name: string): Promise<ShardMeta | null> {
    try {
      const [sh, seg] = await Promise.all([
        this.client.getObject({ case: 'journalShard', value: { namespace: JOURNAL_NAMESPACE, name } }),
        this.client.getObject({ case: 'journalSegment', value: { namespace: JOURNAL_NAMESPACE, shard: name, segmentSeq: 0 } }),
      ]);
      if (sh?.object?.object.case !== 'journalShard' || seg?.object?.object.case !== 'journalSegment') return null;
      return toMeta(sh.object.object.value, seg.object.object.value, seg.modIndex);
    } catch (e: unknown) {
      return unavailable(e);
    }
  }

  async createShard(meta: Omit<ShardMeta, 'version'>): Promise<ShardMeta> {
    try {
      await this.client.putObject(shardObject(meta), { expectedModIndex: 0 });
    } catch (e: unknown) {
      if (isCodedError(e) && (e.code === 'PC_ALREADY_EXISTS' || e.code === 'PC_CONFLICT')) {
        throw new CodedError('JR_SHARD_EXISTS', `shard ${meta.name} already exists`, { details: { shard: meta.name } });
      }
      unavailable(e);
    }
    try {
      const r = await this.client.putObject(segmentObject(meta.name, meta));
      return { ...meta, version: r.index };
    } catch (e: unknown) {
      return unavailable(e);
    }
  }

  async deleteShard(name: string): Promise<void> {
    try {
      const sh = await this.client.getObject({ case: 'journalShard', value: { namespace: JOURNAL_NAMESPACE, name } });
      if (sh === undefined) throw new CodedError('JR_SHARD_NOT_FOUND', `shard ${name} does not exist`, { details: { shard: name } });
      await this.client.deleteObject({ case: 'journalSegment', value: { namespace: JOURNAL_NAMESPACE, shard: name, segmentSeq: 0 } });
      await this.client.deleteObject({ case: 'journalShard', value: { namespace: JOURNAL_NAMESPACE, name } });
    } catch (e: unknown) {
      unavailable(e);
    }
  }

  async updateShard(name: string, expectedVersion: number, change: ShardChange): Promise<ShardMeta | null> {
    const cur = await this.getShard(name);
    if (cur === null || cur.version !== expectedVersion) return null;
    try {
      const r = await this.client.putObject(segmentObject(name, { replicas: cur.replicas, ...change }), { expectedModIndex: expectedVersion });
      return { ...cur, ...change, isr: [...change.isr], version: r.index };
    } catch (e: unknown) {
      if (isCodedError(e) && (e.code === 'PC_CONFLICT' || e.code === 'PC_ALREADY_EXISTS')) return null;
      return unavailable(e);
    }
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const self = this.self;
    this.self = null;
    // A clean stop says so at once, so elections do not wait for the heartbeat timeout; with
    // placement gone the stop does not wait for it (the heartbeat timeout then does the job).
    if (self !== null) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.client.unregisterNode(NodeKind.JOURNAL, self.id).catch(() => undefined),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, 2000); }),
      ]);
      clearTimeout(timer);
    }
    if (this.ownsClient) await this.client.close();
  }
}
