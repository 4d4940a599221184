// ShardLog options: snake_case like the config keys the journal service will expose.
import { JournalStorageError } from './errors.js';

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface ShardLogOptions {
  /** Roll the active segment before a batch would make it larger than this (a lone larger batch still fits in an empty segment). */
  segment_bytes: number;
  /**
   * Roll the active segment when an incoming batch's newest timestamp is this much later than the
   * segment's first record (Kafka's rule: record time, not wall time, so replicas that copy
   * timestamps roll alike and back-dated records do not roll every batch).
   */
  segment_ms: number;
  /** applyRetention deletes sealed segments whose newest record is older than this; -1 = keep forever. */
  retention_ms: number;
  /** applyRetention deletes oldest sealed segments while the rest still hold at least this many bytes; -1 = no size limit. */
  retention_bytes: number;
  /** One sparse offset-index entry (and at most one time-index entry) per this many log bytes. */
  index_interval_bytes: number;
  /**
   * 'always': an append resolves only after fdatasync of its bytes (durable against power loss).
   * 'interval': resolves after write(); fdatasync at most every fsync_interval_ms.
   * 'never': resolves after write(); the OS flushes when it likes.
   * All three survive kill -9 of the process once write() returned (the page cache keeps it).
   */
  fsync: FsyncPolicy;
  fsync_interval_ms: number;
  /** Largest encoded batch one append may produce. */
  max_batch_bytes: number;
  /** Keep a key → latest offset map (rebuilt by a full scan on open) so readByKey works. */
  key_index: boolean;
  /** Clock in ms (injected for tests); default Date.now. */
  clock: () => number;
}

export const DEFAULT_SHARD_LOG_OPTIONS: Readonly<ShardLogOptions> = Object.freeze({
  segment_bytes: 1024 * 1024 * 1024,
  segment_ms: 7 * 24 * 3600 * 1000,
  retention_ms: 7 * 24 * 3600 * 1000,
  retention_bytes: -1,
  index_interval_bytes: 4096,
  fsync: 'always',
  fsync_interval_ms: 1000,
  max_batch_bytes: 16 * 1024 * 1024,
  key_index: false,
  clock: Date.now,
});

/** Positions in the sparse index are u32, and one batch must still fit after a full segment. */
const MAX_SEGMENT_BYTES = 2 ** 31 - 1;

function bad(key: string, why: string): never {
  throw new JournalStorageError('JR_INVALID_OPTIONS', `option ${key}: ${why}`, { key });
}

function int(o: Record<string, unknown>, key: string, min: number, max: number, allowMinusOne = false): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(key, `expected an integer, got ${String(v)}`);
  if (allowMinusOne && v === -1) return v;
  if (v < min || v > max) bad(key, `expected ${min}..${max}${allowMinusOne ? ' or -1' : ''}, got ${v}`);
  return v;
}

export function resolveShardLogOptions(input: Partial<ShardLogOptions> = {}): Readonly<ShardLogOptions> {
  const known = Object.keys(DEFAULT_SHARD_LOG_OPTIONS);
  for (const k of Object.keys(input)) if (!known.includes(k)) bad(k, 'unknown option');
  const o: Record<string, unknown> = { ...DEFAULT_SHARD_LOG_OPTIONS };
  for (const [k, v] of Object.entries(input)) if (v !== undefined) o[k] = v;
  const out: ShardLogOptions = {
    segment_bytes: int(o, 'segment_bytes', 64, MAX_SEGMENT_BYTES),
    segment_ms: int(o, 'segment_ms', 1, Number.MAX_SAFE_INTEGER),
    retention_ms: int(o, 'retention_ms', 0, Number.MAX_SAFE_INTEGER, true),
    retention_bytes: int(o, 'retention_bytes', 0, Number.MAX_SAFE_INTEGER, true),
    index_interval_bytes: int(o, 'index_interval_bytes', 1, MAX_SEGMENT_BYTES),
    fsync: o.fsync as FsyncPolicy,
    fsync_interval_ms: int(o, 'fsync_interval_ms', 1, 3600_000),
    max_batch_bytes: int(o, 'max_batch_bytes', 64, MAX_SEGMENT_BYTES),
    key_index: o.key_index as boolean,
    clock: o.clock as () => number,
  };
  if (!['always', 'interval', 'never'].includes(out.fsync)) bad('fsync', `expected always|interval|never, got ${String(out.fsync)}`);
  if (typeof out.key_index !== 'boolean') bad('key_index', 'expected a boolean');
  if (typeof out.clock !== 'function') bad('clock', 'expected a function');
  return Object.freeze(out);
}
