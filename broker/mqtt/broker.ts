// The MQTT engine: sessions, connections, subscriptions, retained messages and wills, over one
// StorageDriver. Transport-agnostic: listeners hand it byte streams through accept().

import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/log.js';
import type { MessageProperties, QoS, SessionRecord, StorageDriver, StoredMessage, SubscriptionRecord } from '../storage/driver.js';
import { Connection, type ConnectionInfo, type PublishSource } from './connection.js';
import { DelayedPublisher } from './delayed.js';
import { exclusiveHolds, LocalExclusiveLocks, releaseExclusive, type ExclusiveLocks } from './exclusive.js';
import type { MqttOptions } from './options.js';
import { Persister } from './persister.js';
import type { CachedEncodings } from './publish-cache.js';
import { RetainStore } from './retain-store.js';
import { Router, type SubEntry } from './router.js';
import { Session, type OutMsg } from './session.js';
import { RC } from './reason-codes.js';
import type { ParsedFilter } from './topic.js';
import { parseFilter } from './topic.js';
import { SecurityManager } from '../security/security-manager.js';
import { defaultSecurityOptions } from '../security/security-options.js';

const NEVER_EXPIRES = 0xffffffff;
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface BrokerStats {
  connects: number;
  refused: number;
  malformed: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  delivered: number;
  dropped: number;
  droppedSlow: number;
  droppedTooLarge: number;
  expired: number;
  noSubscribers: number;
  slowConsumers: number;
}

/** What broker/cluster/ adds to sessions and acknowledgements when the broker is one of several. */
export interface ClusterSessions {
  /**
   * CONNECT of `clientId`: makes this broker the session's owner cluster-wide, taking the session
   * (and its state) over from the broker that holds it, whose connection is closed with 0x8E.
   * Resolves when openSession may run; rejects when placement or the owner cannot be reached.
   */
  claimSession(clientId: string, conn: Connection): Promise<void>;
  /** The session is over on this broker (ended, not handed over). */
  sessionEnded(clientId: string): void;
  /** A persistent session lost its connection; `willPending`: its will goes out after the will delay. */
  sessionDetached(clientId: string, willPending: boolean): void;
  /** The session's will went out (or was dropped): nobody else may publish it. */
  willFired(clientId: string): void;
  /**
   * A shared-subscription message whose member left unacknowledged, and no other member here is
   * connected: true when it went to a member of the group on another broker.
   */
  redeliverShared(shareKey: string, m: StoredMessage): boolean;
  /** PUBREL of `clientId`'s QoS 2 exchange `packetId` is stored: brokers it was forwarded to may forget it. */
  qos2Released(clientId: string, packetId: number): void;
  /**
   * A resent QoS 2 PUBLISH whose packet id the adopted session's dead broker had stored: routes
   * it to every session but those adopted from that broker, here and on the other brokers, each
   * skipping it if the exchange reached it before. Returns how many it went to here.
   */
  redeliverAdopted(session: Session, m: StoredMessage, packetId: number): number;
  /**
   * Runs `cb` once what the last routed PUBLISH of `conn` needs is durable here and on every
   * remote broker it was forwarded to; callbacks of one connection run in call order.
   */
  afterRouted(conn: Connection, cb: (err: Error | null) => void): void;
}

/** A whole session as it moves between brokers (broker/cluster/session-state-codec.ts encodes it). */
export interface SessionState {
  record: SessionRecord;
  subscriptions: SubscriptionRecord[];
  /** Queued and in-flight messages, in seq order. */
  outbound: OutMsg[];
  inbound2: number[];
  nextSeq: number;
}

export class MqttBroker {
  readonly sessions = new Map<string, Session>();
  readonly connections = new Set<Connection>();
  readonly router = new Router(this);
  readonly retained = new RetainStore();
  readonly persister: Persister;
  readonly stats: BrokerStats = {
    connects: 0, refused: 0, malformed: 0, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0,
    delivered: 0, dropped: 0, droppedSlow: 0, droppedTooLarge: 0, expired: 0, noSubscribers: 0, slowConsumers: 0,
  };
  /** Authentication, ACL, blacklist, flapping and rate limits (broker/security/). */
  readonly security: SecurityManager;
  /** The connection whose PUBLISH is being routed, for flow control (see Connection.holdPublisher). */
  currentPublisher: PublishSource | null = null;
  /** The QoS 2 packet id of the PUBLISH being routed (0: none), for broker/cluster/. */
  currentPacketId = 0;
  /** Set by broker/cluster/ when this broker is one of several; null when standalone. */
  cluster: ClusterSessions | null = null;
  /** `$delayed/{seconds}/{topic}` publishes waiting to fire (broker/mqtt/delayed.ts). */
  readonly delayed = new DelayedPublisher(this);
  /** Who holds each `$exclusive/` filter; broker/cluster/ replaces it with cluster-wide locks. */
  exclusive: ExclusiveLocks = new LocalExclusiveLocks();
  private sweepTimer: NodeJS.Timeout | null = null;
  private messageCounter = 0;
  private readonly idPrefix: string;
  private closing = false;
  /**
   * Set by broker/cluster/ while this broker is fenced off the cluster: new connections are
   * refused and wills wait (another broker may be publishing them); see resume().
   */
  private suspended = false;

  constructor(
    readonly options: MqttOptions,
    readonly storage: StorageDriver,
    readonly log: Logger,
  ) {
    this.persister = new Persister(storage);
    this.security = new SecurityManager(options.security ?? defaultSecurityOptions(), log.child('security'));
    this.idPrefix = `${options.nodeId}-${Date.now().toString(36)}-`;
  }

  /** Loads persisted sessions, subscriptions, queues and retained messages; starts timers. */
  async open(): Promise<void> {
    const storage = this.storage;
    for (const m of await storage.listRetained()) this.retained.set(m);
    const now = Date.now();
    const records = await storage.listSessions();
    for (const r of records) {
      const s = new Session(this, r.clientId, r.protocolVersion, r.expiryInterval);
      s.stored = true;
      // A session still marked connected was cut off by a crash: it disconnected now.
      s.disconnectedAt = r.disconnectedAt ?? now;
      s.will = r.will ?? null;
      this.sessions.set(r.clientId, s);
      for (const o of await storage.listOutbound(r.clientId)) {
        const e: OutMsg = {
          seq: o.seq, message: o.message, qos: o.qos, retain: o.retain ?? false, subIds: o.subscriptionIds,
          packetId: o.packetId, state: o.state, persisted: true,
        };
        s.restore(e);
      }
      for (const pid of await storage.listInboundQos2(r.clientId)) s.inbound2.add(pid);
    }
    for (const sub of await storage.listSubscriptions()) {
      const s = this.sessions.get(sub.clientId);
      const parsed = parseFilter(sub.filter);
      if (s === undefined || typeof parsed === 'string') continue;
      s.subs.set(sub.filter, sub);
      this.router.addEntry(parsed, trieKey(s, parsed), entryFor(s, sub, parsed));
    }
    for (const s of this.sessions.values()) {
      if (this.expired(s, now)) {
        this.endSession(s);
        continue;
      }
      if (s.will !== null) this.scheduleWill(s);
      this.scheduleExpiry(s);
    }
    for (const h of exclusiveHolds(this.sessions.values())) {
      if (!(await this.exclusive.acquire(h.filter, h.clientId))) this.log.warn('exclusive subscription held by another session', { ...h });
    }
    this.delayed.load(await storage.listDelayed());
    this.sweepTimer = setInterval(() => this.sweep(), 1000);
    this.sweepTimer.unref();
    this.log.info('broker state loaded', { sessions: this.sessions.size, retained: this.retained.size, storage: storage.name });
  }

  accept(stream: Duplex, info: ConnectionInfo): Connection | null {
    if (this.closing || this.suspended) {
      stream.destroy();
      return null;
    }
    const conn = new Connection(this, stream, info);
    this.connections.add(conn);
    return conn;
  }

  /** Stops: DISCONNECT 0x8B to MQTT 5 clients, every connection closed, storage flushed and closed. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.delayed.close();
    for (const conn of [...this.connections]) {
      // The will stays with the session: the client did not go away, the server did.
      conn.willDiscarded = true;
      const s = conn.session;
      if (s !== null && s.conn === conn && s.will === null && conn.will !== null) s.will = conn.will;
      conn.disconnect(RC.SERVER_SHUTTING_DOWN, 'server shutting down');
    }
    for (const s of this.sessions.values()) {
      if (s.willTimer) clearTimeout(s.willTimer);
      if (s.expiryTimer) clearTimeout(s.expiryTimer);
    }
    await this.persister.drain();
    this.persister.close();
    await this.security.close();
  }

  assignClientId(): string {
    return `auto-${this.idPrefix}${(++this.messageCounter).toString(36)}`;
  }

  /**
   * A message as the broker keeps it. Every message has the same shape (one hidden class on the
   * hot path); its id is given only when storage needs one (ensureId).
   */
  makeMessage(
    topic: string, payload: Buffer, qos: QoS, retain: boolean, properties: MessageProperties | undefined,
    origin: string | undefined, now: number = Date.now(),
  ): StoredMessage {
    const expiry = properties?.messageExpiryInterval;
    const m: StoredMessage & CachedEncodings = {
      id: '', topic, payload, qos, retain, properties, createdAt: now,
      expiresAt: expiry === undefined ? undefined : now + expiry * 1000, origin, encoded: undefined,
    };
    return m;
  }

  /** Gives a message its cluster-unique id the first time storage sees it. */
  ensureId(m: StoredMessage): StoredMessage {
    if (m.id === '') m.id = this.idPrefix + (++this.messageCounter).toString(36);
    return m;
  }

  // ---- sessions ----

  /** CONNECT: takes over a connected session, applies clean start, and attaches `conn`. */
  openSession(conn: Connection, clientId: string, clean: boolean, expiry: number): { session: Session; present: boolean } {
    let s = this.sessions.get(clientId);
    if (s !== undefined && s.conn !== null) {
      // [MQTT-3.1.4-3] the existing connection is closed; 0x8E in MQTT 5.
      const old = s.conn;
      s.conn = null;
      old.session = null;
      old.willDiscarded = true;
      if (clean && old.will !== null && s.will === null) s.will = old.will;
      old.disconnect(RC.SESSION_TAKEN_OVER, 'session taken over by another connection');
      s.disconnectedAt = Date.now();
    }
    if (s !== undefined && clean) {
      // The old session ends: its pending will goes out now [MQTT-3.1.3-9 does not apply to a new session].
      this.endSession(s);
      s = undefined;
    }
    const present = s !== undefined;
    if (s === undefined) {
      s = new Session(this, clientId, conn.protocolVersion, expiry);
      this.sessions.set(clientId, s);
    } else {
      // [MQTT-3.1.3-9] reconnecting before the will delay passed: no will.
      if (s.willTimer) clearTimeout(s.willTimer);
      s.willTimer = null;
      if (s.expiryTimer) clearTimeout(s.expiryTimer);
      s.expiryTimer = null;
      s.protocolVersion = conn.protocolVersion;
      s.expiryInterval = expiry;
    }
    s.will = conn.will;
    s.conn = conn;
    s.disconnectedAt = null;
    conn.session = s;
    if (s.persistent) {
      this.persister.add({ op: 'session.put', session: s.record() });
      s.stored = true;
    } else if (s.stored) {
      this.persister.add({ op: 'session.delete', clientId });
      s.stored = false;
      s.forEachQueued((e) => { e.persisted = false; });
      for (const e of s.inflight.values()) e.persisted = false;
    }
    return { session: s, present };
  }

  onConnectionClosed(conn: Connection, wasConnected: boolean): void {
    this.connections.delete(conn);
    const s = conn.session;
    if (!wasConnected || s === null || s.conn !== conn) return;
    s.conn = null;
    s.disconnectedAt = Date.now();
    if (conn.willDiscarded) s.will = null;
    if (this.closing) {
      if (s.persistent) this.persister.add({ op: 'session.put', session: s.record() });
      return;
    }
    // Shared-subscription messages not yet acknowledged go to another member of the group.
    for (const e of s.takeShared()) {
      if (this.router.redeliverShared(e.group!, e.message, s)) continue;
      if (this.cluster?.redeliverShared(e.group!, e.message) === true) continue;
      s.deliver(e.message, e.qos, e.retain, e.subIds, e.group);
    }
    if (!s.persistent) {
      this.endSession(s);
      return;
    }
    this.persister.add({ op: 'session.put', session: s.record() });
    this.cluster?.sessionDetached(s.clientId, s.will !== null);
    if (s.will !== null) this.scheduleWill(s);
    this.scheduleExpiry(s);
  }

  /** The session is over: will (if still pending), subscriptions, queues and storage go. */
  endSession(s: Session): void {
    if (s.willTimer) clearTimeout(s.willTimer);
    if (s.expiryTimer) clearTimeout(s.expiryTimer);
    s.willTimer = s.expiryTimer = null;
    if (this.sessions.get(s.clientId) === s) this.sessions.delete(s.clientId);
    for (const raw of s.subs.keys()) {
      const parsed = parseFilter(raw);
      if (typeof parsed !== 'string') this.router.removeEntry(parsed, trieKey(s, parsed));
      releaseExclusive(this.exclusive, raw, s.clientId);
    }
    s.subs.clear();
    s.clearMessages();
    if (s.stored) {
      this.persister.add({ op: 'session.delete', clientId: s.clientId });
      s.stored = false;
    }
    this.cluster?.sessionEnded(s.clientId);
    if (s.will !== null) this.fireWill(s);
  }

  // ---- sessions moving between brokers (cluster) ----

  /**
   * Hands a session to another broker: its connection is closed with 0x8E [MQTT-3.1.4-3], its
   * timers stop, its subscriptions leave the route table, and its state leaves this broker's
   * storage. Undefined when this broker does not hold it.
   */
  exportSession(clientId: string): SessionState | undefined {
    const s = this.sessions.get(clientId);
    if (s === undefined) return undefined;
    if (s.conn !== null) {
      const old = s.conn;
      s.conn = null;
      old.session = null;
      old.willDiscarded = true;
      // Kept for a clean start on the new broker, which publishes it as the old session ends.
      if (old.will !== null && s.will === null) s.will = old.will;
      old.disconnect(RC.SESSION_TAKEN_OVER, 'session taken over by a connection on another broker');
      s.disconnectedAt = Date.now();
    }
    if (s.willTimer) clearTimeout(s.willTimer);
    if (s.expiryTimer) clearTimeout(s.expiryTimer);
    s.willTimer = s.expiryTimer = null;
    const state: SessionState = {
      record: s.record(), subscriptions: [...s.subs.values()], outbound: s.outboundEntries(),
      inbound2: [...s.inbound2], nextSeq: s.nextSeq,
    };
    this.sessions.delete(clientId);
    for (const raw of s.subs.keys()) {
      const parsed = parseFilter(raw);
      if (typeof parsed !== 'string') this.router.removeEntry(parsed, trieKey(s, parsed));
    }
    s.subs.clear();
    s.clearMessages();
    if (s.stored) this.persister.add({ op: 'session.delete', clientId });
    s.stored = false;
    return state;
  }

  /** Installs a session handed over by another broker (then openSession resumes it). */
  importSession(state: SessionState): void {
    const r = state.record;
    const old = this.sessions.get(r.clientId);
    if (old !== undefined) this.exportSession(r.clientId);
    const s = new Session(this, r.clientId, r.protocolVersion, r.expiryInterval);
    s.disconnectedAt = r.disconnectedAt ?? Date.now();
    s.will = r.will ?? null;
    s.nextSeq = state.nextSeq;
    this.sessions.set(r.clientId, s);
    if (s.persistent) {
      this.persister.add({ op: 'session.put', session: s.record() });
      s.stored = true;
    }
    for (const sub of state.subscriptions) {
      const parsed = parseFilter(sub.filter);
      if (typeof parsed === 'string') continue;
      s.subs.set(sub.filter, sub);
      this.router.addEntry(parsed, trieKey(s, parsed), entryFor(s, sub, parsed));
      if (s.persistent) this.persister.add({ op: 'sub.put', sub });
    }
    for (const e of state.outbound) {
      e.persisted = false;
      s.restore(e);
    }
    if (s.persistent) s.persistAll();
    for (const pid of state.inbound2) {
      s.inbound2.add(pid);
      if (s.persistent) this.persister.add({ op: 'in2.put', clientId: r.clientId, packetId: pid });
    }
  }

  /**
   * Installs the session of a broker that died (broker/cluster/ adopts it from that broker's
   * storage): like importSession, and since no connection holds it, its will and expiry run here.
   */
  adoptSession(state: SessionState, from: number): void {
    this.importSession(state);
    const s = this.sessions.get(state.record.clientId)!;
    s.adoptedFrom = from;
    if (state.inbound2.length > 0) s.adoptedIn2 = new Set(state.inbound2);
    if (this.expired(s, Date.now())) {
      this.endSession(s);
      return;
    }
    if (s.will !== null) this.scheduleWill(s);
    this.scheduleExpiry(s);
  }

  /**
   * Fenced (broker/cluster/): every connection is closed with `reason` and no new one is taken;
   * wills stay pending. resume() takes connections again and re-arms the wills still pending.
   */
  suspend(reason: number, why: string): void {
    this.suspended = true;
    this.delayed.pause();
    for (const conn of [...this.connections]) conn.disconnect(reason, why);
  }

  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    this.delayed.resume();
    for (const s of this.sessions.values()) {
      if (s.conn === null && s.will !== null && s.willTimer === null) this.scheduleWill(s);
    }
  }

  /**
   * Messages routed on this broker while `clientId`'s session was on its way here from another
   * broker: each goes to the session once if one of its (non-shared) subscriptions matches.
   */
  deliverMissed(clientId: string, messages: readonly StoredMessage[]): void {
    const s = this.sessions.get(clientId);
    if (s === undefined) return;
    const have = new Set<string>();
    for (const e of s.outboundEntries()) have.add(e.message.id);
    for (const m of messages) {
      if (m.id === '' || !have.has(m.id)) this.router.deliverExcept(m, (other) => other !== s);
    }
  }

  /** Forgets a session's pending will: another broker already published it. */
  dropWill(clientId: string): void {
    const s = this.sessions.get(clientId);
    if (s === undefined || s.will === null) return;
    s.will = null;
    if (s.willTimer) clearTimeout(s.willTimer);
    s.willTimer = null;
    if (s.stored) this.persister.add({ op: 'session.put', session: s.record() });
  }

  /** The acknowledgement of a routed PUBLISH waits for this (and for remote brokers in a cluster). */
  afterRouted(conn: Connection, cb: (err: Error | null) => void): void {
    if (this.cluster === null) this.persister.after(cb);
    else this.cluster.afterRouted(conn, cb);
  }

  private scheduleWill(s: Session): void {
    const will = s.will!;
    const delayMs = Math.min(will.delayInterval, s.expiryInterval) * 1000 - (Date.now() - (s.disconnectedAt ?? Date.now()));
    if (delayMs <= 0) {
      this.fireWill(s);
      return;
    }
    s.willTimer = setTimeout(() => {
      s.willTimer = null;
      if (s.conn === null && s.will === will) this.fireWill(s);
    }, Math.min(delayMs, MAX_TIMER_MS));
    s.willTimer.unref();
  }

  /** Publishes the will as a fresh message [MQTT-3.1.2-8]. */
  private fireWill(s: Session): void {
    const will = s.will;
    if (will === null || this.suspended) return;
    s.will = null;
    if (s.stored) this.persister.add({ op: 'session.put', session: s.record() });
    this.cluster?.willFired(s.clientId);
    const w = will.message;
    const m = this.makeMessage(w.topic, w.payload, w.qos, w.retain, w.properties, w.origin);
    this.log.debug('publishing will', { clientId: s.clientId, topic: w.topic });
    this.router.publish(m);
  }

  private expired(s: Session, now: number): boolean {
    if (s.conn !== null || s.expiryInterval === NEVER_EXPIRES) return false;
    return now - (s.disconnectedAt ?? now) >= s.expiryInterval * 1000;
  }

  private scheduleExpiry(s: Session): void {
    if (s.expiryInterval === NEVER_EXPIRES) return;
    const remaining = s.expiryInterval * 1000 - (Date.now() - (s.disconnectedAt ?? Date.now()));
    s.expiryTimer = setTimeout(() => {
      s.expiryTimer = null;
      if (s.conn !== null) return;
      if (this.expired(s, Date.now())) this.endSession(s);
      else this.scheduleExpiry(s);
    }, Math.max(0, Math.min(remaining, MAX_TIMER_MS)));
    s.expiryTimer.unref();
  }

  // ---- subscriptions ----

  /** Adds or replaces a subscription [MQTT-3.8.4-3]. Returns true when it is new. */
  subscribe(s: Session, sub: SubscriptionRecord, parsed: ParsedFilter): boolean {
    const isNew = !s.subs.has(sub.filter);
    s.subs.set(sub.filter, sub);
    this.router.addEntry(parsed, trieKey(s, parsed), entryFor(s, sub, parsed));
    if (s.persistent) this.persister.add({ op: 'sub.put', sub });
    return isNew;
  }

  unsubscribe(s: Session, filter: string): boolean {
    if (!s.subs.delete(filter)) return false;
    releaseExclusive(this.exclusive, filter, s.clientId);
    const parsed = parseFilter(filter);
    if (typeof parsed !== 'string') this.router.removeEntry(parsed, trieKey(s, parsed));
    if (s.persistent) this.persister.add({ op: 'sub.delete', clientId: s.clientId, filter });
    return true;
  }

  // ---- retained ----

  /** Stores or clears the retained message of a topic [MQTT-3.3.1-5..7]. */
  retain(m: StoredMessage): void {
    if (m.payload.length === 0) {
      if (this.retained.delete(m.topic)) this.persister.add({ op: 'retain.delete', topic: m.topic });
      return;
    }
    this.retained.set(m);
    this.persister.add({ op: 'retain.put', message: this.ensureId(m) });
  }

  /** Retained messages for a new subscription, with RETAIN set [MQTT-3.3.1-9]. */
  sendRetained(s: Session, sub: SubscriptionRecord, filter: string): void {
    const ids = sub.subscriptionId === undefined ? undefined : [sub.subscriptionId];
    for (const m of this.retained.match(filter, Date.now())) {
      const qos = (sub.qos < m.qos ? sub.qos : m.qos) as QoS;
      s.deliver(m, qos, true, ids, undefined);
    }
  }

  // ---- timers ----

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections) conn.checkTimeouts(now);
  }

  // ---- introspection ----

  overview(): Record<string, number> {
    let subscriptions = 0;
    for (const s of this.sessions.values()) subscriptions += s.subs.size;
    return {
      connections: this.connections.size,
      sessions: this.sessions.size,
      subscriptions,
      retained: this.retained.size,
      messages_in: this.stats.messagesIn,
      messages_out: this.stats.messagesOut,
      messages_dropped: this.stats.dropped + this.stats.droppedSlow + this.stats.droppedTooLarge,
      messages_expired: this.stats.expired,
      messages_no_subscribers: this.stats.noSubscribers,
      bytes_in: this.stats.bytesIn,
      bytes_out: this.stats.bytesOut,
      slow_consumers: this.stats.slowConsumers,
      storage_batches: this.persister.batches,
      storage_failures: this.persister.failures,
    };
  }
}

function trieKey(s: Session, parsed: ParsedFilter): string {
  // An exclusive subscription and a plain one to the same filter are two entries of the session.
  if (parsed.exclusive) return `\u0000${s.clientId}`;
  return parsed.group === undefined ? s.clientId : `${parsed.group}\u0000${s.clientId}`;
}

function entryFor(s: Session, sub: SubscriptionRecord, parsed: ParsedFilter): SubEntry {
  return parsed.group === undefined ? { session: s, sub } : { session: s, sub, shareKey: `${parsed.group}\u0000${parsed.filter}` };
}
