// The journal operations the journal storage driver needs, over either journal nodes reached by
// gRPC (JournalClient) or a journal node embedded in this process (standalone: no listener, no
// serialization). Both raise the journal's CodedErrors (JR_*).

import type { CodedError } from '../../common/errors.js';
import { isCodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { Acks, Isolation, JournalClient } from '../../journal/client/index.js';
import { startJournal } from '../../journal/service/start-journal.js';

export type JournalAcks = '1' | 'quorum' | 'all';

export interface JournalRecordView {
  offset: number;
  timestamp: number;
  value: Uint8Array;
}

export interface JournalApi {
  /** Where the journal is, for error messages. */
  readonly label: string;
  listShards(): Promise<string[]>;
  createShard(name: string, replicas: number): Promise<void>;
  deleteShard(name: string): Promise<void>;
  /** Appends the records as one journal batch (all or none). */
  write(shard: string, values: readonly Uint8Array[]): Promise<{ baseOffset: number; lastOffset: number }>;
  /** Committed records from `offset`; at least one record when there is one, however large. */
  read(shard: string, offset: number, maxBytes: number): Promise<{ records: JournalRecordView[]; nextOffset: number; highWatermark: number }>;
  offsets(shard: string): Promise<{ earliest: number; latest: number; highWatermark: number }>;
  close(): Promise<void>;
}

const ACKS: Record<JournalAcks, Acks> = { '1': Acks.ONE, quorum: Acks.QUORUM, all: Acks.ALL };

/**
 * Codes that prove a write appended nothing (the journal checks them before appending); anything
 * else, and any error marked `outcome: 'unknown'`, may have appended the records.
 */
const NOT_APPENDED = new Set([
  'JR_NOT_SHARD_LEADER',
  'JR_SHARD_NOT_FOUND',
  'JR_NOT_ENOUGH_REPLICAS',
  'JR_INVALID_ARGUMENT',
  'JR_INVALID_RECORD',
  'JR_BATCH_TOO_LARGE',
  'JR_RECORD_TOO_LARGE',
  'JR_CLOSED',
]);

/** 'none' when the failed write certainly appended nothing, else 'unknown'. */
export function writeOutcome(e: unknown): 'none' | 'unknown' {
  if (!isCodedError(e)) return 'unknown';
  const c: CodedError = e;
  if (c.details.outcome === 'unknown') return 'unknown';
  if (c.details.not_sent === true) return 'none';
  return NOT_APPENDED.has(c.code) ? 'none' : 'unknown';
}

export function grpcJournalApi(opts: { addrs: readonly string[]; acks: JournalAcks; timeoutMs: number }): JournalApi {
  const client = new JournalClient({ addrs: opts.addrs, rpcTimeoutMs: opts.timeoutMs, retryForMs: opts.timeoutMs });
  const acks = ACKS[opts.acks];
  return {
    label: `journal ${opts.addrs.join(',')}`,
    listShards: async () => (await client.listShards()).map((s) => s.name),
    createShard: async (name, replicas) => {
      await client.createShard(name, { replicas });
    },
    deleteShard: (name) => client.deleteShard(name),
    write: (shard, values) => client.write(shard, values.map((value) => ({ value })), { acks, timeoutMs: opts.timeoutMs }),
    read: async (shard, offset, maxBytes) => {
      const r = await client.read(shard, { offset }, { maxRecords: 1000, maxBytes, isolation: Isolation.COMMITTED });
      return { records: r.records, nextOffset: r.nextOffset, highWatermark: r.highWatermark };
    },
    offsets: (shard) => client.getOffsets(shard),
    close: async () => client.close(),
  };
}

/**
 * A standalone journal node in this process, data under `<dataDir>/journal` (shards in
 * `<dataDir>/journal/<shard>/`, the shard list in `.meta.json`). Writes are fsynced before they
 * resolve, as by `journal start`.
 */
export async function embeddedJournalApi(opts: { dataDir: string; acks: JournalAcks; timeoutMs: number; log: Logger }): Promise<JournalApi> {
  const j = await startJournal(
    { node_id: 1, cluster_name: 'embedded', data_dir: opts.dataDir, grpc_port: -1, placement: { addrs: [] }, log: { level: 'warn' } },
    opts.log,
  );
  const node = j.node;
  const acks = ACKS[opts.acks];
  return {
    label: `embedded journal in ${opts.dataDir}`,
    listShards: async () => (await node.listShards()).map((v) => v.meta.name),
    createShard: async (name, replicas) => {
      await node.createShard(name, replicas, false);
    },
    deleteShard: (name) => node.deleteShard(name),
    write: async (shard, values) => {
      const now = Date.now();
      const r = await node.write(shard, values.map((value) => ({ value, timestamp: now })), acks, opts.timeoutMs);
      return { baseOffset: r.baseOffset, lastOffset: r.lastOffset };
    },
    read: async (shard, offset, maxBytes) => {
      const { records, hw } = await node.read(shard, { offset, maxRecords: 1000, maxBytes, committed: true });
      const next = records.length > 0 ? records[records.length - 1]!.offset + 1 : offset;
      return { records, nextOffset: next, highWatermark: hw };
    },
    offsets: async (shard) => {
      const o = node.offsets(shard);
      return { earliest: o.earliest, latest: o.latest, highWatermark: o.hw };
    },
    close: () => j.close(),
  };
}
