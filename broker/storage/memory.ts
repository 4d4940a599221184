// The reference driver: plain maps in this process, nothing survives the process. It defines the
// behaviour the conformance suite expects from every other driver. Records are copied on the way
// in and out, so a caller can never change stored state by mutating an object it holds.

import {
  StorageError,
  type DelayedRecord,
  type OutboundEntry,
  type OutboundSummary,
  type OutboundWithMessage,
  type SessionRecord,
  type StorageDriver,
  type StorageOp,
  type StoredMessage,
  type SubscriptionRecord,
} from './driver.js';
import {
  cloneDelayed,
  cloneMessage,
  cloneOutbound,
  cloneSession,
  cloneSubscription,
} from './clone-records.js';
import { validateBatch } from './validate-batch.js';

interface Body {
  message: StoredMessage;
  /** Outbound entries that reference this body. */
  refs: number;
}

export class MemoryStorage implements StorageDriver {
  readonly name = 'memory';
  private state: 'new' | 'open' | 'closed' = 'new';
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly subs = new Map<string, Map<string, SubscriptionRecord>>();
  private readonly outbound = new Map<string, Map<number, OutboundEntry>>();
  private readonly bodies = new Map<string, Body>();
  private readonly inbound2 = new Map<string, Set<number>>();
  private readonly retained = new Map<string, StoredMessage>();
  private readonly delayed = new Map<string, DelayedRecord>();

  /** Opening again after close() keeps the data: it lives as long as this object. */
  async open(): Promise<void> {
    this.state = 'open';
  }

  async close(): Promise<void> {
    if (this.state === 'open') this.state = 'closed';
  }

  async apply(ops: readonly StorageOp[]): Promise<void> {
    this.assertOpen('apply');
    validateBatch(ops, {
      hasSession: (c) => this.sessions.has(c),
      hasMessage: (id) => this.bodies.has(id),
    });
    // Validation passed, so nothing below can fail: the batch lands whole.
    const touched = new Set<string>();
    for (const op of ops) this.applyOne(op, touched);
    // A body lives exactly as long as an entry references it; one that lost its last reference
    // (or was put and never referenced) in this batch goes now.
    for (const id of touched) {
      if (this.bodies.get(id)?.refs === 0) this.bodies.delete(id);
    }
  }

  async listSessions(): Promise<SessionRecord[]> {
    this.assertOpen('listSessions');
    return [...this.sessions.values()].map(cloneSession);
  }

  async listSubscriptions(): Promise<SubscriptionRecord[]> {
    this.assertOpen('listSubscriptions');
    const out: SubscriptionRecord[] = [];
    for (const byFilter of this.subs.values()) for (const s of byFilter.values()) out.push(cloneSubscription(s));
    return out;
  }

  async listOutbound(clientId: string): Promise<OutboundWithMessage[]> {
    this.assertOpen('listOutbound');
    const entries = [...(this.outbound.get(clientId)?.values() ?? [])].sort((a, b) => a.seq - b.seq);
    return entries.map((e) => {
      const body = this.bodies.get(e.messageId);
      if (body === undefined) throw new StorageError(`outbound entry ${e.seq} of ${clientId} has no message body`);
      return { ...cloneOutbound(e), message: cloneMessage(body.message) };
    });
  }

  async outboundSummary(): Promise<Map<string, OutboundSummary>> {
    this.assertOpen('outboundSummary');
    const out = new Map<string, OutboundSummary>();
    for (const [clientId, bySeq] of this.outbound) {
      if (bySeq.size === 0) continue;
      let maxSeq = -1;
      for (const seq of bySeq.keys()) if (seq > maxSeq) maxSeq = seq;
      out.set(clientId, { count: bySeq.size, maxSeq });
    }
    return out;
  }

  async listInboundQos2(clientId: string): Promise<number[]> {
    this.assertOpen('listInboundQos2');
    return [...(this.inbound2.get(clientId) ?? [])].sort((a, b) => a - b);
  }

  async listRetained(): Promise<StoredMessage[]> {
    this.assertOpen('listRetained');
    return [...this.retained.values()].map(cloneMessage);
  }

  async listDelayed(): Promise<DelayedRecord[]> {
    this.assertOpen('listDelayed');
    return [...this.delayed.values()].map(cloneDelayed);
  }

  /** Number of stored message bodies (introspection for the conformance suite). */
  async messageBodyCount(): Promise<number> {
    this.assertOpen('messageBodyCount');
    return this.bodies.size;
  }

  private applyOne(op: StorageOp, touched: Set<string>): void {
    switch (op.op) {
      case 'session.put':
        this.sessions.set(op.session.clientId, cloneSession(op.session));
        return;
      case 'session.delete': {
        this.sessions.delete(op.clientId);
        this.subs.delete(op.clientId);
        this.inbound2.delete(op.clientId);
        for (const e of this.outbound.get(op.clientId)?.values() ?? []) this.unref(e.messageId, touched);
        this.outbound.delete(op.clientId);
        return;
      }
      case 'sub.put': {
        let byFilter = this.subs.get(op.sub.clientId);
        if (byFilter === undefined) this.subs.set(op.sub.clientId, (byFilter = new Map()));
        byFilter.set(op.sub.filter, cloneSubscription(op.sub));
        return;
      }
      case 'sub.delete': {
        const byFilter = this.subs.get(op.clientId);
        byFilter?.delete(op.filter);
        if (byFilter?.size === 0) this.subs.delete(op.clientId);
        return;
      }
      case 'msg.put': {
        const body = this.bodies.get(op.message.id);
        if (body !== undefined) body.message = cloneMessage(op.message);
        else this.bodies.set(op.message.id, { message: cloneMessage(op.message), refs: 0 });
        touched.add(op.message.id);
        return;
      }
      case 'out.put': {
        const e = op.entry;
        let bySeq = this.outbound.get(e.clientId);
        if (bySeq === undefined) this.outbound.set(e.clientId, (bySeq = new Map()));
        const old = bySeq.get(e.seq);
        // Reference the new body before releasing the old one: they may be the same.
        const body = this.bodies.get(e.messageId);
        if (body === undefined) throw new StorageError(`message ${e.messageId} vanished during a batch`);
        body.refs++;
        if (old !== undefined) this.unref(old.messageId, touched);
        bySeq.set(e.seq, cloneOutbound(e));
        return;
      }
      case 'out.delete': {
        const bySeq = this.outbound.get(op.clientId);
        const old = bySeq?.get(op.seq);
        if (bySeq === undefined || old === undefined) return;
        bySeq.delete(op.seq);
        if (bySeq.size === 0) this.outbound.delete(op.clientId);
        this.unref(old.messageId, touched);
        return;
      }
      case 'in2.put': {
        let ids = this.inbound2.get(op.clientId);
        if (ids === undefined) this.inbound2.set(op.clientId, (ids = new Set()));
        ids.add(op.packetId);
        return;
      }
      case 'in2.delete': {
        const ids = this.inbound2.get(op.clientId);
        ids?.delete(op.packetId);
        if (ids?.size === 0) this.inbound2.delete(op.clientId);
        return;
      }
      case 'retain.put':
        this.retained.set(op.message.topic, cloneMessage(op.message));
        return;
      case 'retain.delete':
        this.retained.delete(op.topic);
        return;
      case 'delayed.put':
        this.delayed.set(op.record.id, cloneDelayed(op.record));
        return;
      case 'delayed.delete':
        this.delayed.delete(op.id);
        return;
    }
  }

  private unref(messageId: string, touched: Set<string>): void {
    const body = this.bodies.get(messageId);
    if (body !== undefined) body.refs--;
    touched.add(messageId);
  }

  private assertOpen(call: string): void {
    if (this.state !== 'open') {
      throw new StorageError(`memory storage: ${call}() called while ${this.state === 'new' ? 'not yet open' : 'closed'}`);
    }
  }
}
