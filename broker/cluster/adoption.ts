// What happens to a dead broker's sessions. When placement marks broker X dead, every other
// broker waits a grace period (X fences itself within its heartbeat timeout, see membership.ts)
// and then tries to take custody of X's state (storage-custody.ts); one wins and:
//
// - with shared storage (the journal driver on remote journal nodes: every broker can open any
//   broker's shard prefix), it reads X's sessions, subscriptions, queued and in-flight messages
//   and delayed publishes, installs each session whose placement owner is still X as its own
//   (durably), makes itself the owner in placement (conditional put), and deletes X's routes, so
//   publishers are acknowledged again and a client reconnecting anywhere resumes its session;
// - in every case, it publishes the wills of X's sessions that placement says are pending (the
//   will travels in the placement session object), after the session's will delay, unless the
//   client came back first.
//
// When X starts again it reads the custody marker before it trusts its own storage
// (BrokerCluster.reclaimOwnState): sessions owned elsewhere are dropped from it.

import type { Logger } from '../../common/log.js';
import type { PlacementClient } from '../../placement/client/placement-client.js';
import { subscriptionKeyPrefix } from '../../placement/state/object-keys.js';
import { ObjectKind, type Session as SessionObject } from '../../proto/gen/placement_pb.js';
import type { MqttBroker, SessionState } from '../mqtt/broker.js';
import type { OutMsg } from '../mqtt/session.js';
import type { DelayedRecord, StorageDriver } from '../storage/driver.js';
import { routeClientId } from './route-publisher.js';
import { decodeSessionMeta, encodeSessionMeta } from './session-state-codec.js';
import { custodyOf, readCustody, RESERVED_CLIENT_ID_PREFIX, setCustody } from './storage-custody.js';
import { EXCLUSIVE_LOCK_PREFIX, lockHolder } from './placement-exclusive-locks.js';

export interface AdoptionOptions {
  selfId: number;
  broker: MqttBroker;
  placement: PlacementClient;
  /** A driver over another broker's state; null when storage is not shared between brokers. */
  openPeerStorage: ((brokerId: number) => StorageDriver) | null;
  /** Whether placement counts `brokerId` alive (this broker's view). */
  isAlive(brokerId: number): boolean;
  /** Waited after the death before anything is read (clock-rate drift, writes in flight). */
  graceMs: number;
  log: Logger;
  /** This broker now owns `clientId`'s session. */
  adopted(clientId: string): void;
  /** Hands a dead broker's delayed publishes to this broker's scheduler. */
  adoptDelayed(records: DelayedRecord[]): void;
}

interface PlacedSession {
  value: SessionObject;
  modIndex: number;
}

interface Placed {
  /** The dead broker's sessions. */
  sessions: Map<string, PlacedSession>;
  /** Every client id with a session object anywhere. */
  known: Set<string>;
  /** `$exclusive/` locks: filter -> holder client id. */
  locks: Map<string, string>;
}

export class Adoptions {
  private readonly running = new Set<number>();
  private readonly willTimers = new Set<NodeJS.Timeout>();
  private closed = false;
  readonly stats = { brokersAdopted: 0, sessionsAdopted: 0, willsPublished: 0 };

  constructor(private readonly o: AdoptionOptions) {}

  get sharedStorage(): boolean {
    return this.o.openPeerStorage !== null;
  }

  /** Placement marked `brokerId` dead. Lower ids go first, so brokers rarely race for custody. */
  brokerDied(brokerId: number): void {
    if (this.closed || brokerId === this.o.selfId || this.running.has(brokerId)) return;
    this.running.add(brokerId);
    const stagger = (this.o.selfId % 16) * 50;
    const attempt = (delay: number): void => {
      const t = setTimeout(() => {
        this.willTimers.delete(t);
        this.run(brokerId).then(
          () => this.running.delete(brokerId),
          (err: unknown) => {
            if (this.closed || this.o.isAlive(brokerId)) {
              this.running.delete(brokerId);
              return;
            }
            this.o.log.warn('adopting a dead broker\'s sessions failed; trying again', { broker: brokerId, error: err instanceof Error ? err.message : String(err) });
            attempt(1000);
          },
        );
      }, delay);
      t.unref();
      this.willTimers.add(t);
    };
    attempt(this.o.graceMs + stagger);
  }

  close(): void {
    this.closed = true;
    for (const t of this.willTimers) clearTimeout(t);
    this.willTimers.clear();
  }

  private async run(dead: number): Promise<void> {
    const { placement, selfId, log } = this.o;
    if (this.closed || this.o.isAlive(dead)) return;
    const custody = await readCustody(placement, dead);
    if (custody?.state === 'adopted') return;
    if (custody?.state === 'adopting' && custody.by !== selfId && this.o.isAlive(custody.by)) return;
    if (!(await setCustody(placement, dead, 'adopting', selfId, custody))) return;
    const started = Date.now();
    log.info('adopting the sessions of a dead broker', { broker: dead, sharedStorage: this.sharedStorage });
    const { sessions: placed, known, locks } = await this.placedSessions(dead);
    const adopted = this.o.openPeerStorage === null ? new Set<string>() : await this.adoptStored(dead, placed);
    for (const [clientId, p] of placed) {
      if (!adopted.has(clientId)) this.takeWill(dead, clientId, p);
    }
    // Locks of sessions that ended with the dead broker (or long before) go; adopted ones and
    // persistent sessions the dead broker keeps in its own storage hold theirs.
    for (const [filter, holder] of locks) {
      const p = placed.get(holder);
      const gone = !known.has(holder) || (p !== undefined && !adopted.has(holder) && (this.sharedStorage || p.value.sessionExpiryS === 0));
      if (gone) await placement.deleteObject({ case: 'session', value: { clientId: EXCLUSIVE_LOCK_PREFIX + filter } }).catch(() => undefined);
    }
    if (this.sharedStorage) await this.dropRoutes(dead);
    const now = await readCustody(placement, dead);
    if (now?.state === 'adopting' && now.by === selfId) await setCustody(placement, dead, 'adopted', selfId, now);
    this.stats.brokersAdopted++;
    log.info('adopted the sessions of a dead broker', { broker: dead, sessions: adopted.size, ms: Date.now() - started });
  }

  /**
   * Placement's session objects owned by `broker` (reserved ids excluded). An adoption `broker`
   * left half done (it died adopting another) is taken up again from here.
   */
  private async placedSessions(broker: number): Promise<Placed> {
    const listed = await this.o.placement.listObjects(ObjectKind.SESSION);
    const out = new Map<string, PlacedSession>();
    const known = new Set<string>();
    const locks = new Map<string, string>();
    for (const o of listed.objects) {
      if (o.object?.object.case !== 'session') continue;
      const v = o.object.object.value;
      if (v.clientId.startsWith(EXCLUSIVE_LOCK_PREFIX)) {
        const holder = lockHolder(v.data);
        if (holder !== undefined) locks.set(v.clientId.slice(EXCLUSIVE_LOCK_PREFIX.length), holder);
        continue;
      }
      if (!v.clientId.startsWith(RESERVED_CLIENT_ID_PREFIX)) known.add(v.clientId);
      if (v.brokerId !== broker) continue;
      if (v.clientId.startsWith(RESERVED_CLIENT_ID_PREFIX)) {
        const of = custodyOf(v.clientId);
        if (of !== undefined && of !== broker && of !== this.o.selfId) queueMicrotask(() => this.brokerDied(of));
        continue;
      }
      out.set(v.clientId, { value: v, modIndex: o.modIndex });
    }
    return { sessions: out, known, locks };
  }

  /** Moves the sessions of `dead`'s storage here; returns the client ids now owned here. */
  private async adoptStored(dead: number, placed: Map<string, PlacedSession>): Promise<Set<string>> {
    const { broker, placement, selfId } = this.o;
    const storage = this.o.openPeerStorage!(dead);
    await storage.open();
    const done = new Set<string>();
    try {
      const subs = new Map<string, SessionState['subscriptions']>();
      for (const sub of await storage.listSubscriptions()) {
        let list = subs.get(sub.clientId);
        if (list === undefined) subs.set(sub.clientId, (list = []));
        list.push(sub);
      }
      for (const record of await storage.listSessions()) {
        const clientId = record.clientId;
        const p = placed.get(clientId);
        // Absent from placement: the owner record was never written (a crash right after the
        // CONNECT) — the session is still the dead broker's. Owned by another: it moved on.
        if (p === undefined) {
          const cur = await placement.getObject({ case: 'session', value: { clientId } });
          if (cur !== undefined) continue;
        }
        const outbound: OutMsg[] = [];
        let nextSeq = 1;
        for (const e of await storage.listOutbound(clientId)) {
          outbound.push({
            seq: e.seq, message: e.message, qos: e.qos, retain: e.retain ?? false, subIds: e.subscriptionIds,
            packetId: e.packetId, state: e.state, persisted: false,
          });
          nextSeq = Math.max(nextSeq, e.seq + 1);
        }
        const state: SessionState = {
          record: { ...record, disconnectedAt: record.disconnectedAt ?? Date.now() },
          subscriptions: subs.get(clientId) ?? [],
          outbound,
          inbound2: await storage.listInboundQos2(clientId),
          nextSeq,
        };
        broker.adoptSession(state, dead);
        await new Promise<void>((resolve, reject) => broker.persister.after((err) => (err === null ? resolve() : reject(err))));
        const meta = encodeSessionMeta({ will: record.will ?? null, expiryInterval: record.expiryInterval });
        try {
          await placement.putObject(
            { case: 'session', value: { clientId, brokerId: selfId, connected: false, lastChangeMs: Date.now(), sessionExpiryS: record.expiryInterval, data: meta } },
            { expectedModIndex: p?.modIndex ?? 0 },
          );
        } catch (err: unknown) {
          // The client reconnected somewhere meanwhile and that broker owns the session now.
          broker.exportSession(clientId);
          this.o.log.debug('session claimed elsewhere while being adopted', { clientId, error: String(err) });
          continue;
        }
        done.add(clientId);
        this.o.adopted(clientId);
        this.stats.sessionsAdopted++;
      }
      const delayed = await storage.listDelayed();
      if (delayed.length > 0) this.o.adoptDelayed(delayed);
    } finally {
      await storage.close().catch(() => undefined);
    }
    return done;
  }

  /**
   * A session of the dead broker that nobody adopts (not persistent, or storage not shared): its
   * will goes out after its delay unless the client is back by then; the object then goes (a
   * session that ended) or keeps its owner without the will (a persistent one, which the dead
   * broker keeps in its own storage).
   */
  private takeWill(dead: number, clientId: string, p: PlacedSession): void {
    const meta = decodeSessionMeta(p.value.data);
    const persistent = (meta?.expiryInterval ?? p.value.sessionExpiryS) > 0 && !this.sharedStorage;
    const since = p.value.connected ? Date.now() : p.value.lastChangeMs;
    const will = meta?.will ?? null;
    const delayMs = will === null ? 0 : Math.max(0, Math.min(will.delayInterval, meta!.expiryInterval) * 1000 - (Date.now() - since));
    const t = setTimeout(() => {
      this.willTimers.delete(t);
      void this.finishWill(dead, clientId, persistent).catch((err: unknown) => {
        this.o.log.warn('could not publish a dead broker\'s will', { clientId, error: err instanceof Error ? err.message : String(err) });
      });
    }, delayMs);
    t.unref();
    this.willTimers.add(t);
  }

  private async finishWill(dead: number, clientId: string, persistent: boolean): Promise<void> {
    if (this.closed) return;
    const { placement, broker } = this.o;
    const cur = await placement.getObject({ case: 'session', value: { clientId } });
    if (cur?.object?.object.case !== 'session') return;
    const v = cur.object.object.value;
    if (v.brokerId !== dead) return;
    const meta = decodeSessionMeta(v.data);
    const expected = { expectedModIndex: cur.modIndex };
    // Only the broker whose conditional write wins publishes: the will goes out once.
    if (persistent) {
      if (meta?.will === null || meta === undefined) return;
      const data = encodeSessionMeta({ will: null, expiryInterval: meta.expiryInterval });
      await placement.putObject({
        case: 'session',
        value: { clientId, brokerId: v.brokerId, connected: false, lastChangeMs: v.lastChangeMs, sessionExpiryS: v.sessionExpiryS, data },
      }, expected);
    } else {
      await placement.putObject({ case: 'session', value: { clientId, brokerId: this.o.selfId, connected: false, lastChangeMs: Date.now() } }, expected);
      await placement.deleteObject({ case: 'session', value: { clientId } }).catch(() => undefined);
    }
    const w = meta?.will;
    if (w === undefined || w === null) return;
    const m = broker.makeMessage(w.message.topic, w.message.payload, w.message.qos, w.message.retain, w.message.properties, w.message.origin);
    this.o.log.debug('publishing the will of a dead broker\'s client', { clientId, topic: m.topic });
    broker.router.publish(m);
    this.stats.willsPublished++;
  }

  private async dropRoutes(dead: number): Promise<void> {
    const { placement } = this.o;
    const listed = await placement.listObjects(ObjectKind.SUBSCRIPTION, subscriptionKeyPrefix(routeClientId(dead)));
    for (const o of listed.objects) {
      if (o.object?.object.case !== 'subscription') continue;
      const v = o.object.object.value;
      await placement.deleteObject({ case: 'subscription', value: { clientId: v.clientId, filter: v.filter } });
    }
  }
}
