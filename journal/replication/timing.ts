// Timing of replication and failover. Defaults suit a LAN; tests shorten them.

export interface ReplicationTiming {
  /** How often a node re-reads shard metadata (and applies leader/ISR changes). */
  readonly refreshMs: number;
  /** A follower that has not fetched from its leader for this long starts an election. */
  readonly electionTimeoutMs: number;
  /** A follower that has not caught up with the leader's log end for this long leaves the in-sync set. */
  readonly isrLagMs: number;
  /** Follower long poll: how long the leader holds a fetch that has nothing new. */
  readonly fetchMaxWaitMs: number;
  readonly fetchMaxBytes: number;
  /** Deadline of replication RPCs (plus fetchMaxWaitMs for a fetch). */
  readonly rpcTimeoutMs: number;
  /** How often each replica deletes segments past retention (ShardLog.applyRetention). */
  readonly retentionCheckMs: number;
}

export const DEFAULT_TIMING: ReplicationTiming = Object.freeze({
  refreshMs: 200,
  electionTimeoutMs: 1500,
  isrLagMs: 3000,
  fetchMaxWaitMs: 500,
  fetchMaxBytes: 1024 * 1024,
  rpcTimeoutMs: 1000,
  retentionCheckMs: 60_000,
});
