import { describe, expect, it } from 'vitest';
import { SeededRng } from '../../raft/rng.js';
import type { Message } from '../../raft/types.js';
import { SimNetwork } from '../sim-network.js';

const hb = (from: number, to: number, n: number): Message => ({ type: 'MsgHeartbeat', from, to, term: n, commit: 0, context: new Uint8Array() });

describe('simulated network', () => {
  it('delays every message by 1..maxDelay steps and reorders them', () => {
    const net = new SimNetwork(new SeededRng(3), { dropRate: 0, duplicateRate: 0, maxDelay: 5 });
    for (let i = 0; i < 50; i++) net.send(hb(1, 2, i), 0);
    expect(net.due(0)).toEqual([]);
    const order: number[] = [];
    for (let t = 1; t <= 5; t++) order.push(...net.due(t).map((m) => m.term));
    expect(order.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(net.pending()).toBe(0);
  });

  it('drops and duplicates at the configured rates, deterministically per seed', () => {
    const run = (seed: number): number[] => {
      const net = new SimNetwork(new SeededRng(seed), { dropRate: 0.3, duplicateRate: 0.2, maxDelay: 1 });
      for (let i = 0; i < 1000; i++) net.send(hb(1, 2, i), 0);
      return net.due(1).map((m) => m.term);
    };
    const a = run(9);
    expect(run(9)).toEqual(a);
    expect(a.length).toBeGreaterThan(750);
    expect(a.length).toBeLessThan(1000);
    expect(new Set(a).size).toBeLessThan(a.length); // some duplicates
  });

  it('reports partitions through connected() and forgets traffic to a crashed node', () => {
    const net = new SimNetwork(new SeededRng(1), { dropRate: 0, duplicateRate: 0, maxDelay: 1 });
    net.partition(new Map([[3, 1]]));
    expect(net.connected(1, 2)).toBe(true);
    expect(net.connected(1, 3)).toBe(false);
    net.heal();
    expect(net.connected(1, 3)).toBe(true);
    net.send(hb(1, 3, 1), 0);
    net.send(hb(1, 2, 2), 0);
    net.dropTo(3);
    expect(net.due(1).map((m) => m.to)).toEqual([2]);
  });
});
