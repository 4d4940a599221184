// One broker of a cluster: ties membership (placement registration, liveness, routes), the route
// publisher, the remote route table, the links to the other brokers and the link server into the
// hooks the MQTT engine calls (Router.cluster, MqttBroker.cluster).
//
//   publish -> local trie -> local sessions
//           -> RemoteRoutes.match(topic) -> each matching broker once, over its PeerLink
//   CONNECT -> placement session object (owner) -> takeover from the owner over the link
//           -> owner := this broker (conditional put, so two brokers cannot both win)
//   a broker dies -> one survivor adopts its sessions (adoption.ts) and publishes its wills
//   no heartbeat confirmed for a heartbeat timeout -> fenced: clients closed, nothing acknowledged

import type { Logger } from '../../common/log.js';
import { CodedError } from '../../common/errors.js';
import type { PlacementClient } from '../../placement/client/placement-client.js';
import type { ForwardBatch } from '../../proto/gen/broker_pb.js';
import { ObjectKind, type Session as SessionObject } from '../../proto/gen/placement_pb.js';
import type { ClusterSessions, MqttBroker } from '../mqtt/broker.js';
import type { Connection, PublishSource } from '../mqtt/connection.js';
import type { Session } from '../mqtt/session.js';
import { routeKey, type ClusterRouting } from '../mqtt/router.js';
import { parseFilter } from '../mqtt/topic.js';
import type { StorageDriver, StoredMessage } from '../storage/driver.js';
import { RC } from '../mqtt/reason-codes.js';
import { AckOrder } from './ack-order.js';
import { Adoptions } from './adoption.js';
import { exclusiveHolds } from '../mqtt/exclusive.js';
import { PlacementExclusiveLocks } from './placement-exclusive-locks.js';
import { RecentIds } from './recent-ids.js';
import { readCustody, RESERVED_CLIENT_ID_PREFIX, setCustody } from './storage-custody.js';
import { ClusterError } from './cluster-error.js';
import { fromLinkMessage, toLinkMessage } from './link-codec.js';
import { decodeForwarded, forwarded, type Forwarded } from './link-batch-codec.js';
import { startLinkServer, type BoundLinkServer, type LinkFlow } from './link-server.js';
import { Membership } from './membership.js';
import { PeerLink, UnreachableBatch, type PendingBatch } from './peer-link.js';
import { RemoteRoutes } from './remote-routes.js';
import { RoutePublisher } from './route-publisher.js';
import { decodeSessionMeta, decodeSessionState, encodeSessionMeta, encodeSessionState } from './session-state-codec.js';

export interface ClusterOptions {
  brokerId: number;
  clusterName: string;
  /** Where the link server binds; port 0 = any free port. */
  linkHost: string;
  linkPort: number;
  /** Host registered in placement for the others to dial. */
  advertiseHost: string;
  heartbeatTimeoutMs: number;
  maxUnackedBytes: number;
  takeoverTimeoutMs: number;
  /**
   * Opens another broker's durable state (its shard prefix in the shared journal), for adopting
   * the sessions of a dead broker; null when brokers do not share storage.
   */
  openPeerStorage: ((brokerId: number) => StorageDriver) | null;
  /** Waited after a broker's death before its state is read (default 500 ms). */
  adoptionGraceMs?: number;
  /** Delayed publishes of an adopted broker, to this broker's scheduler. */
  adoptDelayed?: (records: import('../storage/driver.js').DelayedRecord[]) => void;
}

/** Forwarded message ids remembered for deduplication. */
const RECENT_IDS = 200_000;

const NO_FORWARD = Object.freeze({ brokers: 0, delegated: null });

/** How `recent` remembers a forwarded QoS 2 exchange (publisher, packet id) until it is released. */
function exchangeKey(origin: string, packetId: number): string {
  return `q2\u0000${origin}\u0000${packetId}`;
}

/** An inter-broker link seen as a publisher by flow control: holding it defers its batches' acknowledgements. */
class LinkInput implements PublishSource {
  private held = false;
  private readonly deferred: Array<() => void> = [];
  /** The stream batches arrive on now: held, it is not read (bounding what is in flight to HTTP/2's window). */
  flow: LinkFlow | null = null;

  holdInput(): boolean {
    if (this.held) return false;
    this.held = true;
    this.flow?.pause();
    return true;
  }

  releaseInput(): void {
    this.held = false;
    this.flow?.resume();
    for (const f of this.deferred.splice(0)) f();
  }

  whenFlowing(f: () => void): void {
    if (this.held) this.deferred.push(f);
    else f();
  }
}

export class BrokerCluster implements ClusterRouting, ClusterSessions {
  readonly routes: RemoteRoutes;
  private readonly links = new Map<number, PeerLink>();
  private readonly publisher: RoutePublisher;
  private membership: Membership | null = null;
  private server: BoundLinkServer | null = null;
  private readonly acks: AckOrder;
  /** Remote batches the last forwarded QoS 1/2 message went into (see afterRouted). */
  private lastWaits: PendingBatch[] | null = null;
  private readonly roundRobin = new Map<string, number>();
  private readonly paused = new Set<PublishSource>();
  /** Per sending broker: its link as a publisher that backed-up subscribers here can hold. */
  private readonly inputs = new Map<number, LinkInput>();
  /** Sessions this broker owns in placement. */
  private readonly owned = new Set<string>();
  /** Sessions whose placement object carries a will (so a change of it is written there). */
  private readonly willsPlaced = new Set<string>();
  private readonly recent = new RecentIds(RECENT_IDS);
  /** Per publisher: QoS 2 exchanges forwarded and not released yet (packet id -> brokers they went to). */
  private readonly openQos2 = new Map<string, Map<number, number[]>>();
  /** Set while redeliverAdopted sends: the forwarded copies carry the redelivery flag. */
  private redelivering = false;
  private readonly adoptions: Adoptions;
  /** Sessions being taken over from another broker: what that broker forwards meanwhile. */
  private readonly claims = new Set<{ from: number; batches: Array<{ seq: number; messages: StoredMessage[] }> }>();
  private fenced = false;
  readonly stats = { forwardedOut: 0, forwardedIn: 0, batchesIn: 0, takeoversIn: 0, takeoversOut: 0, duplicatesIn: 0, fences: 0 };
  private closed = false;

  private constructor(
    readonly broker: MqttBroker,
    readonly placement: PlacementClient,
    readonly options: ClusterOptions,
    private readonly log: Logger,
  ) {
    this.routes = new RemoteRoutes(options.brokerId);
    this.publisher = new RoutePublisher(placement, options.brokerId, log);
    this.acks = new AckOrder(broker.persister);
    this.adoptions = new Adoptions({
      selfId: options.brokerId, broker, placement, openPeerStorage: options.openPeerStorage,
      isAlive: (id) => this.routes.isAlive(id), graceMs: options.adoptionGraceMs ?? 500, log,
      adopted: (clientId) => this.owned.add(clientId),
      adoptDelayed: (records) => {
        if (options.adoptDelayed !== undefined) options.adoptDelayed(records);
        else log.warn('a dead broker\'s delayed publishes cannot be taken over here', { count: records.length });
      },
    });
  }

  get adoptionStats(): Adoptions['stats'] {
    return this.adoptions.stats;
  }

  /** Binds the link server, registers, reads routes and brokers, and attaches to the engine. */
  static async start(broker: MqttBroker, placement: PlacementClient, options: ClusterOptions, log: Logger): Promise<BrokerCluster> {
    const c = new BrokerCluster(broker, placement, options, log);
    try {
      await c.open();
    } catch (err: unknown) {
      await c.close();
      throw err;
    }
    return c;
  }

  get linkPort(): number {
    return this.server?.port ?? 0;
  }

  private async open(): Promise<void> {
    const o = this.options;
    this.server = await startLinkServer(o.linkHost, o.linkPort, o.clusterName, {
      onBatch: (from, batch, done, flow) => this.onBatch(from, batch, done, flow),
      onTakeover: (from, clientId) => this.onTakeover(from, clientId),
      onRetained: () => [...this.broker.retained.values()].map((m) => toLinkMessage(m, [], true)),
    }, this.log);
    this.membership = new Membership(this.placement, {
      brokerId: o.brokerId, address: `${o.advertiseHost}:${this.server.port}`, heartbeatTimeoutMs: o.heartbeatTimeoutMs,
    }, {
      brokerAlive: (id, address) => this.brokerAlive(id, address),
      brokerDead: (id) => this.brokerDead(id),
      route: (key, brokers) => this.routes.setRoute(key, brokers),
      fenced: () => this.onFenced(),
      rejoined: () => this.onRejoined(),
    }, this.log);
    await this.membership.start();
    const adopted = await this.reclaimOwnState();
    await this.adoptStoredSessions(adopted);
    await this.takeExclusiveLocks();
    // A batch stored before a crash and resent after the restart must not be routed twice.
    for (const s of this.broker.sessions.values()) for (const e of s.outboundEntries()) if (e.message.id !== '') this.recent.add(e.message.id);
    this.broker.router.cluster = this;
    this.broker.cluster = this;
    await this.publisher.reconcile(this.broker.router.routeKeys());
    await this.catchUpRetained();
    if (!this.fenced) this.broker.resume();
    this.log.info('joined the cluster', { brokerId: o.brokerId, link: this.server.port, brokers: this.routes.aliveBrokers().join(',') });
  }

  /**
   * With shared storage another broker may have adopted this one's sessions while it was dead:
   * waits until such an adoption is over, then takes custody of its own state back. True when
   * it had been adopted (every session then belongs elsewhere or ended).
   */
  private async reclaimOwnState(): Promise<boolean> {
    if (this.options.openPeerStorage === null) return false;
    const self = this.options.brokerId;
    const deadline = Date.now() + 60_000;
    for (;;) {
      const c = await readCustody(this.placement, self);
      if (c === undefined || c.state === 'self') {
        if (c === undefined && !(await setCustody(this.placement, self, 'self', self, undefined))) continue;
        return false;
      }
      if (c.state === 'adopting' && this.routes.isAlive(c.by) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (await setCustody(this.placement, self, 'self', self, c)) {
        this.log.info('this broker\'s sessions were adopted while it was away', { by: c.by, finished: c.state === 'adopted' });
        return true;
      }
    }
  }

  /**
   * Sessions in this broker's storage (from before a restart or a fence) stay here only if
   * placement still names this broker their owner, or nobody and no other broker adopted them:
   * a client that moved meanwhile owns its session elsewhere. A will another broker already
   * published is dropped here.
   */
  private async adoptStoredSessions(wasAdopted: boolean): Promise<void> {
    if (this.broker.sessions.size === 0) return;
    // One listing rather than a read per stored session: start-up with many sessions stays one round trip.
    const placed = new Map<string, SessionObject>();
    for (const o of (await this.placement.listObjects(ObjectKind.SESSION)).objects) {
      if (o.object?.object.case === 'session') placed.set(o.object.object.value.clientId, o.object.object.value);
    }
    for (const s of [...this.broker.sessions.values()]) {
      const v = placed.get(s.clientId);
      if ((v !== undefined && v.brokerId !== this.options.brokerId) || (v === undefined && wasAdopted)) {
        this.owned.delete(s.clientId);
        this.broker.exportSession(s.clientId);
        continue;
      }
      this.owned.add(s.clientId);
      if (v === undefined) {
        const data = encodeSessionMeta({ will: s.will, expiryInterval: s.expiryInterval });
        if (s.will !== null) this.willsPlaced.add(s.clientId);
        await this.placement.putObject({ case: 'session', value: { clientId: s.clientId, brokerId: this.options.brokerId, connected: false, lastChangeMs: Date.now(), sessionExpiryS: s.expiryInterval, data } });
        continue;
      }
      const meta = decodeSessionMeta(v.data);
      if (meta === undefined) continue;
      if (meta.will !== null) this.willsPlaced.add(s.clientId);
      else if (s.will !== null) this.broker.dropWill(s.clientId);
    }
  }

  /** `$exclusive/` subscriptions become cluster-wide: the locks of this broker's sessions move to placement. */
  private async takeExclusiveLocks(): Promise<void> {
    const locks = new PlacementExclusiveLocks(this.placement, this.options.brokerId, this.log);
    for (const h of exclusiveHolds(this.broker.sessions.values())) {
      if (!(await locks.acquire(h.filter, h.clientId))) {
        this.log.warn('an exclusive subscription of a stored session is held by another session of the cluster', { ...h });
      }
    }
    this.broker.exclusive = locks;
  }

  /** Retained messages set while this broker was away: the first peer that answers has them all. */
  private async catchUpRetained(): Promise<void> {
    const since = Date.now();
    for (const link of this.links.values()) {
      let messages;
      try {
        messages = await link.retained(this.options.takeoverTimeoutMs);
      } catch (err: unknown) {
        this.log.debug('retained catch-up from a peer failed', { peer: link.peerId, error: String(err) });
        continue;
      }
      const theirs = new Set<string>();
      for (const l of messages) {
        const m = fromLinkMessage(l);
        theirs.add(m.topic);
        const mine = this.broker.retained.get(m.topic);
        if (mine === undefined || mine.createdAt <= m.createdAt) this.broker.retain({ ...m, retain: true });
      }
      // What the peer lacks was cleared (or expired) while this broker was away, unless it was set here since.
      for (const m of [...this.broker.retained.values()]) {
        if (!theirs.has(m.topic) && m.createdAt < since) this.broker.retain({ ...m, payload: Buffer.alloc(0) });
      }
      this.log.info('retained messages caught up', { from: link.peerId, count: messages.length });
      return;
    }
  }

  // ---- fencing ----

  private onFenced(): void {
    if (this.closed) return;
    this.fenced = true;
    this.stats.fences++;
    this.broker.suspend(RC.USE_ANOTHER_SERVER, 'this broker lost placement; use another server');
  }

  private onRejoined(): void {
    if (this.closed) return;
    void (async () => {
      for (;;) {
        try {
          const adopted = await this.reclaimOwnState();
          await this.adoptStoredSessions(adopted);
          await this.publisher.reconcile(this.broker.router.routeKeys());
          break;
        } catch (err: unknown) {
          if (this.closed || this.membership?.fenced === true) return;
          this.log.warn('rejoining the cluster failed; trying again', { error: err instanceof Error ? err.message : String(err) });
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (this.closed || this.membership?.fenced === true) return;
      this.fenced = false;
      this.broker.resume();
      this.log.info('serving again after a fence');
    })();
  }

  // ---- membership ----

  private brokerAlive(id: number, address: string): void {
    if (id === this.options.brokerId || this.closed) return;
    const link = this.links.get(id);
    if (link === undefined) {
      this.links.set(id, new PeerLink({
        selfId: this.options.brokerId, peerId: id, address, clusterName: this.options.clusterName,
        maxUnackedBytes: this.options.maxUnackedBytes, log: this.log, onDrained: () => this.resumePublishers(),
        beforeSend: (go) => this.broker.persister.after(go),
      }));
    } else {
      link.retarget(address);
    }
    this.routes.setAlive(id, true);
  }

  private brokerDead(id: number): void {
    if (id === this.options.brokerId) return;
    this.routes.setAlive(id, false);
    this.adoptions.brokerDied(id);
    this.inputs.get(id)?.releaseInput();
    this.inputs.delete(id);
    const link = this.links.get(id);
    if (link === undefined) return;
    this.links.delete(id);
    this.log.info('broker left the cluster; no longer forwarding to it', { broker: id });
    link.close('marked dead by placement');
  }

  // ---- routes (ClusterRouting) ----

  routeAdded(routeKey: string): void {
    this.publisher.set(routeKey, true);
  }

  routeRemoved(routeKey: string): void {
    this.publisher.set(routeKey, false);
  }

  forward(m: StoredMessage, localShared: readonly string[] | undefined): { brokers: number; delegated: ReadonlySet<string> | null } {
    this.lastWaits = null;
    const plan = this.routes.match(m.topic);
    const dead = m.qos > 0 ? this.routes.unreachable(m.topic) : undefined;
    if (plan.brokers.length === 0 && plan.shared === undefined && !m.retain && (dead === undefined || dead.length === 0)) return NO_FORWARD;
    if (dead !== undefined && dead.length > 0) {
      // A dead broker's sessions may still need this message and nothing can take it for them
      // now: the publisher is not acknowledged, so it sends again later (see README, "Known gaps").
      (this.lastWaits ??= []).push(new UnreachableBatch(new ClusterError('PEER_UNREACHABLE', `broker ${dead.join(',')} holds subscriptions to ${m.topic} and is not alive`)));
    }
    let groups: Map<number, string[]> | undefined;
    let delegated: Set<string> | null = null;
    if (plan.shared !== undefined) {
      // One member cluster-wide: first one broker among those with members (this one included).
      for (const [key, brokers] of plan.shared) {
        const local = localShared !== undefined && localShared.includes(key);
        const n = this.roundRobin.get(key) ?? 0;
        this.roundRobin.set(key, n + 1);
        const total = brokers.length + (local ? 1 : 0);
        const i = n % total;
        if (local && i === brokers.length) continue;
        const b = brokers[i]!;
        groups ??= new Map();
        const list = groups.get(b);
        if (list === undefined) groups.set(b, [key]);
        else list.push(key);
        (delegated ??= new Set()).add(key);
      }
    }
    let count = 0;
    const sent = m.retain ? new Set<number>() : null;
    for (const b of plan.brokers) {
      if (this.send(b, m, groups?.get(b) ?? [], false)) count++;
      sent?.add(b);
    }
    if (groups !== undefined) {
      for (const [b, keys] of groups) {
        if (plan.brokers.includes(b)) continue;
        if (this.send(b, m, keys, false)) count++;
        sent?.add(b);
      }
    }
    if (sent !== null) {
      // Retained messages live on every broker, so a later subscriber anywhere gets them.
      for (const b of this.links.keys()) if (!sent.has(b)) this.send(b, m, [], true);
    }
    return { brokers: count, delegated };
  }

  private send(broker: number, m: StoredMessage, groups: string[], retainOnly: boolean): boolean {
    const link = this.links.get(broker);
    if (link === undefined) return false;
    const l = forwarded(m, groups, retainOnly);
    const pid = this.broker.currentPacketId;
    if (pid !== 0 && !retainOnly && m.origin !== undefined) {
      l.publisherPacketId = pid;
      l.redelivery = this.redelivering;
      this.noteOpen(m.origin, pid, broker);
    }
    const batch = link.send(l);
    this.stats.forwardedOut++;
    if (m.qos > 0 && !retainOnly) (this.lastWaits ??= []).push(batch);
    if (link.congested) {
      const pub = this.broker.currentPublisher;
      if (pub !== null && !this.paused.has(pub) && pub.holdInput()) this.paused.add(pub);
    }
    return !retainOnly;
  }

  private noteOpen(clientId: string, packetId: number, broker: number): void {
    let open = this.openQos2.get(clientId);
    if (open === undefined) this.openQos2.set(clientId, (open = new Map()));
    const to = open.get(packetId);
    if (to === undefined) open.set(packetId, [broker]);
    else if (!to.includes(broker)) to.push(broker);
  }

  qos2Released(clientId: string, packetId: number): void {
    const open = this.openQos2.get(clientId);
    const to = open?.get(packetId);
    if (to === undefined) return;
    open!.delete(packetId);
    if (open!.size === 0) this.openQos2.delete(clientId);
    const key = `${clientId}\u0000${packetId}`;
    for (const b of to) this.links.get(b)?.release(key);
  }

  redeliverAdopted(session: Session, m: StoredMessage, packetId: number): number {
    this.lastWaits = null;
    let count = 0;
    // Here: unless the dead broker's forward reached this broker, every session but the ones it
    // held itself (they got the message in the same write as the packet id).
    const key = exchangeKey(session.clientId, packetId);
    if (!this.recent.has(key)) {
      this.recent.add(key);
      const from = session.adoptedFrom;
      count += this.broker.router.deliverExcept(m, (s) => s.adoptedFrom !== null && s.adoptedFrom === from);
    }
    // Elsewhere: each broker with a matching route decides the same way.
    this.broker.ensureId(m);
    this.broker.currentPacketId = packetId;
    this.redelivering = true;
    for (const b of this.routes.match(m.topic).brokers) if (this.send(b, m, [], false)) count++;
    this.redelivering = false;
    this.broker.currentPacketId = 0;
    return count;
  }

  redeliverShared(shareKey: string, m: StoredMessage): boolean {
    if (this.fenced) return false;
    const brokers = this.routes.match(m.topic).shared?.get(shareKey);
    if (brokers === undefined || brokers.length === 0) return false;
    const n = this.roundRobin.get(shareKey) ?? 0;
    this.roundRobin.set(shareKey, n + 1);
    const link = this.links.get(brokers[n % brokers.length]!);
    if (link === undefined) return false;
    const l = forwarded(this.broker.ensureId(m), [shareKey]);
    l.sharedOnly = true;
    link.send(l);
    this.stats.forwardedOut++;
    return true;
  }

  private resumePublishers(): void {
    for (const l of this.links.values()) if (l.congested) return;
    for (const c of this.paused) c.releaseInput();
    this.paused.clear();
  }

  // ---- acknowledgements (ClusterSessions) ----

  afterRouted(conn: Connection, cb: (err: Error | null) => void): void {
    let waits = this.lastWaits;
    this.lastWaits = null;
    if (this.fenced) (waits ??= []).push(new UnreachableBatch(new ClusterError('FENCED', 'this broker lost placement')));
    this.acks.after(conn, waits, cb);
  }

  // ---- the link server's side ----

  private onBatch(from: number, batch: ForwardBatch, done: (err: Error | null) => void, flow: LinkFlow): void {
    if (this.fenced) {
      done(new ClusterError('FENCED', `broker ${this.options.brokerId} lost placement`));
      return;
    }
    this.stats.batchesIn++;
    let list: Forwarded[];
    try {
      list = decodeForwarded(batch.packed);
    } catch (err: unknown) {
      this.log.warn('refusing a forwarded batch that does not decode', { from, error: err instanceof Error ? err.message : String(err) });
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    const router = this.broker.router;
    let input = this.inputs.get(from);
    if (input === undefined) this.inputs.set(from, (input = new LinkInput()));
    input.flow = flow;
    let fresh: string[] | null = null;
    let seen: StoredMessage[] | null = null;
    let passed: PendingBatch[] | null = null;
    // A subscriber here that cannot keep up holds the link as it would hold a local publisher:
    // the acknowledgement waits, the sender's unacknowledged bytes grow, and past
    // cluster.max_unacked_bytes it pauses its own publishers.
    this.broker.currentPublisher = input;
    // Exchanges the sender closed first: a later message may reuse the packet id.
    for (const k of batch.released) this.recent.delete(`q2\u0000${k}`); // k is "origin\0packet id" (qos2Released)
    for (const l of list) {
      if (l.publisherPacketId !== 0 && l.message.origin !== undefined) {
        const q2 = exchangeKey(l.message.origin, l.publisherPacketId);
        if (l.redelivery && this.recent.has(q2)) {
          this.stats.duplicatesIn++;
          continue;
        }
        this.recent.add(q2);
      }
      const id = l.message.id;
      if (id !== '' && !l.retainOnly) {
        // A redelivery of a shared message travels under its id again: its own key.
        const key = l.sharedOnly ? `${id}\u0000${l.sharedGroups.join('\u0000')}` : id;
        if (this.recent.has(key)) {
          this.stats.duplicatesIn++;
          continue;
        }
        this.recent.add(key);
        (fresh ??= []).push(key);
      }
      const m = this.deliver(l, router);
      if (m !== null && this.claims.size > 0) (seen ??= []).push(m);
      // A session matching it moved on from here and the sender may not know yet: pass it on
      // (under its id, so the new holder routes it once even if the sender also sends it there).
      if (m !== null && !l.sharedOnly) {
        for (const b of this.routes.movedTo(m.topic)) {
          if (b === from) continue;
          const onward = this.links.get(b)?.send(forwarded(m));
          if (onward !== undefined && m.qos > 0) (passed ??= []).push(onward);
        }
      }
    }
    this.broker.currentPublisher = null;
    if (seen !== null) for (const c of this.claims) if (c.from === from) c.batches.push({ seq: batch.seq, messages: seen });
    const flowing = input;
    let pending = 1 + (passed?.length ?? 0);
    let firstErr: Error | null = null;
    const one = (err: Error | null): void => {
      if (err !== null && firstErr === null) firstErr = err;
      if (--pending > 0) return;
      // Not stored: the resend must be routed.
      if (firstErr !== null && fresh !== null) for (const id of fresh) this.recent.delete(id);
      const result = firstErr;
      flowing.whenFlowing(() => done(result));
    };
    this.broker.persister.after(one);
    if (passed !== null) for (const b of passed) b.wait(one);
  }

  private deliver(l: Forwarded, router: MqttBroker['router']): StoredMessage | null {
    this.stats.forwardedIn++;
    const m = l.message;
    if (l.retainOnly) {
      this.broker.retain(m);
      return null;
    }
    if (l.sharedOnly) {
      for (const g of l.sharedGroups) router.redeliverShared(g, m, null);
      return null;
    }
    router.deliverForwarded(m, new Set(l.sharedGroups));
    return m;
  }

  private onTakeover(from: number, clientId: string): Uint8Array | undefined {
    if (this.fenced) throw new ClusterError('FENCED', `broker ${this.options.brokerId} lost placement`);
    this.stats.takeoversOut++;
    this.willsPlaced.delete(clientId);
    // Its PUBRELs arrive elsewhere now; receivers forget those exchanges by age.
    this.openQos2.delete(clientId);
    this.owned.delete(clientId);
    // Everything routed from here on travels in batches after `cut`, and matching publishes go to
    // the new holder at once (before its routes reach placement and come back).
    const cut = this.links.get(from)?.seal() ?? 0;
    const state = this.broker.exportSession(clientId);
    this.log.info('session handed over', { clientId, to: from, found: state !== undefined });
    if (state === undefined) return undefined;
    const keys: string[] = [];
    for (const sub of state.subscriptions) {
      const parsed = parseFilter(sub.filter);
      if (typeof parsed !== 'string') keys.push(routeKey(parsed));
    }
    this.routes.pointTo(from, keys, 10_000);
    return encodeSessionState(state, cut);
  }

  // ---- sessions (ClusterSessions) ----

  async claimSession(clientId: string, conn: Connection): Promise<void> {
    if (clientId.startsWith(RESERVED_CLIENT_ID_PREFIX)) {
      throw new CodedError('BR_CLIENT_ID_INVALID', `client ids starting with ${RESERVED_CLIENT_ID_PREFIX} are reserved for the cluster`);
    }
    if (this.fenced) throw new ClusterError('FENCED', `broker ${this.options.brokerId} lost placement`);
    const self = this.options.brokerId;
    const deadline = Date.now() + this.options.takeoverTimeoutMs + this.options.heartbeatTimeoutMs + (this.options.adoptionGraceMs ?? 500);
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await this.placement.getObject({ case: 'session', value: { clientId } });
      const owner = cur?.object?.object.case === 'session' ? cur.object.object.value.brokerId : undefined;
      if (owner !== undefined && owner !== self) {
        const link = this.links.get(owner);
        if (link !== undefined && this.routes.isAlive(owner)) {
          let bytes: Uint8Array | undefined;
          const claim = { from: owner, batches: [] as Array<{ seq: number; messages: StoredMessage[] }> };
          this.claims.add(claim);
          try {
            bytes = await link.takeover(clientId, this.options.takeoverTimeoutMs);
            this.stats.takeoversIn++;
            if (bytes !== undefined) {
              const state = decodeSessionState(bytes);
              this.broker.importSession(state);
              // Forwarded here after the owner let go and before this session was in place.
              const missed: StoredMessage[] = [];
              for (const b of claim.batches) if (b.seq > state.cutSeq) missed.push(...b.messages);
              if (missed.length > 0) this.broker.deliverMissed(clientId, missed);
            }
          } catch (err: unknown) {
            // The owner died while handing over: once placement says so, its adopter has the session.
            if (!this.adoptions.sharedStorage || Date.now() >= deadline || this.fenced) throw err;
            await new Promise((r) => setTimeout(r, 100));
            attempt--;
            continue;
          } finally {
            this.claims.delete(claim);
          }
        } else if (this.adoptions.sharedStorage && Date.now() < deadline) {
          // The owner is dead: a survivor is adopting its sessions (this one, perhaps); once it
          // owns this session the client gets it from there.
          await new Promise((r) => setTimeout(r, 100));
          attempt--;
          continue;
        } else {
          // The owner is dead and its state is in its own storage: it keeps it until it is back.
          this.log.warn('session owner is not alive; starting from what this broker holds', { clientId, owner });
        }
      }
      const will = conn.will;
      try {
        await this.placement.putObject(
          {
            case: 'session',
            value: {
              clientId, brokerId: self, connected: true, lastChangeMs: Date.now(), sessionExpiryS: conn.connectExpiryInterval,
              data: will === null ? new Uint8Array() : encodeSessionMeta({ will, expiryInterval: conn.connectExpiryInterval }),
            },
          },
          { expectedModIndex: cur?.modIndex ?? 0 },
        );
        this.owned.add(clientId);
        if (will !== null) this.willsPlaced.add(clientId);
        else this.willsPlaced.delete(clientId);
        return;
      } catch (err: unknown) {
        if (err instanceof CodedError && (err.code === 'PC_CONFLICT' || err.code === 'PC_ALREADY_EXISTS')) continue;
        throw err;
      }
    }
    throw new ClusterError('SESSION_CLAIM_FAILED', `session ${clientId}: other brokers kept claiming it`);
  }

  sessionDetached(clientId: string, willPending: boolean): void {
    if (!this.willsPlaced.has(clientId) || this.closed) return;
    // The will is still wanted (its delay runs) or no longer (normal DISCONNECT): placement's copy says so.
    this.updateWill(clientId, willPending);
  }

  willFired(clientId: string): void {
    if (!this.willsPlaced.has(clientId) || this.closed) return;
    this.updateWill(clientId, false);
  }

  /** Rewrites the owner object's will part, if this broker still owns the session. */
  private updateWill(clientId: string, keep: boolean): void {
    if (!keep) this.willsPlaced.delete(clientId);
    void (async () => {
      const cur = await this.placement.getObject({ case: 'session', value: { clientId } });
      if (cur?.object?.object.case !== 'session') return;
      const v = cur.object.object.value;
      if (v.brokerId !== this.options.brokerId) return;
      const meta = decodeSessionMeta(v.data);
      if (meta === undefined) return;
      const data = encodeSessionMeta({ will: keep ? meta.will : null, expiryInterval: meta.expiryInterval });
      await this.placement.putObject(
        { case: 'session', value: { clientId, brokerId: v.brokerId, connected: false, lastChangeMs: Date.now(), sessionExpiryS: v.sessionExpiryS, data } },
        { expectedModIndex: cur.modIndex },
      );
    })().catch((err: unknown) => this.log.debug('could not update the will in placement', { clientId, error: String(err) }));
  }

  sessionEnded(clientId: string): void {
    this.willsPlaced.delete(clientId);
    this.openQos2.delete(clientId);
    if (!this.owned.delete(clientId) || this.closed) return;
    this.placement.deleteObject({ case: 'session', value: { clientId } }).catch((err: unknown) => {
      this.log.debug('could not drop the session owner record', { clientId, error: String(err) });
    });
  }

  /** Leaves the cluster: unregisters (the others stop forwarding at once), closes links. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.adoptions.close();
    if (this.broker.router.cluster === this) this.broker.router.cluster = null;
    if (this.broker.cluster === this) this.broker.cluster = null;
    // Routes of sessions that end with this process go now; persistent sessions keep theirs (the
    // others refuse to acknowledge what those need until this broker is back).
    const keep = new Set<string>();
    for (const sess of this.broker.sessions.values()) {
      if (!sess.persistent) continue;
      for (const raw of sess.subs.keys()) {
        const parsed = parseFilter(raw);
        if (typeof parsed !== 'string') keep.add(routeKey(parsed));
      }
    }
    await Promise.race([
      this.publisher.reconcile([...keep]).catch(() => undefined),
      new Promise((r) => setTimeout(r, 2000).unref()),
    ]);
    this.publisher.close();
    await this.membership?.close(true);
    for (const l of this.links.values()) l.close('this broker is stopping');
    this.links.clear();
    await this.server?.close();
    this.resumePublishers();
  }
}

