// Subscription index: a trie over topic levels with distinct `+` and `#` children, and a match
// cache keyed by topic that a generation counter invalidates on every change.

class TrieNode<V> {
  literal: Map<string, TrieNode<V>> | null = null;
  plus: TrieNode<V> | null = null;
  /** Entries whose filter ends with `#` at this level. */
  hash: Map<string, V> | null = null;
  /** Entries whose filter ends exactly at this level. */
  exact: Map<string, V> | null = null;

  isEmpty(): boolean {
    return (this.literal === null || this.literal.size === 0) && this.plus === null &&
      (this.hash === null || this.hash.size === 0) && (this.exact === null || this.exact.size === 0);
  }
}

export class TopicTrie<V> {
  private readonly root = new TrieNode<V>();
  private generation = 0;
  private readonly cache = new Map<string, { generation: number; values: V[] }>();
  private count = 0;

  constructor(private readonly cacheLimit = 16_384) {}

  get size(): number {
    return this.count;
  }

  /** Adds or replaces the entry `key` under `filter`. Returns true when it was new. */
  insert(filter: string, key: string, value: V): boolean {
    const levels = filter.split('/');
    let node = this.root;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      if (level === '#') {
        node.hash ??= new Map();
        return this.put(node.hash, key, value);
      }
      if (level === '+') {
        node = node.plus ??= new TrieNode<V>();
      } else {
        node.literal ??= new Map();
        let next = node.literal.get(level);
        if (next === undefined) {
          next = new TrieNode<V>();
          node.literal.set(level, next);
        }
        node = next;
      }
    }
    node.exact ??= new Map();
    return this.put(node.exact, key, value);
  }

  private put(map: Map<string, V>, key: string, value: V): boolean {
    const isNew = !map.has(key);
    map.set(key, value);
    if (isNew) this.count++;
    this.generation++;
    return isNew;
  }

  /** Removes the entry `key` under `filter`; prunes empty nodes. Returns the removed value. */
  remove(filter: string, key: string): V | undefined {
    const levels = filter.split('/');
    const path: Array<{ node: TrieNode<V>; level: string }> = [];
    let node: TrieNode<V> | null | undefined = this.root;
    let removed: V | undefined;
    for (let i = 0; i < levels.length && node; i++) {
      const level = levels[i]!;
      if (level === '#') {
        removed = this.take(node.hash, key);
        break;
      }
      path.push({ node, level });
      node = level === '+' ? node.plus : node.literal?.get(level);
      if (i === levels.length - 1 && node) removed = this.take(node.exact, key);
    }
    if (removed === undefined) return undefined;
    // Prune from the deepest node up so the trie does not keep dead branches.
    for (let i = path.length - 1; i >= 0; i--) {
      const { node: parent, level } = path[i]!;
      const child = level === '+' ? parent.plus : parent.literal?.get(level);
      if (!child || !child.isEmpty()) break;
      if (level === '+') parent.plus = null;
      else parent.literal!.delete(level);
    }
    return removed;
  }

  private take(map: Map<string, V> | null, key: string): V | undefined {
    if (map === null) return undefined;
    const v = map.get(key);
    if (v === undefined) return undefined;
    map.delete(key);
    this.count--;
    this.generation++;
    return v;
  }

  /** Every entry whose filter matches `topic`. The array is cached: callers must not mutate it. */
  match(topic: string): readonly V[] {
    const cached = this.cache.get(topic);
    if (cached !== undefined && cached.generation === this.generation) return cached.values;
    const values: V[] = [];
    const levels = topic.split('/');
    // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with `$`.
    const dollar = topic.charCodeAt(0) === 36;
    this.walk(this.root, levels, 0, values, dollar);
    if (this.cache.size >= this.cacheLimit) this.cache.clear();
    this.cache.set(topic, { generation: this.generation, values });
    return values;
  }

  private walk(node: TrieNode<V>, levels: string[], i: number, out: V[], dollarRoot: boolean): void {
    const wildOk = !(dollarRoot && i === 0);
    // `#` also matches the parent level: `a/#` matches `a` [MQTT-4.7.1-2].
    if (wildOk && node.hash !== null) for (const v of node.hash.values()) out.push(v);
    if (i === levels.length) {
      if (node.exact !== null) for (const v of node.exact.values()) out.push(v);
      return;
    }
    const next = node.literal?.get(levels[i]!);
    if (next !== undefined) this.walk(next, levels, i + 1, out, dollarRoot);
    if (wildOk && node.plus !== null) this.walk(node.plus, levels, i + 1, out, dollarRoot);
  }

  /** Every entry, for listing. */
  *entries(): Generator<V> {
    const stack: TrieNode<V>[] = [this.root];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.exact) yield* node.exact.values();
      if (node.hash) yield* node.hash.values();
      if (node.plus) stack.push(node.plus);
      if (node.literal) for (const child of node.literal.values()) stack.push(child);
    }
  }
}
