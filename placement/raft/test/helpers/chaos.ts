/**
 * A fast-check driven chaos run over a TestCluster: ticks, message reordering, drops,
 * duplicates, proposals, crash/restart and compaction, in the order fast-check generates.
 * Observers see the cluster after every action, so each Raft property is checked at every step.
 */
import fc from 'fast-check';
import { TestCluster } from './cluster.js';

export type ChaosAction =
  | { kind: 'tick'; node: number }
  | { kind: 'deliver'; pick: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'propose'; node: number }
  | { kind: 'restart'; node: number }
  | { kind: 'compact'; node: number };

export interface ChaosCase {
  readonly size: 3 | 5;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly seed: number;
  readonly actions: readonly ChaosAction[];
}

const nodeArb = fc.integer({ min: 1, max: 5 });
const pickArb = fc.nat({ max: 1000 });

export const chaosCaseArb: fc.Arbitrary<ChaosCase> = fc.record({
  size: fc.constantFrom(3 as const, 5 as const),
  preVote: fc.boolean(),
  checkQuorum: fc.boolean(),
  seed: fc.nat(),
  actions: fc.array(
    fc.oneof(
      { weight: 30, arbitrary: fc.record({ kind: fc.constant('tick' as const), node: nodeArb }) },
      { weight: 40, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: pickArb }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: pickArb }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: pickArb }) },
      { weight: 8, arbitrary: fc.record({ kind: fc.constant('propose' as const), node: nodeArb }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), node: nodeArb }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), node: nodeArb }) },
    ),
    { minLength: 300, maxLength: 1200, size: 'max' },
  ),
});

export type Observer = (c: TestCluster, step: number) => void;

export function runChaos(tc: ChaosCase, observe: Observer): TestCluster {
  const ids = tc.size === 3 ? [1, 2, 3] : [1, 2, 3, 4, 5];
  const c = new TestCluster({ voters: ids, preVote: tc.preVote, checkQuorum: tc.checkQuorum, seed: tc.seed, electionTick: 5 });
  const nodeOf = (n: number): number => ids[(n - 1) % ids.length]!;
  let seq = 0;
  tc.actions.forEach((a, step) => {
    switch (a.kind) {
      case 'tick':
        c.tick(nodeOf(a.node));
        break;
      case 'deliver':
      case 'drop':
      case 'duplicate': {
        if (c.queue.length === 0) break;
        const i = a.pick % c.queue.length;
        const m = c.queue[i]!;
        if (a.kind !== 'duplicate') c.queue.splice(i, 1);
        if (a.kind !== 'drop') c.deliver(m);
        break;
      }
      case 'propose': {
        const n = c.node(nodeOf(a.node));
        if (n.status().role === 'leader') n.propose(new TextEncoder().encode(`p${seq++}`));
        break;
      }
      case 'restart':
        c.restart(nodeOf(a.node));
        break;
      case 'compact': {
        const n = c.node(nodeOf(a.node));
        const st = n.status();
        if (st.applied > st.firstIndex + 2 && c.get(nodeOf(a.node)).storage.snapshot().metadata.index < st.applied) {
          n.createSnapshot(new TextEncoder().encode(`snap@${st.applied}`));
          n.compact(st.applied - 1);
        }
        break;
      }
    }
    for (const id of ids) c.processReady(id);
    observe(c, step);
  });
  return c;
}

export const fcParams = (): fc.Parameters<[ChaosCase]> => ({
  numRuns: Number(process.env.RAFT_PROPERTY_RUNS ?? 40),
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
});
