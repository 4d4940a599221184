// The s3 driver's in-memory state: every record, as the memory driver keeps them, plus an undo
// log. The driver applies a batch here before the object holding it is written (so the batches
// after it validate against it), and undoes it if the write fails; reads wait until no write is
// in flight, so they never see a batch that might still be undone.
//
// Records given to apply() must be private copies (the driver clones ops when apply() is
// called); records handed out are cloned again.

import type {
  DelayedRecord,
  OutboundEntry,
  OutboundSummary,
  OutboundWithMessage,
  SessionRecord,
  StorageOp,
  StoredMessage,
  SubscriptionRecord,
} from './driver.js';
import { cloneDelayed, cloneMessage, cloneOutbound, cloneSession, cloneSubscription } from './clone-records.js';
import { validateBatch } from './validate-batch.js';

interface Body {
  message: StoredMessage;
  /** Outbound entries that reference this body. */
  refs: number;
}

/** Reverts one applied batch. */
export type Undo = () => void;

export class StorageState {
  readonly sessions = new Map<string, SessionRecord>();
  readonly subs = new Map<string, Map<string, SubscriptionRecord>>();
  readonly outbound = new Map<string, Map<number, OutboundEntry>>();
  readonly bodies = new Map<string, Body>();
  readonly inbound2 = new Map<string, Set<number>>();
  readonly retained = new Map<string, StoredMessage>();
  readonly delayed = new Map<string, DelayedRecord>();

  /**
   * Validates the batch against the current state and applies it. Throws StorageOpError and
   * changes nothing when an op breaks a rule; otherwise returns the function that reverts it.
   */
  apply(ops: readonly StorageOp[]): Undo {
    validateBatch(ops, {
      hasSession: (c) => this.sessions.has(c),
      hasMessage: (id) => this.bodies.has(id),
    });
    const undo: Undo[] = [];
    const touched = new Set<string>();
    for (const op of ops) this.applyOne(op, touched, undo);
    // A body lives exactly as long as an entry references it.
    for (const id of touched) {
      const body = this.bodies.get(id);
      if (body?.refs === 0) {
        this.bodies.delete(id);
        undo.push(() => this.bodies.set(id, body));
      }
    }
    return () => {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    };
  }

  /** Adds a stored body with no references yet (snapshot loading; refs follow with addEntry). */
  loadBody(message: StoredMessage): void {
    this.bodies.set(message.id, { message, refs: 0 });
  }

  /** Adds an entry whose body is loaded (snapshot loading). Returns false when the body is missing. */
  loadEntry(e: OutboundEntry): boolean {
    const body = this.bodies.get(e.messageId);
    if (body === undefined) return false;
    body.refs++;
    inner(this.outbound, e.clientId, () => new Map<number, OutboundEntry>()).set(e.seq, e);
    return true;
  }

  loadSubscription(s: SubscriptionRecord): void {
    inner(this.subs, s.clientId, () => new Map<string, SubscriptionRecord>()).set(s.filter, s);
  }

  loadInbound2(clientId: string, packetId: number): void {
    inner(this.inbound2, clientId, () => new Set<number>()).add(packetId);
  }

  // --- reads (clones) ---

  listSessions(): SessionRecord[] {
    return [...this.sessions.values()].map(cloneSession);
  }

  listSubscriptions(): SubscriptionRecord[] {
    const out: SubscriptionRecord[] = [];
    for (const byFilter of this.subs.values()) for (const s of byFilter.values()) out.push(cloneSubscription(s));
    return out;
  }

  listOutbound(clientId: string): OutboundWithMessage[] {
    const entries = [...(this.outbound.get(clientId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
    return entries.map((e) => ({ ...cloneOutbound(e), message: cloneMessage(this.bodies.get(e.messageId)!.message) }));
  }

  outboundSummary(): Map<string, OutboundSummary> {
    const out = new Map<string, OutboundSummary>();
    for (const [clientId, bySeq] of this.outbound) {
      let maxSeq = -1;
      for (const seq of bySeq.keys()) if (seq > maxSeq) maxSeq = seq;
      out.set(clientId, { count: bySeq.size, maxSeq });
    }
    return out;
  }

  listInboundQos2(clientId: string): number[] {
    return [...(this.inbound2.get(clientId) ?? [])].sort((a, b) => a - b);
  }

  listRetained(): StoredMessage[] {
    return [...this.retained.values()].map(cloneMessage);
  }

  listDelayed(): DelayedRecord[] {
    return [...this.delayed.values()].map(cloneDelayed);
  }

  // --- mutation with undo ---

  private applyOne(op: StorageOp, touched: Set<string>, undo: Undo[]): void {
    switch (op.op) {
      case 'session.put':
        setWithUndo(this.sessions, op.session.clientId, op.session, undo);
        return;
      case 'session.delete': {
        const c = op.clientId;
        deleteWithUndo(this.sessions, c, undo);
        deleteWithUndo(this.subs, c, undo);
        deleteWithUndo(this.inbound2, c, undo);
        for (const e of this.outbound.get(c)?.values() ?? []) this.unref(e.messageId, touched, undo);
        deleteWithUndo(this.outbound, c, undo);
        return;
      }
      case 'sub.put': {
        const byFilter = this.innerWithUndo(this.subs, op.sub.clientId, () => new Map<string, SubscriptionRecord>(), undo);
        setWithUndo(byFilter, op.sub.filter, op.sub, undo);
        return;
      }
      case 'sub.delete': {
        const byFilter = this.subs.get(op.clientId);
        if (byFilter === undefined) return;
        deleteWithUndo(byFilter, op.filter, undo);
        if (byFilter.size === 0) deleteWithUndo(this.subs, op.clientId, undo);
        return;
      }
      case 'msg.put': {
        const body = this.bodies.get(op.message.id);
        if (body !== undefined) {
          const old = body.message;
          body.message = op.message;
          undo.push(() => {
            body.message = old;
          });
        } else {
          setWithUndo(this.bodies, op.message.id, { message: op.message, refs: 0 }, undo);
        }
        touched.add(op.message.id);
        return;
      }
      case 'out.put': {
        const e = op.entry;
        const bySeq = this.innerWithUndo(this.outbound, e.clientId, () => new Map<number, OutboundEntry>(), undo);
        const old = bySeq.get(e.seq);
        // Reference the new body before releasing the old one: they may be the same.
        const body = this.bodies.get(e.messageId)!;
        body.refs++;
        undo.push(() => {
          body.refs--;
        });
        if (old !== undefined) this.unref(old.messageId, touched, undo);
        setWithUndo(bySeq, e.seq, e, undo);
        return;
      }
      case 'out.delete': {
        const bySeq = this.outbound.get(op.clientId);
        const old = bySeq?.get(op.seq);
        if (bySeq === undefined || old === undefined) return;
        deleteWithUndo(bySeq, op.seq, undo);
        if (bySeq.size === 0) deleteWithUndo(this.outbound, op.clientId, undo);
        this.unref(old.messageId, touched, undo);
        return;
      }
      case 'in2.put': {
        const ids = this.innerWithUndo(this.inbound2, op.clientId, () => new Set<number>(), undo);
        if (!ids.has(op.packetId)) {
          ids.add(op.packetId);
          undo.push(() => ids.delete(op.packetId));
        }
        return;
      }
      case 'in2.delete': {
        const ids = this.inbound2.get(op.clientId);
        if (ids === undefined || !ids.has(op.packetId)) return;
        ids.delete(op.packetId);
        undo.push(() => ids.add(op.packetId));
        if (ids.size === 0) deleteWithUndo(this.inbound2, op.clientId, undo);
        return;
      }
      case 'retain.put':
        setWithUndo(this.retained, op.message.topic, op.message, undo);
        return;
      case 'retain.delete':
        deleteWithUndo(this.retained, op.topic, undo);
        return;
      case 'delayed.put':
        setWithUndo(this.delayed, op.record.id, op.record, undo);
        return;
      case 'delayed.delete':
        deleteWithUndo(this.delayed, op.id, undo);
        return;
    }
  }

  private unref(messageId: string, touched: Set<string>, undo: Undo[]): void {
    const body = this.bodies.get(messageId);
    if (body !== undefined) {
      body.refs--;
      undo.push(() => {
        body.refs++;
      });
    }
    touched.add(messageId);
  }

  private innerWithUndo<K, V>(outer: Map<K, V>, key: K, make: () => V, undo: Undo[]): V {
    let v = outer.get(key);
    if (v === undefined) {
      v = make();
      setWithUndo(outer, key, v, undo);
    }
    return v;
  }
}

function inner<K, V>(outer: Map<K, V>, key: K, make: () => V): V {
  let v = outer.get(key);
  if (v === undefined) outer.set(key, (v = make()));
  return v;
}

function setWithUndo<K, V>(map: Map<K, V>, key: K, value: V, undo: Undo[]): void {
  const had = map.has(key);
  const prev = map.get(key);
  map.set(key, value);
  undo.push(had ? () => map.set(key, prev as V) : () => map.delete(key));
}

function deleteWithUndo<K, V>(map: Map<K, V>, key: K, undo: Undo[]): void {
  if (!map.has(key)) return;
  const prev = map.get(key) as V;
  map.delete(key);
  undo.push(() => map.set(key, prev));
}
