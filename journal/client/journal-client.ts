// The journal's client: shard administration, writes and reads against a set of journal nodes.
// It finds each shard's leader (following JR_NOT_SHARD_LEADER details) and retries while a
// leader changes, until `retryForMs` has passed.
//
// Writes are retried only after errors that say the write was not appended (no leader here, node
// starting, no connection to the node within connectTimeoutMs). A write that may have been appended (timeout, connection lost mid-call, leadership
// lost while waiting for acks) fails with its error, so the caller decides: retrying it could
// duplicate its records.

import { CodedError, isCodedError, type ErrorCode } from '../../common/errors.js';
import { Acks, Isolation, Journal, type Record as WireRecord, type ShardInfo } from '../../proto/gen/journal_pb.js';
import { ConnectionPool, type JournalConnection } from './connection.js';

export { Acks, Isolation };

export interface JournalClientOptions {
  /** Journal nodes to start from (`host:port`); any one is enough, leaders are found from there. */
  readonly addrs: readonly string[];
  /** Deadline of one RPC; default 15 s (a write waits up to its timeout for acks). */
  readonly rpcTimeoutMs?: number;
  /** How long to keep retrying while a shard has no reachable leader; default 10 s. */
  readonly retryForMs?: number;
  /**
   * How long one attempt waits for a connection to a node before trying elsewhere (the call was
   * not sent, so even a write may go to another node); default the smaller of 2 s and rpcTimeoutMs.
   */
  readonly connectTimeoutMs?: number;
}

export interface ClientRecord {
  value: Uint8Array;
  key?: Uint8Array;
  headers?: ReadonlyArray<readonly [string, Uint8Array]>;
  timestamp?: number;
}

export interface ReadRecord {
  offset: number;
  timestamp: number;
  key?: Uint8Array;
  headers: [string, Uint8Array][];
  value: Uint8Array;
}

export type ReadFrom = { offset: number } | { timestamp: number } | { key: Uint8Array };

export interface ReadOptions {
  maxRecords?: number;
  maxBytes?: number;
  isolation?: Isolation;
}

export interface WriteOptions {
  acks?: Acks;
  /** How long the leader waits for replication; default 10 s. */
  timeoutMs?: number;
}

/** Errors after which the same request may go to another node (or again) without side effects. */
const REDIRECT: ReadonlySet<ErrorCode> = new Set(['JR_NOT_SHARD_LEADER', 'JR_CLOSED', 'JR_SHARD_NOT_FOUND']);
const TRANSIENT: ReadonlySet<ErrorCode> = new Set([...REDIRECT, 'JR_UNREACHABLE', 'JR_TIMEOUT', 'JR_NOT_ENOUGH_REPLICAS']);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function fromWire(r: WireRecord): ReadRecord {
  return { offset: r.offset, timestamp: r.timestamp, key: r.key, headers: r.headers.map((h) => [h.name, h.value]), value: r.value };
}

/** A node that did not answer is passed over (and not followed as a leader hint) this long. */
const BAD_NODE_MS = 2000;

export class JournalClient {
  private readonly pool: ConnectionPool;
  private readonly leaders = new Map<string, string>();
  private readonly rpcTimeoutMs: number;
  private readonly retryForMs: number;
  private next = 0;
  private readonly badUntil = new Map<string, number>();

  constructor(private readonly opts: JournalClientOptions) {
    if (opts.addrs.length === 0) throw new CodedError('JR_INVALID_ARGUMENT', 'JournalClient needs at least one journal address');
    this.rpcTimeoutMs = opts.rpcTimeoutMs ?? 15_000;
    this.retryForMs = opts.retryForMs ?? 10_000;
    this.pool = new ConnectionPool(opts.connectTimeoutMs ?? Math.min(2000, this.rpcTimeoutMs));
  }

  private isBad(addr: string, now: number): boolean {
    return (this.badUntil.get(addr) ?? 0) > now;
  }

  /** Round robin over the configured nodes, skipping for a while one that just failed to answer. */
  private anyNode(): JournalConnection {
    const n = this.opts.addrs.length;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const addr = this.opts.addrs[this.next++ % n]!;
      if (!this.isBad(addr, now)) return this.pool.get(addr);
    }
    return this.pool.get(this.opts.addrs[this.next++ % n]!);
  }

  /** Runs `fn` against the shard's leader (or any node when shard is null), retrying as described above. */
  private async withLeader<T>(shard: string | null, retryOn: ReadonlySet<ErrorCode>, fn: (c: JournalConnection) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retryForMs;
    let attempt = 0;
    for (;;) {
      const leader = shard === null ? undefined : this.leaders.get(shard);
      const conn = leader !== undefined ? this.pool.get(leader) : this.anyNode();
      try {
        return await fn(conn);
      } catch (e: unknown) {
        if (!isCodedError(e)) throw e;
        const now = Date.now();
        if (e.code === 'JR_UNREACHABLE' || e.code === 'JR_TIMEOUT') this.badUntil.set(conn.addr, now + BAD_NODE_MS);
        if (shard !== null) {
          // A node whose metadata is a moment behind names the leader it last knew; when that
          // node just failed to answer us, asking the others again finds the current one sooner.
          const hint = e.code === 'JR_NOT_SHARD_LEADER' ? e.details.leader_addr : undefined;
          if (typeof hint === 'string' && hint !== '' && hint !== conn.addr && !this.isBad(hint, now)) this.leaders.set(shard, hint);
          else this.leaders.delete(shard);
        }
        const retry = (retryOn.has(e.code) || e.details.not_sent === true) && e.details.outcome !== 'unknown';
        if (!retry || Date.now() >= deadline) throw e;
        attempt++;
        // Straight to a named leader; otherwise back off a little while an election runs.
        const named = shard !== null && this.leaders.has(shard);
        if (!named || attempt > 3) await sleep(Math.min(50 * attempt, 250));
      }
    }
  }

  async createShard(name: string, opts: { replicas?: number; keyIndex?: boolean } = {}): Promise<ShardInfo> {
    const r = await this.withLeader(null, new Set(['JR_UNREACHABLE', 'JR_CLOSED']), (c) =>
      c.call(Journal, Journal.method.createShard, { name, replicas: opts.replicas ?? 1, keyIndex: opts.keyIndex ?? false }, this.rpcTimeoutMs),
    );
    return r.shard!;
  }

  async deleteShard(name: string): Promise<void> {
    await this.withLeader(null, new Set(['JR_UNREACHABLE', 'JR_CLOSED']), (c) => c.call(Journal, Journal.method.deleteShard, { name }, this.rpcTimeoutMs));
    this.leaders.delete(name);
  }

  async listShards(): Promise<ShardInfo[]> {
    const r = await this.withLeader(null, new Set(['JR_UNREACHABLE', 'JR_CLOSED', 'JR_TIMEOUT']), (c) => c.call(Journal, Journal.method.listShards, {}, this.rpcTimeoutMs));
    return r.shards;
  }

  /** The shard's metadata; offsets are filled from its leader when one answers. */
  async describeShard(name: string): Promise<ShardInfo> {
    const r = await this.withLeader(null, new Set(['JR_UNREACHABLE', 'JR_CLOSED', 'JR_TIMEOUT']), (c) => c.call(Journal, Journal.method.describeShard, { name }, this.rpcTimeoutMs));
    const info = r.shard!;
    if (info.leaderAddr !== '') {
      try {
        const fromLeader = await this.pool.get(info.leaderAddr).call(Journal, Journal.method.describeShard, { name }, this.rpcTimeoutMs);
        return fromLeader.shard!;
      } catch {
        return info;
      }
    }
    return info;
  }

  async write(shard: string, records: readonly ClientRecord[], opts: WriteOptions = {}): Promise<{ baseOffset: number; lastOffset: number; leaderEpoch: number }> {
    const request = {
      shard,
      acks: opts.acks ?? Acks.QUORUM,
      timeoutMs: opts.timeoutMs ?? 0,
      records: records.map((r) => ({ value: r.value, key: r.key, timestamp: r.timestamp, headers: (r.headers ?? []).map(([name, value]) => ({ name, value })) })),
    };
    const r = await this.withLeader(shard, REDIRECT, (c) => c.call(Journal, Journal.method.write, request, this.rpcTimeoutMs));
    return { baseOffset: r.baseOffset, lastOffset: r.lastOffset, leaderEpoch: r.leaderEpoch };
  }

  async read(shard: string, from: ReadFrom, opts: ReadOptions = {}): Promise<{ records: ReadRecord[]; nextOffset: number; highWatermark: number }> {
    const f = 'offset' in from ? { case: 'offset' as const, value: from.offset } : 'timestamp' in from ? { case: 'timestamp' as const, value: from.timestamp } : { case: 'key' as const, value: from.key };
    const r = await this.withLeader(shard, TRANSIENT, (c) =>
      c.call(Journal, Journal.method.read, { shard, from: f, maxRecords: opts.maxRecords ?? 0, maxBytes: opts.maxBytes ?? 0, isolation: opts.isolation ?? Isolation.COMMITTED }, this.rpcTimeoutMs),
    );
    return { records: r.records.map(fromWire), nextOffset: r.nextOffset, highWatermark: r.highWatermark };
  }

  async getOffsets(shard: string): Promise<{ earliest: number; latest: number; highWatermark: number; leaderEpoch: number }> {
    const r = await this.withLeader(shard, TRANSIENT, (c) => c.call(Journal, Journal.method.getOffsets, { shard }, this.rpcTimeoutMs));
    return { earliest: r.earliest, latest: r.latest, highWatermark: r.highWatermark, leaderEpoch: r.leaderEpoch };
  }

  close(): void {
    this.pool.close();
  }
}
