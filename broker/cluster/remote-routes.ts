// The other brokers' routes: which broker holds subscriptions matching which filters, as the
// per-broker aggregates placement keeps (route key -> brokers). A topic trie of remote filters
// gives, per topic, the brokers to forward to (each once) and, per shared group, the brokers with
// members. Only brokers placement reports alive are in the trie. The trie caches matches per
// topic and the compiled plan is cached per match result, so a publish that matches no remote
// route costs one Map lookup.

import { TopicTrie } from '../mqtt/topic-trie.js';
import { parseFilter } from '../mqtt/topic.js';

interface RouteValue {
  broker: number;
  /** `group\0filter` for a shared route. */
  shareKey: string | undefined;
}

export interface RemotePlan {
  /** Brokers placement marks dead that hold a non-shared matching route (persistent sessions may need it). */
  readonly unreachable?: readonly number[];
  /** Brokers with a non-shared matching route, each once. */
  readonly brokers: readonly number[];
  /** Shared-group key -> brokers with members of it. */
  readonly shared: ReadonlyMap<string, readonly number[]> | undefined;
}

const NONE: readonly number[] = Object.freeze([]);
const EMPTY_PLAN: RemotePlan = { brokers: [], shared: undefined };

export class RemoteRoutes {
  private readonly trie = new TopicTrie<RouteValue>();
  /** Non-shared routes of brokers placement marks dead. */
  private readonly deadTrie = new TopicTrie<RouteValue>();
  private readonly plans = new WeakMap<readonly RouteValue[], RemotePlan>();
  /** Every broker's route keys as placement reports them (alive or not). */
  private readonly byBroker = new Map<number, Set<string>>();
  private readonly alive = new Set<number>();
  /** `broker\0routeKey` -> expiry timer of a route a session carried there, not yet in placement. */
  private readonly moving = new Map<string, NodeJS.Timeout>();
  /** The same moved routes on their own, for what other brokers still forward here (see movedTo). */
  private readonly movingTrie = new TopicTrie<RouteValue>();

  constructor(private readonly self: number) {}

  /** Dead brokers with a non-shared route matching `topic` (checked only while some exist). */
  unreachable(topic: string): readonly number[] {
    if (this.deadTrie.size === 0) return NONE;
    return [...new Set(this.deadTrie.match(topic).map((v) => v.broker))];
  }

  /** The brokers to forward a message on `topic` to. */
  match(topic: string): RemotePlan {
    const values = this.trie.match(topic);
    if (values.length === 0) return EMPTY_PLAN;
    let plan = this.plans.get(values);
    if (plan === undefined) {
      plan = compile(values);
      this.plans.set(values, plan);
    }
    return plan;
  }

  /** Placement's route entry for `routeKey` (a full replacement of the brokers holding it). */
  setRoute(routeKey: string, brokers: readonly number[]): void {
    const now = new Set(brokers);
    for (const [b, keys] of this.byBroker) {
      if (keys.has(routeKey) && !now.has(b)) {
        keys.delete(routeKey);
        this.untrie(b, routeKey);
      }
    }
    for (const b of now) {
      let keys = this.byBroker.get(b);
      if (keys === undefined) this.byBroker.set(b, (keys = new Set()));
      if (keys.has(routeKey)) continue;
      keys.add(routeKey);
      this.entrie(b, routeKey);
      const parsed = this.moving.size === 0 ? undefined : parseFilter(routeKey);
      if (parsed !== undefined && typeof parsed !== 'string') this.unpoint(`${b}\u0000${routeKey}`, parsed.filter);
    }
  }

  /**
   * A session with these route keys just moved to `broker`: route there at once, for `ttlMs` or
   * until placement lists the routes (the new holder publishes them), so nothing published here
   * in between misses the session.
   */
  pointTo(broker: number, routeKeys: Iterable<string>, ttlMs: number): void {
    if (!this.alive.has(broker) || broker === this.self) return;
    for (const rk of routeKeys) {
      if (this.byBroker.get(broker)?.has(rk)) continue;
      const parsed = parseFilter(rk);
      if (typeof parsed === 'string') continue;
      const key = `${broker}\u0000${rk}`;
      const old = this.moving.get(key);
      if (old !== undefined) clearTimeout(old);
      const shareKey = parsed.group === undefined ? undefined : `${parsed.group}\u0000${parsed.filter}`;
      this.trie.insert(parsed.filter, `${key}\u0000moving`, { broker, shareKey });
      if (shareKey === undefined) this.movingTrie.insert(parsed.filter, key, { broker, shareKey });
      const t = setTimeout(() => this.unpoint(key, parsed.filter), ttlMs);
      t.unref();
      this.moving.set(key, t);
    }
  }

  private unpoint(key: string, filter: string): void {
    const t = this.moving.get(key);
    if (t === undefined) return;
    clearTimeout(t);
    this.moving.delete(key);
    this.trie.remove(filter, `${key}\u0000moving`);
    this.movingTrie.remove(filter, key);
  }

  /**
   * Brokers a session with a route matching `topic` just moved to, whose routes placement does not
   * list yet: a third broker that has not seen the move still forwards such a message here only.
   */
  movedTo(topic: string): readonly number[] {
    if (this.moving.size === 0) return NONE;
    const values = this.movingTrie.match(topic);
    if (values.length === 0) return NONE;
    return [...new Set(values.map((v) => v.broker))];
  }

  setAlive(broker: number, alive: boolean): void {
    if (alive === this.alive.has(broker)) return;
    if (alive) this.alive.add(broker);
    else this.alive.delete(broker);
    const keys = this.byBroker.get(broker);
    if (keys === undefined) return;
    for (const k of keys) this.entrie(broker, k);
  }

  isAlive(broker: number): boolean {
    return this.alive.has(broker);
  }

  aliveBrokers(): number[] {
    return [...this.alive];
  }

  /** Route keys placement lists for `broker`. */
  routesOf(broker: number): ReadonlySet<string> {
    return this.byBroker.get(broker) ?? new Set();
  }

  private entrie(broker: number, routeKey: string): void {
    if (broker === this.self) return;
    const parsed = parseFilter(routeKey);
    if (typeof parsed === 'string') return;
    const shareKey = parsed.group === undefined ? undefined : `${parsed.group}\u0000${parsed.filter}`;
    const key = `${broker}\u0000${routeKey}`;
    if (this.alive.has(broker)) {
      this.deadTrie.remove(parsed.filter, key);
      this.trie.insert(parsed.filter, key, { broker, shareKey });
    } else {
      this.trie.remove(parsed.filter, key);
      if (shareKey === undefined) this.deadTrie.insert(parsed.filter, key, { broker, shareKey });
    }
  }

  private untrie(broker: number, routeKey: string): void {
    const parsed = parseFilter(routeKey);
    if (typeof parsed === 'string') return;
    this.trie.remove(parsed.filter, `${broker}\u0000${routeKey}`);
    this.deadTrie.remove(parsed.filter, `${broker}\u0000${routeKey}`);
  }
}

function compile(values: readonly RouteValue[]): RemotePlan {
  const brokers = new Set<number>();
  let shared: Map<string, number[]> | undefined;
  for (const v of values) {
    if (v.shareKey === undefined) {
      brokers.add(v.broker);
      continue;
    }
    shared ??= new Map();
    const list = shared.get(v.shareKey);
    if (list === undefined) shared.set(v.shareKey, [v.broker]);
    else if (!list.includes(v.broker)) list.push(v.broker);
  }
  for (const list of shared?.values() ?? []) list.sort((a, b) => a - b);
  return { brokers: [...brokers], shared };
}
