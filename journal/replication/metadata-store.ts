// Where a journal node keeps the cluster's shard metadata: which nodes exist, which shards exist,
// their replicas, leader, leader epoch and in-sync set. The placement center holds it in a
// cluster (placement-metadata-store.ts); a standalone node keeps it in a local file
// (local-metadata-store.ts). Replication only talks to this interface.

export interface JournalNodeInfo {
  readonly id: number;
  /** `host:port` of the node's journal gRPC server. */
  readonly addr: string;
  readonly alive: boolean;
}

export interface ShardMeta {
  readonly name: string;
  /** Distinguishes a shard from an earlier shard of the same name (deleted, then created again). */
  readonly uid: string;
  readonly replicationFactor: number;
  /** Node ids holding a copy; replicas[0] was the first leader. */
  readonly replicas: readonly number[];
  /** 0 = none. */
  readonly leader: number;
  readonly leaderEpoch: number;
  /** The in-sync set; always contains the leader when there is one. */
  readonly isr: readonly number[];
  readonly keyIndex: boolean;
  readonly createdAtMs: number;
  /** Compare-and-set token: changes on every update. */
  readonly version: number;
}

export type ShardChange = Pick<ShardMeta, 'leader' | 'leaderEpoch' | 'isr'>;

export interface JournalMetadataStore {
  /** Registers this node (again after a restart) and starts heartbeating until close(). */
  register(node: { id: number; addr: string }): Promise<void>;
  listNodes(): Promise<JournalNodeInfo[]>;
  listShards(): Promise<ShardMeta[]>;
  getShard(name: string): Promise<ShardMeta | null>;
  /** JR_SHARD_EXISTS when the name is taken. `version` of the argument is ignored. */
  createShard(meta: Omit<ShardMeta, 'version'>): Promise<ShardMeta>;
  /** JR_SHARD_NOT_FOUND when absent. */
  deleteShard(name: string): Promise<void>;
  /**
   * Applies `change` only if the stored shard still has `expectedVersion`; returns the new meta,
   * or null when someone else changed it first (or it was deleted).
   */
  updateShard(name: string, expectedVersion: number, change: ShardChange): Promise<ShardMeta | null>;
  close(): Promise<void>;
}

export function quorumOf(replicationFactor: number): number {
  return Math.floor(replicationFactor / 2) + 1;
}
