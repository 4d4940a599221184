// The model the conformance suite's property test compares drivers with: the interface's rules
// written as plainly as possible (flat maps, a batch applied to a copy and kept only when every op
// is allowed). It checks only the rules that depend on state; the generator emits well-formed ops.

import type {
  DelayedRecord,
  OutboundEntry,
  OutboundSummary,
  SessionRecord,
  StorageOp,
  StoredMessage,
  SubscriptionRecord,
} from './driver.js';

const k2 = (a: string, b: string | number): string => `${a}\u0000${String(b)}`;

export class StorageModel {
  sessions = new Map<string, SessionRecord>();
  /** clientId\0filter -> subscription */
  subs = new Map<string, SubscriptionRecord>();
  /** clientId\0seq -> entry */
  outbound = new Map<string, OutboundEntry>();
  messages = new Map<string, StoredMessage>();
  /** clientId\0packetId */
  inbound2 = new Map<string, { clientId: string; packetId: number }>();
  retained = new Map<string, StoredMessage>();
  delayed = new Map<string, DelayedRecord>();

  /** Applies the whole batch, or nothing and returns false when an op breaks a rule. */
  apply(ops: readonly StorageOp[]): boolean {
    const next = this.copy();
    for (const op of ops) if (!next.applyOne(op)) return false;
    // Bodies live exactly as long as an entry references them.
    const referenced = new Set([...next.outbound.values()].map((e) => e.messageId));
    for (const id of [...next.messages.keys()]) if (!referenced.has(id)) next.messages.delete(id);
    Object.assign(this, next);
    return true;
  }

  outboundOf(clientId: string): Array<OutboundEntry & { message: StoredMessage }> {
    return [...this.outbound.values()]
      .filter((e) => e.clientId === clientId)
      .sort((a, b) => a.seq - b.seq)
      .map((e) => ({ ...e, message: this.messages.get(e.messageId)! }));
  }

  summary(): Map<string, OutboundSummary> {
    const out = new Map<string, OutboundSummary>();
    for (const e of this.outbound.values()) {
      const s = out.get(e.clientId) ?? { count: 0, maxSeq: -1 };
      out.set(e.clientId, { count: s.count + 1, maxSeq: Math.max(s.maxSeq, e.seq) });
    }
    return out;
  }

  inbound2Of(clientId: string): number[] {
    return [...this.inbound2.values()]
      .filter((x) => x.clientId === clientId)
      .map((x) => x.packetId)
      .sort((a, b) => a - b);
  }

  private copy(): StorageModel {
    const m = new StorageModel();
    m.sessions = new Map(this.sessions);
    m.subs = new Map(this.subs);
    m.outbound = new Map(this.outbound);
    m.messages = new Map(this.messages);
    m.inbound2 = new Map(this.inbound2);
    m.retained = new Map(this.retained);
    m.delayed = new Map(this.delayed);
    return m;
  }

  private applyOne(op: StorageOp): boolean {
    switch (op.op) {
      case 'session.put':
        this.sessions.set(op.session.clientId, op.session);
        return true;
      case 'session.delete': {
        const c = op.clientId;
        this.sessions.delete(c);
        for (const [k, v] of [...this.subs]) if (v.clientId === c) this.subs.delete(k);
        for (const [k, v] of [...this.outbound]) if (v.clientId === c) this.outbound.delete(k);
        for (const [k, v] of [...this.inbound2]) if (v.clientId === c) this.inbound2.delete(k);
        return true;
      }
      case 'sub.put':
        if (!this.sessions.has(op.sub.clientId)) return false;
        this.subs.set(k2(op.sub.clientId, op.sub.filter), op.sub);
        return true;
      case 'sub.delete':
        this.subs.delete(k2(op.clientId, op.filter));
        return true;
      case 'msg.put':
        this.messages.set(op.message.id, op.message);
        return true;
      case 'out.put':
        if (!this.sessions.has(op.entry.clientId) || !this.messages.has(op.entry.messageId)) return false;
        this.outbound.set(k2(op.entry.clientId, op.entry.seq), op.entry);
        return true;
      case 'out.delete':
        this.outbound.delete(k2(op.clientId, op.seq));
        return true;
      case 'in2.put':
        if (!this.sessions.has(op.clientId)) return false;
        this.inbound2.set(k2(op.clientId, op.packetId), { clientId: op.clientId, packetId: op.packetId });
        return true;
      case 'in2.delete':
        this.inbound2.delete(k2(op.clientId, op.packetId));
        return true;
      case 'retain.put':
        this.retained.set(op.message.topic, op.message);
        return true;
      case 'retain.delete':
        this.retained.delete(op.topic);
        return true;
      case 'delayed.put':
        this.delayed.set(op.record.id, op.record);
        return true;
      case 'delayed.delete':
        this.delayed.delete(op.id);
        return true;
    }
  }
}
