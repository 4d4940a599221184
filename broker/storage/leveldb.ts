// The embedded driver (classic-level), the standalone default. Each apply() is one LevelDB write
// batch, so it lands whole or not at all. Message bodies are stored once under `m/<id>` and
// reference-counted by outbound entries: the counts are rebuilt from the `o/` entries on open(),
// kept in memory, and a body is deleted in the same batch as the op that drops its last
// reference. Key layout and durability model: README.md.

import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ClassicLevel } from 'classic-level';
import {
  StorageError,
  type DelayedRecord,
  type OutboundSummary,
  type OutboundWithMessage,
  type SessionRecord,
  type StorageDriver,
  type StorageOp,
  type StoredMessage,
  type SubscriptionRecord,
} from './driver.js';
import {
  NS,
  afterNs,
  delayedKey,
  inbound2Key,
  inbound2Prefix,
  messageKey,
  outboundKey,
  outboundPrefix,
  parseHex,
  prefixRange,
  retainedKey,
  sessionKey,
  splitClientKey,
  subscriptionKey,
  subscriptionPrefix,
} from './leveldb-keys.js';
import {
  decodeDelayed,
  decodeMessage,
  decodeOutbound,
  decodeSession,
  decodeSubscription,
  encodeDelayed,
  encodeMessage,
  encodeOutbound,
  encodeSession,
  encodeSubscription,
  outboundMessageId,
} from './record-codec.js';
import { validateBatch } from './validate-batch.js';
import { DriverLifecycle } from './driver-lifecycle.js';

export interface LevelDbStorageOptions {
  /** Directory of the database; created when missing. */
  path: string;
  /**
   * fsync every batch before apply() resolves. Default false: a resolved batch is in the OS page
   * cache and survives the process being killed (kill -9), but not a power loss or kernel crash.
   */
  sync?: boolean;
}

type Db = ClassicLevel<string, Buffer>;
type WriteOp = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

/** Per-batch working state: what the planned writes do to outbound entries and bodies. */
interface Plan {
  writes: WriteOp[];
  /** o-key -> message id of the entry at this point of the batch, null when absent. */
  current: Map<string, string | null>;
  /** For clients deleted in this batch: every o-key that may exist. */
  outKeys: Map<string, Set<string>>;
  /** For clients deleted in this batch: every u/ and i/ key that may exist. */
  ownedKeys: Map<string, Set<string>>;
  refDelta: Map<string, number>;
  bodies: Map<string, Buffer>;
  sessions: Map<string, boolean>;
  /** Upper bound of outbound seqs per client after the batch; -1 when none can exist. */
  maxSeq: Map<string, number>;
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  let text = typeof code === 'string' ? `${e.message} [${code}]` : e.message;
  if (e.cause !== undefined) text += `: ${describe(e.cause)}`;
  return text;
}

export class LevelDbStorage implements StorageDriver {
  readonly name = 'leveldb';
  readonly path: string;
  private readonly sync: boolean;
  private readonly life: DriverLifecycle<Db>;
  /** Client ids that have a session record (validation needs them without a read). */
  private readonly sessions = new Set<string>();
  /** Message id -> number of outbound entries referencing it; only ids with a stored body. */
  private readonly refs = new Map<string, number>();
  /** Client id -> an upper bound of its outbound seqs, so appends need no read. */
  private readonly maxSeq = new Map<string, number>();

  constructor(opts: LevelDbStorageOptions) {
    if (typeof opts?.path !== 'string' || opts.path === '') {
      throw new TypeError('LevelDbStorage: opts.path must be a non-empty string');
    }
    if (opts.sync !== undefined && typeof opts.sync !== 'boolean') {
      throw new TypeError('LevelDbStorage: opts.sync must be a boolean');
    }
    this.path = resolve(opts.path);
    this.sync = opts.sync ?? false;
    this.life = new DriverLifecycle(`leveldb storage at ${this.path}`);
  }

  open(): Promise<void> {
    return this.life.open(async () => {
      const db: Db = new ClassicLevel<string, Buffer>(this.path, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
      try {
        await mkdir(this.path, { recursive: true });
        await db.open();
        await this.load(db);
      } catch (e: unknown) {
        await db.close().catch(() => undefined);
        throw new StorageError(`cannot open leveldb storage at ${this.path}: ${describe(e)}`, { cause: e });
      }
      return db;
    });
  }

  /** Waits for every apply() and read in progress, then closes the database. Idempotent. */
  close(): Promise<void> {
    return this.life.close((db) => db.close(), describe);
  }

  /** apply() calls run one after another, in call order: each reads, plans, then writes. */
  apply(ops: readonly StorageOp[]): Promise<void> {
    return this.life.serial('apply', (db) => this.applyNow(db, ops));
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.read('listSessions', async (db) => {
      const out: SessionRecord[] = [];
      for await (const [key, value] of db.iterator(prefixRange(NS.session))) {
        out.push(this.decode(key, () => decodeSession(afterNs(key), value)));
      }
      return out;
    });
  }

  listSubscriptions(): Promise<SubscriptionRecord[]> {
    return this.read('listSubscriptions', async (db) => {
      const out: SubscriptionRecord[] = [];
      for await (const [key, value] of db.iterator(prefixRange(NS.subscription))) {
        out.push(
          this.decode(key, () => {
            const { clientId, rest } = splitClientKey(key);
            return decodeSubscription(clientId, rest, value);
          }),
        );
      }
      return out;
    });
  }

  listOutbound(clientId: string): Promise<OutboundWithMessage[]> {
    return this.read('listOutbound', async (db) => {
      // One snapshot for the entries and their bodies: an apply() that lands in between cannot
      // remove a body this read still needs.
      const snapshot = db.snapshot();
      try {
        const entries = [];
        for await (const [key, value] of db.iterator({ ...prefixRange(outboundPrefix(clientId)), snapshot })) {
          entries.push(
            this.decode(key, () => decodeOutbound(clientId, parseHex(splitClientKey(key).rest, 'seq'), value)),
          );
        }
        const ids = [...new Set(entries.map((e) => e.messageId))];
        const values = await db.getMany(ids.map(messageKey), { snapshot });
        const bodies = new Map<string, StoredMessage>();
        ids.forEach((id, i) => {
          const value = values[i];
          if (value === undefined) {
            throw new StorageError(`leveldb storage at ${this.path}: message ${JSON.stringify(id)} is referenced but missing`);
          }
          bodies.set(id, this.decode(messageKey(id), () => decodeMessage(value)));
        });
        return entries.map((e) => ({ ...e, message: bodies.get(e.messageId)! }));
      } finally {
        await snapshot.close();
      }
    });
  }

  outboundSummary(): Promise<Map<string, OutboundSummary>> {
    return this.read('outboundSummary', async (db) => {
      const out = new Map<string, OutboundSummary>();
      // Keys are grouped by client and ordered by seq, so the last key seen of a client is its max.
      for await (const key of db.keys(prefixRange(NS.outbound))) {
        const { clientId, rest } = this.decode(key, () => splitClientKey(key));
        const seq = this.decode(key, () => parseHex(rest, 'seq'));
        const s = out.get(clientId);
        if (s === undefined) out.set(clientId, { count: 1, maxSeq: seq });
        else {
          s.count++;
          s.maxSeq = seq;
        }
      }
      return out;
    });
  }

  listInboundQos2(clientId: string): Promise<number[]> {
    return this.read('listInboundQos2', async (db) => {
      const out: number[] = [];
      for await (const key of db.keys(prefixRange(inbound2Prefix(clientId)))) {
        out.push(this.decode(key, () => parseHex(splitClientKey(key).rest, 'packet id')));
      }
      return out;
    });
  }

  listRetained(): Promise<StoredMessage[]> {
    return this.read('listRetained', async (db) => {
      const out: StoredMessage[] = [];
      for await (const [key, value] of db.iterator(prefixRange(NS.retained))) {
        out.push(this.decode(key, () => decodeMessage(value)));
      }
      return out;
    });
  }

  listDelayed(): Promise<DelayedRecord[]> {
    return this.read('listDelayed', async (db) => {
      const out: DelayedRecord[] = [];
      for await (const [key, value] of db.iterator(prefixRange(NS.delayed))) {
        out.push(this.decode(key, () => decodeDelayed(afterNs(key), value)));
      }
      return out;
    });
  }

  /** Number of stored message bodies (introspection for the conformance suite and tests). */
  messageBodyCount(): Promise<number> {
    return this.read('messageBodyCount', async (db) => {
      let n = 0;
      for await (const _ of db.keys(prefixRange(NS.message))) n++;
      return n;
    });
  }

  private read<T>(call: string, body: (db: Db) => Promise<T>): Promise<T> {
    return this.life.run(call, (db) =>
      body(db).catch((e: unknown) => {
        if (e instanceof StorageError) throw e;
        throw new StorageError(`leveldb storage at ${this.path}: ${call}() failed: ${describe(e)}`, { cause: e });
      }),
    );
  }

  private decode<T>(key: string, fn: () => T): T {
    try {
      return fn();
    } catch (e: unknown) {
      throw new StorageError(`leveldb storage at ${this.path}: key ${JSON.stringify(key)}: ${describe(e)}`, { cause: e });
    }
  }

  /** Rebuilds the in-memory indexes (sessions, body reference counts, seq bounds) from disk. */
  private async load(db: Db): Promise<void> {
    this.sessions.clear();
    this.refs.clear();
    this.maxSeq.clear();
    for await (const key of db.keys(prefixRange(NS.session))) this.sessions.add(afterNs(key));
    for await (const [key, value] of db.iterator(prefixRange(NS.outbound))) {
      const { clientId, rest } = this.decode(key, () => splitClientKey(key));
      const seq = this.decode(key, () => parseHex(rest, 'seq'));
      const id = this.decode(key, () => outboundMessageId(value));
      this.refs.set(id, (this.refs.get(id) ?? 0) + 1);
      if (seq > (this.maxSeq.get(clientId) ?? -1)) this.maxSeq.set(clientId, seq);
    }
  }

  private async applyNow(db: Db, ops: readonly StorageOp[]): Promise<void> {
    validateBatch(ops, {
      hasSession: (c) => this.sessions.has(c),
      hasMessage: (id) => this.refs.has(id),
    });
    if (ops.length === 0) return;
    let plan: Plan;
    try {
      plan = await this.prefetch(db, ops);
    } catch (e: unknown) {
      throw new StorageError(`leveldb storage at ${this.path}: apply() could not read: ${describe(e)}`, { cause: e });
    }
    for (const op of ops) this.planOne(plan, op);
    const newRefs = this.planBodies(plan);
    try {
      // A chained batch is one LevelDB WriteBatch like the array form, but skips the array form's
      // per-op option copying, which costs more than the write itself for small ops.
      const batch = db.batch();
      try {
        for (const w of plan.writes) {
          if (w.type === 'put') batch.put(w.key, w.value);
          else batch.del(w.key);
        }
      } catch (e: unknown) {
        await batch.close();
        throw e;
      }
      await batch.write({ sync: this.sync });
    } catch (e: unknown) {
      throw new StorageError(`leveldb storage at ${this.path}: apply() write failed, nothing applied: ${describe(e)}`, {
        cause: e,
      });
    }
    // The batch is on disk: only now does the in-memory view follow it.
    for (const [id, n] of newRefs) {
      if (n > 0) this.refs.set(id, n);
      else this.refs.delete(id);
    }
    for (const [c, exists] of plan.sessions) {
      if (exists) this.sessions.add(c);
      else this.sessions.delete(c);
    }
    for (const [c, seq] of plan.maxSeq) {
      if (seq < 0) this.maxSeq.delete(c);
      else this.maxSeq.set(c, seq);
    }
  }

  /**
   * The reads a batch needs before it can be planned, in one round: the current entries that
   * out.put/out.delete may replace (appends above the seq bound need none), and for each
   * session.delete every key the session owns.
   */
  private async prefetch(db: Db, ops: readonly StorageOp[]): Promise<Plan> {
    const plan: Plan = {
      writes: [],
      current: new Map(),
      outKeys: new Map(),
      ownedKeys: new Map(),
      refDelta: new Map(),
      bodies: new Map(),
      sessions: new Map(),
      maxSeq: new Map(),
    };
    const lookups: string[] = [];
    const cascades: string[] = [];
    for (const op of ops) {
      let clientId: string;
      let seq: number;
      if (op.op === 'out.put') ({ clientId, seq } = op.entry);
      else if (op.op === 'out.delete') ({ clientId, seq } = op);
      else {
        if (op.op === 'session.delete' && !plan.ownedKeys.has(op.clientId)) {
          plan.ownedKeys.set(op.clientId, new Set());
          plan.outKeys.set(op.clientId, new Set());
          cascades.push(op.clientId);
        }
        continue;
      }
      if (seq > (this.maxSeq.get(clientId) ?? -1)) continue;
      const key = outboundKey(clientId, seq);
      if (!plan.current.has(key)) {
        plan.current.set(key, null);
        lookups.push(key);
      }
    }
    if (lookups.length > 0) {
      const values = await db.getMany(lookups);
      lookups.forEach((key, i) => {
        const value = values[i];
        plan.current.set(key, value === undefined ? null : this.decode(key, () => outboundMessageId(value)));
      });
    }
    for (const clientId of cascades) {
      const outKeys = plan.outKeys.get(clientId)!;
      for await (const [key, value] of db.iterator(prefixRange(outboundPrefix(clientId)))) {
        outKeys.add(key);
        plan.current.set(key, this.decode(key, () => outboundMessageId(value)));
      }
      const owned = plan.ownedKeys.get(clientId)!;
      for await (const key of db.keys(prefixRange(subscriptionPrefix(clientId)))) owned.add(key);
      for await (const key of db.keys(prefixRange(inbound2Prefix(clientId)))) owned.add(key);
    }
    return plan;
  }

  private ref(plan: Plan, id: string, delta: number): void {
    plan.refDelta.set(id, (plan.refDelta.get(id) ?? 0) + delta);
  }

  private planOne(plan: Plan, op: StorageOp): void {
    const w = plan.writes;
    switch (op.op) {
      case 'session.put':
        w.push({ type: 'put', key: sessionKey(op.session.clientId), value: encodeSession(op.session) });
        plan.sessions.set(op.session.clientId, true);
        return;
      case 'session.delete': {
        const c = op.clientId;
        w.push({ type: 'del', key: sessionKey(c) });
        plan.sessions.set(c, false);
        for (const key of plan.outKeys.get(c)!) {
          const id = plan.current.get(key);
          if (id == null) continue;
          this.ref(plan, id, -1);
          plan.current.set(key, null);
          w.push({ type: 'del', key });
        }
        const owned = plan.ownedKeys.get(c)!;
        for (const key of owned) w.push({ type: 'del', key });
        owned.clear();
        plan.maxSeq.set(c, -1);
        return;
      }
      case 'sub.put': {
        const key = subscriptionKey(op.sub.clientId, op.sub.filter);
        w.push({ type: 'put', key, value: encodeSubscription(op.sub) });
        plan.ownedKeys.get(op.sub.clientId)?.add(key);
        return;
      }
      case 'sub.delete':
        w.push({ type: 'del', key: subscriptionKey(op.clientId, op.filter) });
        return;
      case 'msg.put':
        plan.bodies.set(op.message.id, encodeMessage(op.message));
        return;
      case 'out.put': {
        const e = op.entry;
        const key = outboundKey(e.clientId, e.seq);
        const old = plan.current.get(key) ?? null;
        this.ref(plan, e.messageId, +1);
        if (old !== null) this.ref(plan, old, -1);
        plan.current.set(key, e.messageId);
        plan.outKeys.get(e.clientId)?.add(key);
        w.push({ type: 'put', key, value: encodeOutbound(e) });
        const bound = plan.maxSeq.get(e.clientId) ?? this.maxSeq.get(e.clientId) ?? -1;
        if (e.seq > bound) plan.maxSeq.set(e.clientId, e.seq);
        return;
      }
      case 'out.delete': {
        const key = outboundKey(op.clientId, op.seq);
        const old = plan.current.get(key) ?? null;
        if (old === null) return;
        this.ref(plan, old, -1);
        plan.current.set(key, null);
        w.push({ type: 'del', key });
        return;
      }
      case 'in2.put': {
        const key = inbound2Key(op.clientId, op.packetId);
        w.push({ type: 'put', key, value: Buffer.alloc(0) });
        plan.ownedKeys.get(op.clientId)?.add(key);
        return;
      }
      case 'in2.delete':
        w.push({ type: 'del', key: inbound2Key(op.clientId, op.packetId) });
        return;
      case 'retain.put':
        w.push({ type: 'put', key: retainedKey(op.message.topic), value: encodeMessage(op.message) });
        return;
      case 'retain.delete':
        w.push({ type: 'del', key: retainedKey(op.topic) });
        return;
      case 'delayed.put':
        w.push({ type: 'put', key: delayedKey(op.record.id), value: encodeDelayed(op.record.fireAt, op.record.message) });
        return;
      case 'delayed.delete':
        w.push({ type: 'del', key: delayedKey(op.id) });
        return;
    }
  }

  /**
   * Writes or deletes the bodies whose references changed: a body is stored while at least one
   * entry references it at the end of the batch, and never otherwise.
   */
  private planBodies(plan: Plan): Map<string, number> {
    const newRefs = new Map<string, number>();
    const ids = new Set([...plan.refDelta.keys(), ...plan.bodies.keys()]);
    for (const id of ids) {
      const before = this.refs.get(id) ?? 0;
      const after = before + (plan.refDelta.get(id) ?? 0);
      const body = plan.bodies.get(id);
      if (after > 0) {
        if (body !== undefined) plan.writes.push({ type: 'put', key: messageKey(id), value: body });
      } else if (before > 0) {
        plan.writes.push({ type: 'del', key: messageKey(id) });
      }
      newRefs.set(id, after);
    }
    return newRefs;
  }
}
