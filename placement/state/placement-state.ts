// The placement center's replicated state: the KV, registered nodes, typed metadata objects, the
// route table derived from subscriptions, and the de-duplication table of recent requests. It
// changes only through applyCommand (apply-command.ts); everything here is a query, a snapshot
// or a restore. Snapshots are deterministic: the same state always encodes to the same bytes.

import { clone, create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  BrokerSubscriptionsSchema,
  ClusterNodeSchema,
  KvEntrySchema,
  NodeKind,
  RouteEntrySchema,
  StoredObjectSchema,
  type ClusterNode,
  type KvEntry,
  type RouteEntry,
  type StoredObject,
} from '../../proto/gen/placement_pb.js';
import { DedupEntrySchema, MemberRecordSchema, StateSnapshotSchema, type DedupEntry, type MemberRecord } from '../../proto/gen/placement_log_pb.js';
import { kindNames, type ObjectCase } from './object-keys.js';

const SNAPSHOT_VERSION = 1;

export class SnapshotDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotDecodeError';
  }
}

function byKey<T>(a: [string, T], b: [string, T]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

export function nodeKey(kind: NodeKind, nodeId: number): string {
  return `${NodeKind[kind]?.toLowerCase() ?? String(kind)}/${nodeId}`;
}

export class PlacementState {
  appliedIndex = 0;
  readonly kv = new Map<string, KvEntry>();
  /** By nodeKey(kind, id). */
  readonly nodes = new Map<string, ClusterNode>();
  /** By object case, then object key. */
  readonly objects = new Map<ObjectCase, Map<string, StoredObject>>();
  /** filter -> broker id -> subscription count; derived from the subscriptions. */
  readonly routes = new Map<string, Map<number, number>>();
  /** `${clientId}#${seq}` -> entry, in apply order (a Map iterates in insertion order). */
  readonly dedup = new Map<string, DedupEntry>();
  /**
   * Placement members' advertised addresses and removals, by node id. Raft's own conf state says
   * who is a member; this says where each one is, so a node restarted with a partial raft.peers
   * (or one that joined later) can still reach every member.
   */
  readonly members = new Map<number, MemberRecord>();

  objectsOf(c: ObjectCase): Map<string, StoredObject> {
    let m = this.objects.get(c);
    if (!m) {
      m = new Map();
      this.objects.set(c, m);
    }
    return m;
  }

  // ---- queries (results are copies; callers may keep them)

  getKv(key: string): KvEntry | undefined {
    const e = this.kv.get(key);
    return e ? clone(KvEntrySchema, e) : undefined;
  }

  listKv(prefix: string): KvEntry[] {
    return [...this.kv].filter(([k]) => k.startsWith(prefix)).sort(byKey).map(([, e]) => clone(KvEntrySchema, e));
  }

  listNodes(kind: NodeKind): ClusterNode[] {
    return [...this.nodes]
      .filter(([, n]) => kind === NodeKind.UNSPECIFIED || n.kind === kind)
      .sort(byKey)
      .map(([, n]) => clone(ClusterNodeSchema, n));
  }

  getNode(kind: NodeKind, nodeId: number): ClusterNode | undefined {
    const n = this.nodes.get(nodeKey(kind, nodeId));
    return n ? clone(ClusterNodeSchema, n) : undefined;
  }

  getObject(c: ObjectCase, key: string): StoredObject | undefined {
    const o = this.objects.get(c)?.get(key);
    return o ? clone(StoredObjectSchema, o) : undefined;
  }

  listObjects(c: ObjectCase, keyPrefix: string): StoredObject[] {
    const m = this.objects.get(c);
    if (!m) return [];
    return [...m].filter(([k]) => k.startsWith(keyPrefix)).sort(byKey).map(([, o]) => clone(StoredObjectSchema, o));
  }

  /** The advertised address the replicated state holds for a member, '' when none. */
  memberAddress(nodeId: number): string {
    return this.members.get(nodeId)?.address ?? '';
  }

  /** Log index at which the node was removed from the cluster, 0 when it was not (or re-added). */
  memberRemovedAt(nodeId: number): number {
    return this.members.get(nodeId)?.removedAt ?? 0;
  }

  route(filter: string): RouteEntry | undefined {
    const brokers = this.routes.get(filter);
    if (!brokers || brokers.size === 0) return undefined;
    return create(RouteEntrySchema, {
      filter,
      brokers: [...brokers]
        .sort(([a], [b]) => a - b)
        .map(([brokerId, count]) => create(BrokerSubscriptionsSchema, { brokerId, count })),
    });
  }

  listRoutes(): RouteEntry[] {
    return [...this.routes.keys()].sort().flatMap((f) => {
      const r = this.route(f);
      return r ? [r] : [];
    });
  }

  // ---- route table maintenance (called by apply)

  addRoute(filter: string, brokerId: number, delta: 1 | -1): void {
    let brokers = this.routes.get(filter);
    if (!brokers) {
      brokers = new Map();
      this.routes.set(filter, brokers);
    }
    const n = (brokers.get(brokerId) ?? 0) + delta;
    if (n > 0) brokers.set(brokerId, n);
    else brokers.delete(brokerId);
    if (brokers.size === 0) this.routes.delete(filter);
  }

  // ---- snapshot

  snapshot(): Uint8Array {
    const objects: StoredObject[] = [];
    for (const c of (Object.keys(kindNames) as ObjectCase[]).sort()) {
      const m = this.objects.get(c);
      if (m) for (const [, o] of [...m].sort(byKey)) objects.push(o);
    }
    return toBinary(
      StateSnapshotSchema,
      create(StateSnapshotSchema, {
        version: SNAPSHOT_VERSION,
        appliedIndex: this.appliedIndex,
        kv: [...this.kv].sort(byKey).map(([, e]) => e),
        nodes: [...this.nodes].sort(byKey).map(([, n]) => n),
        objects,
        // Apply order, not key order: pruning drops the oldest first.
        dedup: [...this.dedup.values()],
        members: [...this.members].sort(([a], [b]) => a - b).map(([, m]) => m),
      }),
    );
  }

  static restore(bytes: Uint8Array): PlacementState {
    const s = new PlacementState();
    if (bytes.byteLength === 0) return s;
    let snap;
    try {
      snap = fromBinary(StateSnapshotSchema, bytes);
    } catch (err: unknown) {
      throw new SnapshotDecodeError(`state snapshot does not decode: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (snap.version !== SNAPSHOT_VERSION) throw new SnapshotDecodeError(`state snapshot version ${snap.version} unknown`);
    s.appliedIndex = snap.appliedIndex;
    for (const e of snap.kv) s.kv.set(e.key, e);
    for (const n of snap.nodes) s.nodes.set(nodeKey(n.kind, n.nodeId), n);
    for (const o of snap.objects) {
      const c = o.object?.object.case;
      if (c === undefined) throw new SnapshotDecodeError(`stored object ${o.key} has no kind`);
      s.objectsOf(c).set(o.key, o);
      if (c === 'subscription') {
        const sub = o.object!.object.value as { filter: string; brokerId: number };
        s.addRoute(sub.filter, sub.brokerId, 1);
      }
    }
    for (const d of snap.dedup) s.dedup.set(`${d.clientId}#${d.seq}`, clone(DedupEntrySchema, d));
    for (const m of snap.members) s.members.set(m.nodeId, clone(MemberRecordSchema, m));
    return s;
  }
}
