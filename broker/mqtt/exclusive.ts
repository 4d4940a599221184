// Exclusive subscriptions (`$exclusive/{filter}`, as in EMQX and RobustMQ): a subscription that
// only one session at a time may hold. The engine asks an ExclusiveLocks for the filter before it
// adds the subscription, and releases it when the subscription goes (UNSUBSCRIBE, or the session
// ends). A persistent session that is merely offline keeps it.
//
// On one broker the locks live in memory (LocalExclusiveLocks); broker/cluster/ replaces
// MqttBroker.exclusive with locks kept in placement so they hold cluster-wide.

import type { Session } from './session.js';
import { parseFilter } from './topic.js';

/**
 * The lock table. `filter` is the filter without its `$exclusive/` prefix; holders are client
 * ids, so a session keeps its locks when it reconnects or moves to another broker.
 */
export interface ExclusiveLocks {
  /**
   * Takes the lock on `filter` for `clientId`. True when `clientId` now holds it (also when it
   * already did), false when another client holds it. Rejects when the lock table cannot be
   * reached; the SUBSCRIBE then gets 0x80.
   */
  acquire(filter: string, clientId: string): Promise<boolean>;
  /** Gives the lock up; does nothing unless `clientId` holds it. */
  release(filter: string, clientId: string): void;
}

/** The standalone lock table: one map, filter -> holder. */
export class LocalExclusiveLocks implements ExclusiveLocks {
  private readonly holders = new Map<string, string>();

  acquire(filter: string, clientId: string): Promise<boolean> {
    return Promise.resolve(this.tryAcquire(filter, clientId));
  }

  /** The synchronous form of acquire, for callers that hold no promise (loading state). */
  tryAcquire(filter: string, clientId: string): boolean {
    const holder = this.holders.get(filter);
    if (holder !== undefined && holder !== clientId) return false;
    this.holders.set(filter, clientId);
    return true;
  }

  release(filter: string, clientId: string): void {
    if (this.holders.get(filter) === clientId) this.holders.delete(filter);
  }

  /** The client holding `filter`, if any. */
  holder(filter: string): string | undefined {
    return this.holders.get(filter);
  }

  get size(): number {
    return this.holders.size;
  }

  /** Every lock as [filter, clientId]. */
  entries(): Array<[string, string]> {
    return [...this.holders];
  }
}

/** An exclusive subscription a session holds: the lock is `filter`, held by `clientId`. */
export interface ExclusiveHold {
  filter: string;
  clientId: string;
}

/**
 * The exclusive subscriptions of these sessions: what a lock table must hold for them. The cluster
 * takes its locks with this when it replaces the local table, and MqttBroker.open() after loading.
 */
export function exclusiveHolds(sessions: Iterable<Session>): ExclusiveHold[] {
  const out: ExclusiveHold[] = [];
  for (const s of sessions) {
    for (const raw of s.subs.keys()) {
      const parsed = parseFilter(raw);
      if (typeof parsed !== 'string' && parsed.exclusive) out.push({ filter: parsed.filter, clientId: s.clientId });
    }
  }
  return out;
}

/** Releases the lock of `raw` (a filter as the client sent it) when it is an exclusive one. */
export function releaseExclusive(locks: ExclusiveLocks, raw: string, clientId: string): void {
  if (!raw.startsWith('$exclusive/')) return;
  const parsed = parseFilter(raw);
  if (typeof parsed !== 'string' && parsed.exclusive) locks.release(parsed.filter, clientId);
}
