// RemoteRoutes' short-lived routes of a session that just moved to another broker: matched at
// once, reported by movedTo for onward forwarding, and gone when placement lists the real route
// or the time runs out.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { RemoteRoutes } from '../remote-routes.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('RemoteRoutes.pointTo', () => {
  it('routes to the new holder at once, until placement lists its route', () => {
    const r = new RemoteRoutes(1);
    r.setAlive(2, true);
    r.setAlive(3, true);
    r.setRoute('a/+', [2]);
    expect(r.match('a/x').brokers).toEqual([2]);
    r.pointTo(3, ['a/+', 'b/#'], 10_000);
    expect([...r.match('a/x').brokers].sort()).toEqual([2, 3]);
    expect(r.movedTo('a/x')).toEqual([3]);
    expect(r.movedTo('b/c/d')).toEqual([3]);
    expect(r.movedTo('c')).toEqual([]);
    // Placement now lists broker 3 for a/+: the real route replaces the pointer.
    r.setRoute('a/+', [2, 3]);
    expect(r.movedTo('a/x')).toEqual([]);
    expect([...r.match('a/x').brokers].sort()).toEqual([2, 3]);
    expect(r.movedTo('b/c')).toEqual([3]);
  });

  it('forgets a pointer after its time', () => {
    vi.useFakeTimers();
    const r = new RemoteRoutes(1);
    r.setAlive(3, true);
    r.pointTo(3, ['t'], 1000);
    expect(r.match('t').brokers).toEqual([3]);
    vi.advanceTimersByTime(1001);
    expect(r.match('t').brokers).toEqual([]);
    expect(r.movedTo('t')).toEqual([]);
  });

  it('points nowhere for a dead broker, itself, or a shared route (shared groups pick per message)', () => {
    const r = new RemoteRoutes(1);
    r.setAlive(3, true);
    r.pointTo(2, ['t'], 1000);
    r.pointTo(1, ['t'], 1000);
    expect(r.match('t').brokers).toEqual([]);
    r.pointTo(3, ['$share/g/t'], 1000);
    expect(r.movedTo('t')).toEqual([]);
    expect(r.match('t').shared?.get('g\u0000t')).toEqual([3]);
  });
});
