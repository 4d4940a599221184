// A session: the state the spec says outlives a connection (section 4.1) — subscriptions, QoS 1/2
// messages queued or in flight towards the client, and QoS 2 packet ids received from it.
// Delivery towards the client lives here; the connection only encodes and writes.

import type { QoS, SessionRecord, StoredMessage, SubscriptionRecord, WillRecord } from '../storage/driver.js';
import type { Connection } from './connection.js';
import type { MqttBroker } from './broker.js';

export interface OutMsg {
  seq: number;
  message: StoredMessage;
  qos: QoS;
  retain: boolean;
  subIds?: number[];
  packetId?: number;
  state: 'queued' | 'sent' | 'pubrel';
  /** Shared-subscription group key the message came through, for redistribution. */
  group?: string;
  /** An outbound entry for it exists (or is being written) in storage. */
  persisted: boolean;
}

export class Session {
  conn: Connection | null = null;
  readonly subs = new Map<string, SubscriptionRecord>();
  /** Messages waiting for a free slot in the client's receive window, oldest first. */
  private queue: OutMsg[] = [];
  private queueHead = 0;
  /** Sent QoS 1/2 messages (and PUBRELs) awaiting the client's ack, in send order. */
  readonly inflight = new Map<number, OutMsg>();
  /** QoS 2 packet ids received from the client, PUBREC sent, awaiting PUBREL [MQTT-4.3.3-8]. */
  readonly inbound2 = new Set<number>();
  private nextPid = 1;
  nextSeq = 1;
  will: WillRecord | null = null;
  willTimer: NodeJS.Timeout | null = null;
  expiryTimer: NodeJS.Timeout | null = null;
  disconnectedAt: number | null = null;
  /** A session record exists in storage. */
  stored = false;
  /** Set when broker/cluster/ adopted this session from a dead broker: that broker's id. */
  adoptedFrom: number | null = null;
  /**
   * QoS 2 packet ids the dead broker had stored for this publisher: whether it forwarded those
   * messages to the other brokers before dying is unknown, so a resend goes to them once more.
   */
  adoptedIn2: Set<number> | null = null;
  /** Entries whose PUBLISH is written once the batch that persists them is durable. */
  private toWrite: OutMsg[] = [];
  private writeScheduled = false;

  constructor(
    readonly broker: MqttBroker,
    readonly clientId: string,
    public protocolVersion: 3 | 4 | 5,
    public expiryInterval: number,
  ) {}

  get persistent(): boolean {
    return this.expiryInterval > 0;
  }

  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  record(): SessionRecord {
    return {
      clientId: this.clientId,
      protocolVersion: this.protocolVersion,
      expiryInterval: this.expiryInterval,
      disconnectedAt: this.conn ? null : (this.disconnectedAt ?? Date.now()),
      will: this.will,
    };
  }

  /** Hands one message to this session at `qos` (already the minimum of publish and subscription QoS). */
  deliver(message: StoredMessage, qos: QoS, retain: boolean, subIds: number[] | undefined, group: string | undefined): void {
    const conn = this.conn;
    if (qos === 0) {
      if (conn !== null) {
        conn.sendQos0(message, retain, subIds);
      } else if (this.persistent && this.broker.options.queueQos0 && this.broker.options.offlineMessageEnable) {
        this.enqueue({ seq: this.nextSeq++, message, qos: 0, retain, subIds, state: 'queued', group, persisted: false });
      } else {
        this.broker.stats.dropped++;
      }
      return;
    }
    if (conn === null && !this.broker.options.offlineMessageEnable) {
      this.broker.stats.dropped++;
      return;
    }
    const entry: OutMsg = { seq: this.nextSeq++, message, qos, retain, subIds, state: 'queued', group, persisted: false };
    if (conn !== null && this.queued === 0 && this.inflight.size < conn.sendWindow) {
      this.send(entry);
    } else {
      this.enqueue(entry);
    }
  }

  private enqueue(entry: OutMsg): void {
    const opts = this.broker.options;
    if (this.queued + this.inflight.size >= opts.maxQueue) {
      this.broker.stats.dropped++;
      if (opts.overflow === 'drop_new' || this.queued === 0) return;
      this.unpersist(this.dequeue()!);
    }
    this.queue.push(entry);
    if (this.persistent) this.persist(entry);
  }

  private dequeue(): OutMsg | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const e = this.queue[this.queueHead++]!;
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return e;
  }

  /** Assigns a packet id and writes the PUBLISH (after it is durable, for a persistent session). */
  private send(entry: OutMsg): void {
    const conn = this.conn!;
    if (entry.message.expiresAt !== undefined && entry.message.expiresAt <= Date.now()) {
      // [MQTT-3.3.2-5] an expired message whose onward delivery has not started is deleted.
      this.broker.stats.expired++;
      this.unpersist(entry);
      return;
    }
    if (entry.qos === 0) {
      conn.sendQos0(entry.message, entry.retain, entry.subIds);
      this.unpersist(entry);
      return;
    }
    entry.packetId = this.allocPid();
    entry.state = 'sent';
    this.inflight.set(entry.packetId, entry);
    if (this.persistent) this.persist(entry);
    if (this.persistent && entry.qos === 2) {
      // QoS 2 leaves only once its packet id is durable, so a restart resends it with the same id
      // and the client does not take it for a new message. QoS 1 may be duplicated by design.
      this.toWrite.push(entry);
      if (!this.writeScheduled) {
        this.writeScheduled = true;
        this.broker.persister.after(() => this.flushWrites());
      }
    } else if (!conn.sendPublish(entry, false)) {
      this.complete(entry.packetId);
    }
  }

  private flushWrites(): void {
    this.writeScheduled = false;
    const entries = this.toWrite;
    this.toWrite = [];
    const conn = this.conn;
    if (conn === null) return; // resent with DUP when the client comes back
    for (const e of entries) {
      if (e.state !== 'sent' || this.inflight.get(e.packetId!) !== e) continue;
      if (!conn.sendPublish(e, false)) this.complete(e.packetId!);
    }
  }

  private allocPid(): number {
    // Packet ids in use are those in flight; the window is far below 65535 so this ends quickly.
    for (;;) {
      const pid = this.nextPid;
      this.nextPid = pid === 65535 ? 1 : pid + 1;
      if (!this.inflight.has(pid)) return pid;
    }
  }

  /** Moves queued messages into the client's receive window. */
  pump(): void {
    const conn = this.conn;
    if (conn === null) return;
    while (this.inflight.size < conn.sendWindow) {
      const e = this.dequeue();
      if (e === undefined) return;
      this.send(e);
    }
  }

  /** PUBACK for a QoS 1 message, or PUBCOMP for a QoS 2 message: the exchange is over. */
  complete(packetId: number): boolean {
    const e = this.inflight.get(packetId);
    if (e === undefined) return false;
    this.inflight.delete(packetId);
    this.unpersist(e);
    this.broker.stats.delivered++;
    return true;
  }

  /** PUBREC: the client has the QoS 2 message; from now on only PUBREL is resent [MQTT-4.3.3-5]. */
  received(packetId: number): OutMsg | undefined {
    const e = this.inflight.get(packetId);
    if (e === undefined || e.qos !== 2) return undefined;
    if (e.state === 'sent') {
      e.state = 'pubrel';
      if (this.persistent) this.persist(e);
    }
    return e;
  }

  /** On reconnect: resend unacknowledged PUBLISH with DUP and PUBREL, in order [MQTT-4.4.0-1]. */
  resend(): void {
    const conn = this.conn!;
    this.toWrite = [];
    for (const e of [...this.inflight.values()]) {
      if (e.state === 'pubrel') conn.sendPubrel(e.packetId!);
      else if (!conn.sendPublish(e, true)) this.complete(e.packetId!);
    }
    this.pump();
  }

  /** Takes back messages that came through a shared subscription and are not yet acknowledged. */
  takeShared(): OutMsg[] {
    const taken: OutMsg[] = [];
    for (const [pid, e] of this.inflight) {
      if (e.group !== undefined && e.state === 'sent') {
        this.inflight.delete(pid);
        taken.push(e);
      }
    }
    const rest: OutMsg[] = [];
    for (let i = this.queueHead; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (e.group !== undefined) taken.push(e);
      else rest.push(e);
    }
    this.queue = rest;
    this.queueHead = 0;
    for (const e of taken) this.unpersist(e);
    return taken;
  }

  /** Restores an entry read from storage at start-up. */
  restore(e: OutMsg): void {
    if (e.seq >= this.nextSeq) this.nextSeq = e.seq + 1;
    if (e.state === 'queued' || e.packetId === undefined) {
      e.state = 'queued';
      e.packetId = undefined;
      this.queue.push(e);
    } else {
      this.inflight.set(e.packetId, e);
      if (e.packetId >= this.nextPid) this.nextPid = e.packetId === 65535 ? 1 : e.packetId + 1;
    }
  }

  /** Drops every queued and in-flight message (clean start, or the session ends). */
  clearMessages(): void {
    this.queue = [];
    this.queueHead = 0;
    this.inflight.clear();
    this.inbound2.clear();
    this.toWrite = [];
  }

  /** In-flight then queued entries, in seq order within each (for a handover to another broker). */
  outboundEntries(): OutMsg[] {
    const out = [...this.inflight.values()];
    for (let i = this.queueHead; i < this.queue.length; i++) out.push(this.queue[i]!);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** Writes every entry to storage (a session installed from another broker). */
  persistAll(): void {
    for (const e of this.inflight.values()) this.persist(e);
    for (let i = this.queueHead; i < this.queue.length; i++) this.persist(this.queue[i]!);
  }

  forEachQueued(fn: (e: OutMsg) => void): void {
    for (let i = this.queueHead; i < this.queue.length; i++) fn(this.queue[i]!);
  }

  private persist(e: OutMsg): void {
    const p = this.broker.persister;
    if (!e.persisted) p.putMessage(this.broker.ensureId(e.message));
    e.persisted = true;
    p.add({
      op: 'out.put',
      entry: {
        clientId: this.clientId,
        seq: e.seq,
        messageId: e.message.id,
        qos: e.qos,
        packetId: e.packetId,
        state: e.state,
        subscriptionIds: e.subIds,
        retain: e.retain,
      },
    });
  }

  private unpersist(e: OutMsg): void {
    if (!e.persisted) return;
    e.persisted = false;
    this.broker.persister.add({ op: 'out.delete', clientId: this.clientId, seq: e.seq });
  }
}
