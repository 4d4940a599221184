// The publish pipeline after the handler's checks: retain, match the topic in the subscription
// trie, pick one member per shared group, and hand one copy to each session. Delivery is pushed
// straight to connected sessions; nothing polls.

import type { StoredMessage, SubscriptionRecord } from '../storage/driver.js';
import type { Session } from './session.js';
import type { MqttBroker } from './broker.js';
import { TopicTrie } from './topic-trie.js';
import type { ParsedFilter } from './topic.js';

/**
 * What the cluster (broker/cluster/) plugs into the router; null on a standalone broker, so the
 * single-broker hot path pays one null check.
 */
export interface ClusterRouting {
  /** A route key (a filter, or `$share/{group}/{filter}`) gained its first local subscription. */
  routeAdded(routeKey: string): void;
  /** A route key lost its last local subscription. */
  routeRemoved(routeKey: string): void;
  /**
   * Hands a locally published message to the remote brokers whose routes match it (each at most
   * once). `localShared` are the shared-group keys with local members. Returns how many remote
   * brokers it went to, and the shared-group keys given to a remote broker (not delivered here).
   */
  forward(m: StoredMessage, localShared: readonly string[] | undefined): { brokers: number; delegated: ReadonlySet<string> | null };
}

export interface SubEntry {
  session: Session;
  sub: SubscriptionRecord;
  /** `group\0filter` for shared subscriptions. */
  shareKey?: string;
}

/** A topic's matches compiled for delivery: per session, and per shared group. */
interface Plan {
  direct: Array<{ session: Session; subs: SubEntry[] }>;
  shared: Array<{ key: string; members: SubEntry[] }>;
  /** The shared keys, for the cluster's one-member-per-group choice; undefined when none. */
  sharedKeys: string[] | undefined;
}

/** How a subscription appears in the cluster's route table: the filter, `$share/{group}/{filter}` when shared. */
export function routeKey(parsed: ParsedFilter): string {
  return parsed.group === undefined ? parsed.filter : `$share/${parsed.group}/${parsed.filter}`;
}

const NO_GROUPS: ReadonlySet<string> = new Set();

export class Router {
  readonly trie = new TopicTrie<SubEntry>();
  private readonly plans = new WeakMap<readonly SubEntry[], Plan>();
  private readonly roundRobin = new Map<string, number>();
  private readonly sticky = new Map<string, string>();
  /** Local subscriptions per route key, so the cluster hears only of the first and the last. */
  private readonly routeCounts = new Map<string, number>();
  cluster: ClusterRouting | null = null;

  constructor(private readonly broker: MqttBroker) {}

  /** Adds a session's subscription to the trie (and to the route table when it is the first). */
  addEntry(parsed: ParsedFilter, key: string, entry: SubEntry): void {
    if (!this.trie.insert(parsed.filter, key, entry)) return;
    const rk = routeKey(parsed);
    const n = this.routeCounts.get(rk) ?? 0;
    this.routeCounts.set(rk, n + 1);
    if (n === 0) this.cluster?.routeAdded(rk);
  }

  removeEntry(parsed: ParsedFilter, key: string): void {
    if (this.trie.remove(parsed.filter, key) === undefined) return;
    const rk = routeKey(parsed);
    const n = (this.routeCounts.get(rk) ?? 1) - 1;
    if (n > 0) {
      this.routeCounts.set(rk, n);
      return;
    }
    this.routeCounts.delete(rk);
    this.cluster?.routeRemoved(rk);
  }

  /** Route keys with at least one local subscription. */
  routeKeys(): string[] {
    return [...this.routeCounts.keys()];
  }

  /** Routes one message; returns how many sessions (or shared groups, or remote brokers) it went to. */
  publish(m: StoredMessage): number {
    if (m.retain) this.broker.retain(m);
    const entries = this.trie.match(m.topic);
    let plan: Plan | undefined;
    if (entries.length !== 0) {
      plan = this.plans.get(entries);
      if (plan === undefined) {
        plan = compile(entries);
        this.plans.set(entries, plan);
      }
    }
    let count = 0;
    let delegated: ReadonlySet<string> | null = null;
    const cluster = this.cluster;
    if (cluster !== null) {
      const r = cluster.forward(m, plan?.sharedKeys);
      count = r.brokers;
      delegated = r.delegated;
    }
    if (plan === undefined) {
      if (count === 0) this.broker.stats.noSubscribers++;
      return count;
    }
    return count + this.deliver(m, plan, delegated, null);
  }

  /**
   * A message forwarded by another broker: delivered to the local sessions that match, and to the
   * shared groups in `groups` only (the publishing broker picked this broker for them).
   */
  deliverForwarded(m: StoredMessage, groups: ReadonlySet<string>): number {
    if (m.retain) this.broker.retain(m);
    const plan = this.planFor(m.topic);
    return plan === undefined ? 0 : this.deliver(m, plan, null, groups);
  }

  /** The compiled delivery plan of the local subscriptions matching `topic` (cached per match). */
  private planFor(topic: string): Plan | undefined {
    const entries = this.trie.match(topic);
    if (entries.length === 0) return undefined;
    let plan = this.plans.get(entries);
    if (plan === undefined) {
      plan = compile(entries);
      this.plans.set(entries, plan);
    }
    return plan;
  }

  /**
   * A message to the local sessions that match, except those `skip` names, and to no shared
   * group (broker/cluster/: a QoS 2 resend after its broker died, see BrokerCluster.redeliverAdopted).
   */
  deliverExcept(m: StoredMessage, skip: (s: Session) => boolean): number {
    const plan = this.planFor(m.topic);
    return plan === undefined ? 0 : this.deliver(m, plan, null, NO_GROUPS, skip);
  }

  private deliver(
    m: StoredMessage, plan: Plan, skipShared: ReadonlySet<string> | null, onlyShared: ReadonlySet<string> | null,
    skip: ((s: Session) => boolean) | null = null,
  ): number {
    let count = 0;
    for (let i = 0; i < plan.direct.length; i++) {
      const { session, subs } = plan.direct[i]!;
      if (skip !== null && skip(session)) continue;
      if (subs.length === 1) {
        const sub = subs[0]!.sub;
        if (sub.noLocal && m.origin === session.clientId) continue; // [MQTT-3.8.3-3]
        const qos = sub.qos < m.qos ? sub.qos : m.qos;
        session.deliver(m, qos, sub.retainAsPublished && m.retain, sub.subscriptionId === undefined ? undefined : [sub.subscriptionId], undefined);
        count++;
        continue;
      }
      // Overlapping subscriptions of one session: one copy at the highest QoS, with every
      // subscription identifier [MQTT-3.3.4-3] [MQTT-3.3.4-5].
      let qos = -1;
      let retain = false;
      let ids: number[] | undefined;
      for (const { sub } of subs) {
        if (sub.noLocal && m.origin === session.clientId) continue;
        const q = sub.qos < m.qos ? sub.qos : m.qos;
        if (q > qos) qos = q;
        if (sub.retainAsPublished && m.retain) retain = true;
        if (sub.subscriptionId !== undefined) (ids ??= []).push(sub.subscriptionId);
      }
      if (qos < 0) continue;
      session.deliver(m, qos as 0 | 1 | 2, retain, ids, undefined);
      count++;
    }
    for (let i = 0; i < plan.shared.length; i++) {
      const group = plan.shared[i]!;
      if (skipShared !== null && skipShared.has(group.key)) continue;
      if (onlyShared !== null && !onlyShared.has(group.key)) continue;
      const member = this.pick(group.key, group.members);
      const sub = member.sub;
      const qos = sub.qos < m.qos ? sub.qos : m.qos;
      member.session.deliver(m, qos, sub.retainAsPublished && m.retain,
        sub.subscriptionId === undefined ? undefined : [sub.subscriptionId], group.key);
      count++;
    }
    return count;
  }

  /** Hands a message taken back from a departing shared-group member to another member. */
  redeliverShared(shareKey: string, m: StoredMessage, exclude: Session | null): boolean {
    const members: SubEntry[] = [];
    for (const e of this.trie.match(m.topic)) {
      if (e.shareKey === shareKey && e.session !== exclude && e.session.conn !== null) members.push(e);
    }
    if (members.length === 0) return false;
    const member = this.pick(shareKey, members);
    const qos = member.sub.qos < m.qos ? member.sub.qos : m.qos;
    member.session.deliver(m, qos, member.sub.retainAsPublished && m.retain, undefined, shareKey);
    return true;
  }

  /** One member per message: connected members first, then by the configured strategy. */
  private pick(key: string, members: SubEntry[]): SubEntry {
    let pool = members;
    let online = 0;
    for (const m of members) if (m.session.conn !== null) online++;
    if (online > 0 && online < members.length) pool = members.filter((m) => m.session.conn !== null);
    switch (this.broker.options.sharedStrategy) {
      case 'random':
        return pool[Math.floor(Math.random() * pool.length)]!;
      case 'sticky': {
        const last = this.sticky.get(key);
        const found = last === undefined ? undefined : pool.find((m) => m.session.clientId === last);
        if (found !== undefined) return found;
        const chosen = pool[0]!;
        this.sticky.set(key, chosen.session.clientId);
        return chosen;
      }
      default: {
        const n = this.roundRobin.get(key) ?? 0;
        this.roundRobin.set(key, n + 1);
        return pool[n % pool.length]!;
      }
    }
  }
}

function compile(entries: readonly SubEntry[]): Plan {
  const direct = new Map<Session, SubEntry[]>();
  const shared = new Map<string, SubEntry[]>();
  for (const e of entries) {
    if (e.shareKey !== undefined) {
      const list = shared.get(e.shareKey);
      if (list === undefined) shared.set(e.shareKey, [e]);
      else list.push(e);
    } else {
      const list = direct.get(e.session);
      if (list === undefined) direct.set(e.session, [e]);
      else list.push(e);
    }
  }
  return {
    direct: [...direct].map(([session, subs]) => ({ session, subs })),
    shared: [...shared].map(([key, members]) => ({ key, members })),
    sharedKeys: shared.size === 0 ? undefined : [...shared.keys()],
  };
}
