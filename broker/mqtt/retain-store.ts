// Retained messages by topic [MQTT-3.3.1-5]. Matching a new subscription scans the topics; a
// filter without wildcards is a direct lookup.

import type { StoredMessage } from '../storage/driver.js';
import { filterMatcher } from './topic.js';

export class RetainStore {
  private readonly byTopic = new Map<string, StoredMessage>();

  get size(): number {
    return this.byTopic.size;
  }

  set(message: StoredMessage): void {
    this.byTopic.set(message.topic, message);
  }

  delete(topic: string): boolean {
    return this.byTopic.delete(topic);
  }

  get(topic: string): StoredMessage | undefined {
    return this.byTopic.get(topic);
  }

  /** Retained messages matching `filter`, minus expired ones (which are dropped here). */
  match(filter: string, now: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    if (!filter.includes('+') && !filter.includes('#')) {
      const m = this.byTopic.get(filter);
      if (m !== undefined) this.keepIfLive(m, now, out);
      return out;
    }
    const matches = filterMatcher(filter);
    for (const [topic, m] of this.byTopic) {
      if (matches(topic)) this.keepIfLive(m, now, out);
    }
    return out;
  }

  private keepIfLive(m: StoredMessage, now: number, out: StoredMessage[]): void {
    if (m.expiresAt !== undefined && m.expiresAt <= now) {
      this.byTopic.delete(m.topic);
      return;
    }
    out.push(m);
  }

  values(): IterableIterator<StoredMessage> {
    return this.byTopic.values();
  }
}
