// The journal driver: the broker's state as a log in the journal engine (README.md, "journal").
//
// - The state lives in memory (s3-state.ts) and in one *generation* shard `<prefix>.<gen>`: a
//   snapshot, then one record per group of apply() batches. apply() calls queue up; whenever no
//   write is in flight the queued calls are validated and applied to the memory state one by one,
//   and those that pass are written as ONE journal record (group commit; a group larger than a
//   record is split into parts). They resolve once the journal acknowledged the write with the
//   configured acks; if it fails they all reject and the memory state is rolled back.
// - Rotation keeps open() short: once the groups written since the snapshot outweigh it (and
//   `compactAfterBytes`), or the generation is older than `rotateAfterMs`, the state is written as
//   the snapshot of generation gen+1 while writes go on; then the groups written meanwhile are
//   copied after it, followed by the live marker, writes move to the new shard and the old one is
//   deleted (which is how the journal gives the space back: it has no per-record delete).
// - open() takes the newest generation that has its live marker, replays it, and deletes the
//   others (superseded ones, or an interrupted rotation).
//
// One writer per shard prefix; durability is the journal's: a resolved apply() is a record the
// journal acknowledged with `acks` (fsynced on the leader; on a majority with quorum).

import { isCodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { silentLogger } from '../../common/log.js';
import { StorageError } from './driver.js';
import { embeddedJournalApi, grpcJournalApi, writeOutcome, type JournalAcks, type JournalApi } from './journal-api.js';
import { encodeLive, encodeRecords, RECORD_HEADER_BYTES } from './journal-records.js';
import { CorruptGeneration, GenerationReplay } from './journal-replay.js';
import { encodeBatches, encodeSnapshot } from './s3-codec.js';
import { StorageState } from './s3-state.js';
import { StateBackedStorage } from './state-backed-storage.js';

export interface JournalStorageOptions {
  /** Journal nodes (`host:port`); empty = a journal embedded in this process under `<dataDir>/journal`. */
  addrs: readonly string[];
  /** Needed when `addrs` is empty. */
  dataDir?: string;
  /** Shards are `<shardPrefix>.<generation, 10 digits>`; one writer (broker) per prefix. Default "broker-storage". */
  shardPrefix?: string;
  /** Journal acks for every write: "1", "quorum" (default) or "all". */
  acks?: JournalAcks;
  /** Replicas of each generation shard (default 1; at most the number of journal nodes). */
  replicas?: number;
  /** Rotate once the groups written since the snapshot exceed this and the snapshot's size (default 64 MiB). */
  compactAfterBytes?: number;
  /** Rotate a generation older than this (default 24 h), so the journal's age retention never reaches a live one. */
  rotateAfterMs?: number;
  /** Largest journal record written (default 4 MiB); bigger groups and snapshots are split. */
  maxRecordBytes?: number;
  /** Deadline of each journal request, and how long a leader change is waited out (default 20 s). */
  timeoutMs?: number;
  /** The journal to use instead of `addrs` (tests). */
  api?: JournalApi;
  log?: Logger;
}

interface Rotation {
  gen: number;
  shard: string;
  snapshotBytes: number;
  /** Records of the groups written to the old generation since the snapshot was taken. */
  tail: Buffer[];
  tailBytes: number;
  /** Set when the snapshot is written (or failed): the writer loop finishes the switch. */
  done: boolean;
  error: unknown;
}

const SHARD_PREFIX = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,180}$/;
/** Bytes asked for per read on open(). */
const READ_BYTES = 16 * 1024 * 1024;

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && !e.message.includes(code) ? `${e.message} [${code}]` : e.message;
}

function positive(n: number, what: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new TypeError(`JournalStorage: ${what} must be a positive number`);
  return n;
}

export class JournalStorage extends StateBackedStorage {
  readonly name = 'journal';
  readonly prefix: string;
  private label: string;
  private api: JournalApi | null = null;
  private readonly opts: JournalStorageOptions;
  private readonly acks: JournalAcks;
  private readonly replicas: number;
  private readonly compactAfterBytes: number;
  private readonly rotateAfterMs: number;
  private readonly maxRecordBytes: number;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private gen = 0;
  private shard = '';
  private genStartedAt = 0;
  /** Sequence of the last group written. */
  private seq = 0;
  /** Offset the next record must get in the shard; null after a write with an unknown outcome. */
  private nextOffset: number | null = null;
  private snapshotBytes = 0;
  private bytesSinceSnapshot = 0;
  /** No rotation before this time (set after a failed one). */
  private rotateNotBefore = 0;
  private rotation: Rotation | null = null;
  /** A generation with a live marker that may exist and must be deleted before the next write. */
  private mustDelete: string | null = null;
  private running = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: JournalStorageOptions) {
    super();
    this.opts = opts;
    this.prefix = opts.shardPrefix ?? 'broker-storage';
    if (!SHARD_PREFIX.test(this.prefix)) {
      throw new TypeError(`JournalStorage: shard prefix must be 1..181 of A-Z a-z 0-9 _ . - and not start with ".", got ${JSON.stringify(this.prefix)}`);
    }
    if (opts.api === undefined && opts.addrs.length === 0 && !opts.dataDir) throw new TypeError('JournalStorage: dataDir is required for the embedded journal (no addrs)');
    this.acks = opts.acks ?? 'quorum';
    if (!['1', 'quorum', 'all'].includes(this.acks)) throw new TypeError(`JournalStorage: acks must be "1", "quorum" or "all", got ${JSON.stringify(this.acks)}`);
    this.replicas = opts.replicas ?? 1;
    if (!Number.isInteger(this.replicas) || this.replicas < 1 || this.replicas > 15) throw new TypeError('JournalStorage: replicas must be 1..15');
    this.compactAfterBytes = positive(opts.compactAfterBytes ?? 64 * 1024 * 1024, 'compactAfterBytes');
    this.rotateAfterMs = positive(opts.rotateAfterMs ?? 24 * 3600_000, 'rotateAfterMs');
    this.maxRecordBytes = positive(opts.maxRecordBytes ?? 4 * 1024 * 1024, 'maxRecordBytes');
    if (this.maxRecordBytes <= RECORD_HEADER_BYTES || this.maxRecordBytes > 12 * 1024 * 1024) {
      throw new TypeError('JournalStorage: maxRecordBytes must be above 22 bytes and at most 12 MiB (the journal takes 16 MiB a write)');
    }
    this.timeoutMs = positive(opts.timeoutMs ?? 20_000, 'timeoutMs');
    this.log = opts.log ?? silentLogger;
    this.label = opts.addrs.length > 0 ? `journal ${opts.addrs.join(',')}` : `embedded journal in ${opts.dataDir ?? '?'}`;
  }

  /** `<journal>/<prefix>`, used in every error message. */
  get where(): string {
    return `${this.label} prefix ${this.prefix}`;
  }

  /** The current generation and its shard, the last group's sequence (tests, metrics). */
  position(): { gen: number; shard: string; seq: number; rotating: boolean } {
    return { gen: this.gen, shard: this.shard, seq: this.seq, rotating: this.rotation !== null };
  }

  /** Resolves when no rotation is in progress (and the writer loop is idle). */
  async settled(): Promise<void> {
    while (this.rotation !== null || this.running) await Promise.allSettled([...this.inflight]);
  }

  // -------------------------------------------------------------------------------------------

  protected describeError(e: unknown): string {
    return describe(e);
  }

  protected async connect(): Promise<void> {
    if (this.api === null) {
      this.api =
        this.opts.api ??
        (this.opts.addrs.length > 0
          ? grpcJournalApi({ addrs: this.opts.addrs, acks: this.acks, timeoutMs: this.timeoutMs })
          : await embeddedJournalApi({ dataDir: this.opts.dataDir!, acks: this.acks, timeoutMs: this.timeoutMs, log: this.log.child('journal') }));
      this.label = this.api.label;
    }
    await this.load();
  }

  protected opened(): void {
    const every = Math.min(Math.max(this.rotateAfterMs / 4, 1000), 600_000);
    this.timer = setInterval(() => this.kick(), every);
    this.timer.unref();
  }

  /** No more rotations once closing; close() then waits for the one in progress. */
  protected override beforeDrain(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  protected async release(): Promise<void> {
    const api = this.api;
    this.api = null;
    if (api !== null && this.opts.api === undefined) await api.close().catch(() => undefined);
  }

  private shardName(gen: number): string {
    return `${this.prefix}.${String(gen).padStart(10, '0')}`;
  }

  private genOf(shard: string): number | null {
    if (!shard.startsWith(`${this.prefix}.`)) return null;
    const rest = shard.slice(this.prefix.length + 1);
    return /^\d{10}$/.test(rest) ? Number(rest) : null;
  }

  protected kick(): void {
    if (this.running || this.api === null) return;
    this.running = true;
    void this.track(
      this.loop()
        .catch((e: unknown) => {
          // A bug, not a journal failure (those are handled where they happen): fail what waits.
          const err = new StorageError(`journal storage at ${this.where}: internal error: ${describe(e)}`, { cause: e });
          for (const t of this.queue.splice(0)) if (t.kind === 'apply') t.reject(err);
        })
        .finally(() => {
          this.running = false;
          if (this.queue.length > 0 || this.rotation?.done === true) this.kick();
        }),
    );
  }

  /** The one writer: switches generations, serves reads and writes groups, one thing at a time. */
  private async loop(): Promise<void> {
    for (;;) {
      if (this.rotation?.done === true) await this.finishRotation();
      if (this.mustDelete !== null && !(await this.deleteInterrupted())) {
        // The journal is unreachable: refuse writes (reads are still right) until it answers.
        this.rejectApplies(
          new StorageError(`journal storage at ${this.where}: apply() refused, nothing applied: shard ${this.mustDelete} of an interrupted rotation cannot be deleted yet`),
        );
      }
      if (this.rotation === null && this.status === 'open' && this.rotationDue()) this.startRotation();
      const head = this.queue[0];
      if (head === undefined) return;
      if (head.kind === 'read') {
        this.queue.shift();
        head.run();
        continue;
      }
      await this.writeGroup();
    }
  }

  private rejectApplies(err: StorageError): void {
    const keep = this.queue.filter((t) => t.kind === 'read');
    for (const t of this.queue) if (t.kind === 'apply') t.reject(err);
    this.queue.splice(0, this.queue.length, ...keep);
  }

  private async writeGroup(): Promise<void> {
    // Fenced by a failed append: the batches queued behind it must not reach the shard either.
    const { group, undos } = this.takeGroup(this.maxRecordBytes, true);
    if (group.length === 0) return;
    const seq = this.seq + 1;
    const body = encodeBatches(seq, group.map((t) => t.ops));
    const records = encodeRecords('batch', seq, body, this.maxRecordBytes);
    let written = 0;
    try {
      // One journal write per record: a write is one journal batch (at most 16 MiB).
      for (const rec of records) {
        await this.append(this.shard, [rec]);
        written++;
      }
    } catch (e: unknown) {
      this.rollback(undos);
      // An earlier part cannot make a group: the reader drops a group without its last part.
      const last = written === records.length - 1;
      const outcome = this.fenced !== null ? 'fenced' : last ? writeOutcome(e) : 'none';
      const what =
        outcome === 'none'
          ? 'nothing applied'
          : outcome === 'fenced'
            ? 'refused'
            : 'the journal gave no definite answer, so the batch may or may not be applied (as after a lost COMMIT)';
      const err = new StorageError(`journal storage at ${this.where}: apply() could not write group ${seq} to ${this.shard}, ${what}: ${describe(e)}`, { cause: e });
      for (const t of group) t.reject(err);
      return;
    }
    this.seq = seq;
    this.bytesSinceSnapshot += body.length;
    const rot = this.rotation;
    if (rot !== null && rot.error === null) {
      rot.tail.push(...records);
      rot.tailBytes += body.length;
    }
    for (const t of group) t.resolve();
  }

  /** One journal write to the active generation, checking that nobody else appends to it. */
  private async append(shard: string, values: Buffer[]): Promise<void> {
    let r: { baseOffset: number; lastOffset: number };
    try {
      r = await this.api!.write(shard, values);
    } catch (e: unknown) {
      // After a failure without a definite answer the log's end is unknown until the next write.
      if (writeOutcome(e) === 'unknown') this.nextOffset = null;
      throw e;
    }
    if (this.nextOffset !== null && r.baseOffset !== this.nextOffset) {
      this.fenced = `another writer appended to ${shard} (expected offset ${this.nextOffset}, got ${r.baseOffset}); one writer per shard prefix`;
      this.log.error('journal storage fenced', { shard, reason: this.fenced });
      throw new StorageError(`journal storage at ${this.where}: ${this.fenced}`);
    }
    this.nextOffset = r.lastOffset + 1;
  }

  // ---------------------------------------------------------------- rotation

  private rotationDue(): boolean {
    if (this.fenced !== null || this.mustDelete !== null || Date.now() < this.rotateNotBefore) return false;
    if (Date.now() - this.genStartedAt >= this.rotateAfterMs) return true;
    return this.bytesSinceSnapshot >= this.compactAfterBytes && this.bytesSinceSnapshot >= this.snapshotBytes;
  }

  /** Called by the loop between writes: the memory state is exactly "after group seq". */
  private startRotation(): void {
    const gen = this.gen + 1;
    const shard = this.shardName(gen);
    const snapshot = encodeSnapshot(this.seq, this.state);
    const rot: Rotation = { gen, shard, snapshotBytes: snapshot.length, tail: [], tailBytes: 0, done: false, error: null };
    this.rotation = rot;
    const records = encodeRecords('snapshot', this.seq, snapshot, this.maxRecordBytes);
    void this.track(
      (async () => {
        try {
          await this.api!.createShard(shard, this.replicas);
          for (const rec of records) await this.api!.write(shard, [rec]);
        } catch (e: unknown) {
          rot.error = e;
        }
        rot.done = true;
        this.kick();
      })(),
    );
  }

  /** In the loop, no write in flight: copy the groups written meanwhile, mark live, switch. */
  private async finishRotation(): Promise<void> {
    const rot = this.rotation!;
    const old = this.shard;
    let liveTried = false;
    let end = 0;
    try {
      if (rot.error !== null) throw rot.error;
      const records = [...rot.tail, encodeLive(this.seq)];
      // As few writes as fit in a journal batch; the live marker rides with the last of them.
      let i = 0;
      while (i < records.length) {
        const batch: Buffer[] = [];
        let size = 0;
        while (i < records.length && (batch.length === 0 || size + records[i]!.length <= this.maxRecordBytes)) {
          size += records[i]!.length;
          batch.push(records[i++]!);
        }
        if (i === records.length) liveTried = true;
        end = (await this.api!.write(rot.shard, batch)).lastOffset + 1;
      }
    } catch (e: unknown) {
      this.rotation = null;
      this.rotateNotBefore = Date.now() + Math.min(this.rotateAfterMs / 4, 30_000);
      this.log.warn('journal storage rotation failed; writes stay on the current generation', { shard: rot.shard, err: describe(e) });
      if (liveTried) {
        // Its live marker may have landed: open() would take that generation, so it must go first.
        this.mustDelete = rot.shard;
      } else {
        // Without a live marker open() ignores it; delete it when the journal lets us.
        void this.track(this.api!.deleteShard(rot.shard).catch(() => undefined));
      }
      return;
    }
    this.gen = rot.gen;
    this.shard = rot.shard;
    this.nextOffset = end;
    this.genStartedAt = Date.now();
    this.snapshotBytes = rot.snapshotBytes;
    this.bytesSinceSnapshot = rot.tailBytes;
    this.rotation = null;
    this.log.info('journal storage rotated', { shard: rot.shard, snapshotBytes: rot.snapshotBytes });
    // A leftover is harmless (open() deletes generations older than the live one).
    void this.track(this.api!.deleteShard(old).catch(() => undefined));
  }

  private async deleteInterrupted(): Promise<boolean> {
    const shard = this.mustDelete!;
    try {
      await this.api!.deleteShard(shard);
    } catch (e: unknown) {
      if (!isCodedError(e) || e.code !== 'JR_SHARD_NOT_FOUND') return false;
    }
    this.mustDelete = null;
    return true;
  }

  // ---------------------------------------------------------------- open

  /** Newest generation with a live marker; the others are deleted. */
  private async load(): Promise<void> {
    const api = this.api!;
    const gens = (await api.listShards())
      .map((s) => this.genOf(s))
      .filter((g): g is number => g !== null)
      .sort((a, b) => b - a);
    let chosen: { gen: number; replay: GenerationReplay; end: number; startedAt: number } | null = null;
    for (const gen of gens) {
      const r = await this.readGeneration(gen);
      if (r.replay.live) {
        chosen = { gen, ...r };
        break;
      }
    }
    const others = gens.filter((g) => g !== chosen?.gen);
    if (chosen === null) {
      await this.createGeneration((gens[0] ?? 0) + 1, new StorageState(), 0);
    } else {
      this.state = chosen.replay.state;
      this.gen = chosen.gen;
      this.shard = this.shardName(chosen.gen);
      this.seq = chosen.replay.seq;
      this.nextOffset = chosen.end;
      this.genStartedAt = chosen.startedAt;
      this.snapshotBytes = chosen.replay.snapshotBytes;
      this.bytesSinceSnapshot = chosen.replay.bytesAfterSnapshot;
      // A generation that has grown old (the broker was down, say) is rewritten before anything
      // is appended, so an append never rolls it into a segment the journal's retention can drop.
      if (Date.now() - this.genStartedAt >= this.rotateAfterMs) {
        others.push(chosen.gen);
        await this.createGeneration(Math.max(chosen.gen, gens[0]!) + 1, this.state, this.seq);
      }
    }
    for (const g of others) await api.deleteShard(this.shardName(g)).catch(() => undefined);
  }

  /** Creates generation `gen` holding `state` (after group `seq`) and makes it the current one. */
  private async createGeneration(gen: number, state: StorageState, seq: number): Promise<void> {
    const api = this.api!;
    const shard = this.shardName(gen);
    await api.createShard(shard, this.replicas);
    const snapshot = encodeSnapshot(seq, state);
    let end = 0;
    const records = [...encodeRecords('snapshot', seq, snapshot, this.maxRecordBytes), encodeLive(seq)];
    for (const rec of records) end = (await api.write(shard, [rec])).lastOffset + 1;
    this.state = state;
    this.gen = gen;
    this.shard = shard;
    this.seq = seq;
    this.nextOffset = end;
    this.genStartedAt = Date.now();
    this.snapshotBytes = snapshot.length;
    this.bytesSinceSnapshot = 0;
  }

  /**
   * Replays one generation. Waits (up to timeoutMs) until every record its leader holds is
   * committed, so open() never starts from a prefix of what was acknowledged.
   */
  private async readGeneration(gen: number): Promise<{ replay: GenerationReplay; end: number; startedAt: number }> {
    const api = this.api!;
    const shard = this.shardName(gen);
    const deadline = Date.now() + this.timeoutMs;
    let o = await api.offsets(shard);
    while (o.highWatermark < o.latest) {
      if (Date.now() >= deadline) {
        throw new StorageError(`cannot open journal storage at ${this.where}: ${shard} has records up to ${o.latest} but only ${o.highWatermark} are committed (replicas down?)`);
      }
      await new Promise((r) => setTimeout(r, 50));
      o = await api.offsets(shard);
    }
    if (o.earliest > 0) {
      throw new StorageError(`cannot open journal storage at ${this.where}: the journal's retention removed the start of ${shard} (earliest offset ${o.earliest}); refusing to start without it`);
    }
    const replay = new GenerationReplay(shard);
    let offset = 0;
    let startedAt = 0;
    while (offset < o.latest) {
      const r = await api.read(shard, offset, READ_BYTES);
      if (r.records.length === 0) throw new StorageError(`cannot open journal storage at ${this.where}: ${shard} returned no record at offset ${offset} (end ${o.latest})`);
      for (const rec of r.records) {
        if (rec.offset === 0) startedAt = rec.timestamp;
        try {
          replay.feed(rec.offset, rec.value);
        } catch (e: unknown) {
          if (e instanceof CorruptGeneration) throw new StorageError(`cannot open journal storage at ${this.where}: ${shard} ${e.message}`, { cause: e });
          throw e;
        }
      }
      offset = r.nextOffset;
    }
    return { replay, end: o.latest, startedAt };
  }
}
