// Delayed publish (`$delayed/{seconds}/{topic}`, as in EMQX and RobustMQ): the broker keeps the
// message and publishes it to `{topic}` that many seconds later, as if its client published it
// then. Records are durable (StorageOp `delayed.put`) before a QoS 1/2 PUBLISH is acknowledged,
// survive a restart (MqttBroker.open() hands storage.listDelayed() to load()), and leave storage
// in the batch that holds what their firing routed (`delayed.delete`).
//
// One unref'd timer serves every record: a min-heap ordered by fire time, the timer armed for its
// top. Replaced and removed records stay in the heap and are skipped when they surface.

import type { DelayedRecord, StoredMessage } from '../storage/driver.js';
import type { MqttBroker } from './broker.js';
import { topicNameError, type TopicLimits } from './topic.js';

export const DELAYED_PREFIX = '$delayed/';
/** The longest delay, in seconds: what EMQX accepts (its delay in ms fits 32 bits). */
export const MAX_DELAY_SECONDS = 4_294_967;
/** setTimeout's limit; a longer wait re-arms when it runs out. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Records fired in one timer turn; more due ones go on in the next turn, so I/O is not starved. */
const FIRE_BATCH = 1000;

export interface DelayedTopic {
  seconds: number;
  /** The topic the message goes to when it fires. */
  topic: string;
}

/**
 * Splits `$delayed/{seconds}/{topic}`; an error string when the interval is not an integer in
 * 0..MAX_DELAY_SECONDS or the topic is missing or not a valid topic name (wildcards included).
 * Call it only for topics that start with DELAYED_PREFIX.
 */
export function parseDelayedTopic(topic: string, limits: TopicLimits): DelayedTopic | string {
  const rest = topic.slice(DELAYED_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return `${DELAYED_PREFIX}{seconds}/{topic}: no topic after the interval`;
  const interval = rest.slice(0, slash);
  if (!/^[0-9]{1,7}$/.test(interval) || Number(interval) > MAX_DELAY_SECONDS) {
    return `${DELAYED_PREFIX}{seconds}/{topic}: interval "${interval}" is not an integer in 0..${MAX_DELAY_SECONDS}`;
  }
  const target = rest.slice(slash + 1);
  if (target.length === 0) return `${DELAYED_PREFIX}{seconds}/{topic}: no topic after the interval`;
  if (target.startsWith(DELAYED_PREFIX)) return `${DELAYED_PREFIX}{seconds}/{topic}: the topic cannot be delayed again`;
  const err = topicNameError(target, limits);
  if (err !== null) return `${DELAYED_PREFIX}{seconds}/{topic}: ${err}`;
  return { seconds: Number(interval), topic: target };
}

export interface DelayedStats {
  /** Records accepted since start: delayed PUBLISHes and addDelayed() calls. */
  accepted: number;
  /** Records published. */
  fired: number;
}

interface HeapEntry {
  record: DelayedRecord;
  /** Insertion order, so records due at the same time fire in the order they came. */
  seq: number;
}

export class DelayedPublisher {
  readonly stats: DelayedStats = { accepted: 0, fired: 0 };
  /** The live entry of every pending record, by id. */
  private readonly live = new Map<string, HeapEntry>();
  private readonly heap: HeapEntry[] = [];
  private nextSeq = 0;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer runs out (ms since epoch); Infinity when none is armed. */
  private timerAt = Infinity;
  private closed = false;
  private paused = false;

  constructor(private readonly broker: MqttBroker) {}

  /** Records waiting to fire. */
  get pending(): number {
    return this.live.size;
  }

  /**
   * A client's delayed PUBLISH of `message` (already carrying the real topic): stored and
   * scheduled `seconds` from `now`. The caller waits for the persister before acknowledging.
   */
  publishLater(message: StoredMessage, seconds: number, now: number = Date.now()): DelayedRecord {
    // The message expiry interval counts from the firing (the message is published then); the
    // stored copy carries none of its own.
    message.expiresAt = undefined;
    const m = this.broker.ensureId(message);
    const record: DelayedRecord = { id: m.id, message: m, fireAt: now + seconds * 1000 };
    this.addDelayed(record);
    return record;
  }

  /** Persists and schedules a record (replacing one with the same id): what the cluster hands over. */
  addDelayed(record: DelayedRecord): void {
    this.broker.persister.add({ op: 'delayed.put', record });
    this.stats.accepted++;
    this.schedule(record);
  }

  /** Schedules records read from storage at start-up; due ones fire right after. */
  load(records: readonly DelayedRecord[]): void {
    for (const r of records) this.schedule(r);
  }

  /** Unschedules a record and deletes it from storage (another broker took it over). */
  remove(id: string): boolean {
    if (!this.live.delete(id)) return false;
    this.broker.persister.add({ op: 'delayed.delete', id });
    this.arm();
    return true;
  }

  /** The pending records, earliest first. */
  list(): DelayedRecord[] {
    return [...this.live.values()].sort(byFireTime).map((e) => e.record);
  }

  /**
   * Holds firing (the broker is fenced, or its cluster is not attached yet: a message fired now
   * would miss the other brokers); resume() fires what came due meanwhile.
   */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.timerAt = Infinity;
    this.arm();
  }

  /** Stops firing; records stay in storage for the next start. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
  }

  private schedule(record: DelayedRecord): void {
    if (this.closed) return;
    const e: HeapEntry = { record, seq: this.nextSeq++ };
    this.live.set(record.id, e);
    this.push(e);
    if (this.heap.length > 2 * this.live.size + 1024) this.compact();
    if (record.fireAt < this.timerAt) this.arm();
  }

  /** Arms the timer for the earliest live record (or none). */
  private arm(): void {
    const top = this.peek();
    const at = top === undefined ? Infinity : top.record.fireAt;
    if (at === this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (top === undefined || this.closed) return;
    const wait = Math.max(0, Math.min(at - Date.now(), MAX_TIMER_MS));
    this.timer = setTimeout(() => this.onTimer(), wait);
    this.timer.unref();
  }

  private onTimer(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.closed || this.paused) return;
    const now = Date.now();
    for (let n = 0; n < FIRE_BATCH; n++) {
      const top = this.peek();
      if (top === undefined || top.record.fireAt > now) break;
      this.pop();
      this.live.delete(top.record.id);
      this.fire(top.record);
    }
    this.arm();
  }

  /** Publishes the message as its client would have now, and deletes the record in the same batch. */
  private fire(record: DelayedRecord): void {
    const broker = this.broker;
    const src = record.message;
    const m = broker.makeMessage(src.topic, src.payload, src.qos, src.retain, src.properties, src.origin);
    broker.persister.add({ op: 'delayed.delete', id: record.id });
    this.stats.fired++;
    broker.router.publish(m);
  }

  // ---- the min-heap; stale entries (replaced or removed ids) are dropped as they surface ----

  private peek(): HeapEntry | undefined {
    const heap = this.heap;
    while (heap.length > 0 && this.live.get(heap[0]!.record.id) !== heap[0]) this.pop();
    return heap[0];
  }

  /** Rebuilds the heap from the live entries once replaced/removed ones outnumber them. */
  private compact(): void {
    const entries = [...this.live.values()];
    this.heap.length = 0;
    for (const e of entries) this.push(e);
  }

  private push(e: HeapEntry): void {
    const heap = this.heap;
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (byFireTime(heap[parent]!, e) <= 0) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = e;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && byFireTime(heap[r]!, heap[l]!) < 0 ? r : l;
      if (byFireTime(heap[c]!, last) >= 0) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
}

function byFireTime(a: HeapEntry, b: HeapEntry): number {
  return a.record.fireAt - b.record.fireAt || a.seq - b.seq;
}
