/**
 * The durable RaftLogStorage: LevelDB (classic-level) on disk, a MemoryRaftStorage in front of
 * it for the core's synchronous reads.
 *
 * The RaftLogStorage write methods update memory and queue the matching LevelDB operations;
 * `flush()` writes the queue as one atomic batch, with fsync when asked. The driver's loop is:
 *
 *   const rd = node.ready();
 *   await storage.persist(rd);       // snapshot + entries + hard state, fsync if rd.mustSync
 *   apply(rd); send(rd.messages);    // only after persist resolved: persist-before-send
 *   node.advance(rd);
 *
 * If a flush rejects, memory is ahead of disk and the node must stop (restart rebuilds memory
 * from disk). Records (keys are bytes):
 *   'h'                    hard state: term, vote, commit (3 x float64 big-endian)
 *   's'                    snapshot: u32 length of metadata JSON, metadata JSON, data
 *   'e' + u64be(index)     entry: float64 term, u8 type (0 normal, 1 conf-change), data
 * Entries at or below the snapshot index are dropped on load (the snapshot covers them).
 */
import { ClassicLevel } from 'classic-level';
import { RaftError } from './errors.js';
import { MemoryRaftStorage, type RaftInitialState, type RaftLogStorage } from './storage.js';
import type { ConfState, Entry, HardState, Ready, Snapshot, SnapshotMetadata } from './types.js';

type Op = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array };

const HARD_KEY = Uint8Array.of(0x68); // 'h'
const SNAP_KEY = Uint8Array.of(0x73); // 's'
const ENTRY_PREFIX = 0x65; // 'e'

/** A plain Uint8Array copy (LevelDB hands out Buffers, which compare unequal to Uint8Arrays). */
function copyBytes(b: Uint8Array, start: number, end = b.byteLength): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}

function entryKey(index: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = ENTRY_PREFIX;
  const v = new DataView(k.buffer);
  v.setUint32(1, Math.floor(index / 2 ** 32));
  v.setUint32(5, index >>> 0);
  return k;
}

function keyIndex(k: Uint8Array): number {
  const v = new DataView(k.buffer, k.byteOffset, k.byteLength);
  return v.getUint32(1) * 2 ** 32 + v.getUint32(5);
}

function encodeHardState(hs: HardState): Uint8Array {
  const b = new Uint8Array(24);
  const v = new DataView(b.buffer);
  v.setFloat64(0, hs.term);
  v.setFloat64(8, hs.vote);
  v.setFloat64(16, hs.commit);
  return b;
}

function decodeHardState(b: Uint8Array): HardState {
  if (b.byteLength !== 24) throw new RaftError('RAFT_CORRUPT', `hard state record of ${b.byteLength} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { term: v.getFloat64(0), vote: v.getFloat64(8), commit: v.getFloat64(16) };
}

function encodeEntry(e: Entry): Uint8Array {
  const b = new Uint8Array(9 + e.data.byteLength);
  const v = new DataView(b.buffer);
  v.setFloat64(0, e.term);
  v.setUint8(8, e.type === 'normal' ? 0 : 1);
  b.set(e.data, 9);
  return b;
}

function decodeEntry(index: number, b: Uint8Array): Entry {
  if (b.byteLength < 9) throw new RaftError('RAFT_CORRUPT', `entry ${index} record of ${b.byteLength} bytes`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const t = v.getUint8(8);
  if (t > 1) throw new RaftError('RAFT_CORRUPT', `entry ${index} has unknown type ${t}`);
  return { index, term: v.getFloat64(0), type: t === 0 ? 'normal' : 'conf-change', data: copyBytes(b, 9) };
}

function encodeSnapshot(s: Snapshot): Uint8Array {
  const meta = new TextEncoder().encode(JSON.stringify(s.metadata));
  const b = new Uint8Array(4 + meta.byteLength + s.data.byteLength);
  new DataView(b.buffer).setUint32(0, meta.byteLength);
  b.set(meta, 4);
  b.set(s.data, 4 + meta.byteLength);
  return b;
}

function decodeSnapshot(b: Uint8Array): Snapshot {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = b.byteLength >= 4 ? v.getUint32(0) : -1;
  if (len < 0 || 4 + len > b.byteLength) throw new RaftError('RAFT_CORRUPT', 'snapshot record truncated');
  const metadata = JSON.parse(new TextDecoder().decode(b.subarray(4, 4 + len))) as SnapshotMetadata;
  return { metadata, data: copyBytes(b, 4 + len) };
}

export class LevelRaftStorage implements RaftLogStorage {
  private readonly db: ClassicLevel<Uint8Array, Uint8Array>;
  private readonly mem: MemoryRaftStorage;
  private queue: Op[] = [];
  /** Entry keys below this index may still be on disk (dropped lazily by compaction). */
  private diskFirst: number;

  private constructor(db: ClassicLevel<Uint8Array, Uint8Array>, mem: MemoryRaftStorage, diskFirst: number) {
    this.db = db;
    this.mem = mem;
    this.diskFirst = diskFirst;
  }

  /** Opens (creating if needed) the store in `dir` and loads it into memory. */
  static async open(dir: string): Promise<LevelRaftStorage> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const mem = new MemoryRaftStorage();
    const snapBytes = await db.get(SNAP_KEY);
    if (snapBytes) mem.applySnapshot(decodeSnapshot(snapBytes));
    const hardBytes = await db.get(HARD_KEY);
    if (hardBytes) mem.setHardState(decodeHardState(hardBytes));
    const after = mem.snapshot().metadata.index;
    let diskFirst = Infinity;
    const ents: Entry[] = [];
    for await (const [k, v] of db.iterator({ gte: entryKey(0), lte: entryKey(2 ** 53 - 1) })) {
      const index = keyIndex(k);
      diskFirst = Math.min(diskFirst, index);
      if (index <= after) continue;
      const expected = ents.length === 0 ? after + 1 : ents[ents.length - 1]!.index + 1;
      // A gap means the tail after it was never acknowledged as one batch; keep the prefix.
      if (index !== expected) break;
      ents.push(decodeEntry(index, v));
    }
    mem.append(ents);
    const hs = mem.hard();
    if (hs.commit > mem.lastIndex()) {
      await db.close();
      throw new RaftError('RAFT_CORRUPT', `${dir}: hard state commit ${hs.commit} beyond last stored entry ${mem.lastIndex()}`);
    }
    return new LevelRaftStorage(db, mem, diskFirst === Infinity ? after + 1 : diskFirst);
  }

  // ---- reads (the core's view)

  initialState(): RaftInitialState {
    return this.mem.initialState();
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    return this.mem.entries(lo, hi, maxBytes);
  }

  term(i: number): number {
    return this.mem.term(i);
  }

  firstIndex(): number {
    return this.mem.firstIndex();
  }

  lastIndex(): number {
    return this.mem.lastIndex();
  }

  snapshot(): Snapshot {
    return this.mem.snapshot();
  }

  hardState(): HardState {
    return this.mem.hard();
  }

  // ---- writes (queued until flush)

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const oldLast = this.mem.lastIndex();
    this.mem.append(entries);
    const first = this.mem.firstIndex();
    for (const e of entries) if (e.index >= first) this.queue.push({ type: 'put', key: entryKey(e.index), value: encodeEntry(e) });
    for (let i = this.mem.lastIndex() + 1; i <= oldLast; i++) this.queue.push({ type: 'del', key: entryKey(i) });
  }

  setHardState(hs: HardState): void {
    this.mem.setHardState(hs);
    this.queue.push({ type: 'put', key: HARD_KEY, value: encodeHardState(hs) });
  }

  applySnapshot(snap: Snapshot): void {
    const oldLast = this.mem.lastIndex();
    this.mem.applySnapshot(snap);
    this.queue.push({ type: 'put', key: SNAP_KEY, value: encodeSnapshot(snap) });
    for (let i = this.diskFirst; i <= oldLast; i++) this.queue.push({ type: 'del', key: entryKey(i) });
    this.diskFirst = snap.metadata.index + 1;
  }

  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    const snap = this.mem.createSnapshot(index, confState, data);
    this.queue.push({ type: 'put', key: SNAP_KEY, value: encodeSnapshot(snap) });
    return snap;
  }

  compact(index: number): void {
    this.mem.compact(index);
    for (let i = this.diskFirst; i <= index; i++) this.queue.push({ type: 'del', key: entryKey(i) });
    this.diskFirst = Math.max(this.diskFirst, index + 1);
  }

  /** Writes every queued change as one atomic batch; `sync` fsyncs before resolving. */
  async flush(options: { sync: boolean } = { sync: true }): Promise<void> {
    if (this.queue.length === 0) return;
    const ops = this.queue;
    this.queue = [];
    await this.db.batch(ops, { sync: options.sync });
  }

  /** Persists a Ready's snapshot, entries and hard state; resolve before sending its messages. */
  async persist(rd: Ready): Promise<void> {
    if (rd.snapshot) this.applySnapshot(rd.snapshot);
    this.append(rd.entries);
    if (rd.hardState) this.setHardState(rd.hardState);
    await this.flush({ sync: rd.mustSync });
  }

  async close(): Promise<void> {
    await this.flush({ sync: true });
    await this.db.close();
  }
}
