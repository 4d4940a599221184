/**
 * The five guarantees of the Raft paper (Figure 3), one test each, checked after every step of
 * randomly generated runs with reordering, loss, duplication, crashes and compaction.
 * fast-check prints the seed and shrunk counterexample; FC_SEED=n replays it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TestCluster } from './helpers/cluster.js';
import { chaosCaseArb, fcParams, runChaos } from './helpers/chaos.js';

function logRange(c: TestCluster, id: number): { first: number; last: number; term: (i: number) => number | undefined } {
  const n = c.node(id);
  const st = n.status();
  return { first: st.firstIndex, last: st.lastIndex, term: (i) => n.termAt(i) };
}

describe('Raft paper properties (Figure 3)', () => {
  it('Election Safety: at most one leader can be elected in a given term', () => {
    fc.assert(
      fc.property(chaosCaseArb, (tc) => {
        const leaderOf = new Map<number, number>();
        runChaos(tc, (c) => {
          for (const [id, m] of c.members) {
            const st = m.node.status();
            if (st.role !== 'leader') continue;
            const prev = leaderOf.get(st.term);
            if (prev === undefined) {
              leaderOf.set(st.term, id);
            } else expect(prev, `term ${st.term}`).toBe(id);
          }
        });
      }),
      fcParams(),
    );
  });

  it('Leader Append-Only: a leader never overwrites or deletes entries in its log', () => {
    fc.assert(
      fc.property(chaosCaseArb, (tc) => {
        const seen = new Map<number, { term: number; node: unknown; last: number; terms: Map<number, number> }>();
        runChaos(tc, (c) => {
          for (const [id, m] of c.members) {
            const st = m.node.status();
            const prev = seen.get(id);
            if (st.role !== 'leader') {
              seen.delete(id);
              continue;
            }
            const { first, last, term } = logRange(c, id);
            if (prev && prev.term === st.term && prev.node === m.node) {
              expect(last).toBeGreaterThanOrEqual(prev.last);
              for (const [i, t] of prev.terms) if (i >= first) expect(term(i), `leader ${id} index ${i}`).toBe(t);
            }
            const terms = new Map<number, number>();
            for (let i = first; i <= last; i++) terms.set(i, term(i)!);
            seen.set(id, { term: st.term, node: m.node, last, terms });
          }
        });
      }),
      fcParams(),
    );
  });

  it('Log Matching: logs that share an entry (index and term) are identical up to it', () => {
    fc.assert(
      fc.property(chaosCaseArb, (tc) => {
        runChaos(tc, (c) => {
          const logs = [...c.members].map(([id, m]) => {
            const st = m.node.status();
            return { id, first: st.firstIndex, last: st.lastIndex, terms: m.node.entries(st.firstIndex, st.lastIndex + 1).map((e) => e.term) };
          });
          for (let a = 0; a < logs.length; a++) {
            for (let b = a + 1; b < logs.length; b++) {
              const la = logs[a]!;
              const lb = logs[b]!;
              const lo = Math.max(la.first, lb.first);
              let matched = false;
              for (let i = Math.min(la.last, lb.last); i >= lo; i--) {
                const same = la.terms[i - la.first] === lb.terms[i - lb.first];
                if (matched && !same) expect.fail(`nodes ${la.id},${lb.id} share a later entry but differ at index ${i}`);
                if (same) matched = true;
              }
            }
          }
        });
      }),
      fcParams(),
    );
  });

  it('Leader Completeness: a committed entry is present in the logs of all later leaders', () => {
    fc.assert(
      fc.property(chaosCaseArb, (tc) => {
        const committed = new Map<number, number>(); // index -> term
        const checkedLeader = new Set<string>();
        runChaos(tc, (c) => {
          for (const [id, m] of c.members) {
            const st = m.node.status();
            if (st.role === 'leader' && !checkedLeader.has(`${st.term}`)) {
              checkedLeader.add(`${st.term}`);
              const { first, last, term } = logRange(c, id);
              for (const [i, t] of committed) {
                if (i < first) continue; // compacted entries are committed by construction
                expect(i, `leader ${id} of term ${st.term} lacks committed index ${i}`).toBeLessThanOrEqual(last);
                expect(term(i), `leader ${id} term ${st.term} index ${i}`).toBe(t);
              }
            }
          }
          for (const [id] of c.members) {
            const { first, term } = logRange(c, id);
            const commit = c.node(id).status().commit;
            for (let i = Math.max(first, 1); i <= commit; i++) if (!committed.has(i)) committed.set(i, term(i)!);
          }
        });
      }),
      fcParams(),
    );
  });

  it('State Machine Safety: no two nodes apply different entries at the same index', () => {
    fc.assert(
      fc.property(chaosCaseArb, (tc) => {
        const appliedAt = new Map<number, string>();
        const cursor = new Map<number, { node: unknown; seen: number }>();
        runChaos(tc, (c) => {
          for (const [id, m] of c.members) {
            // `applied` restarts empty after a crash; compare whatever is new since we last looked.
            const cur = cursor.get(id);
            const from = cur && cur.node === m.node ? cur.seen : 0;
            for (let k = from; k < m.applied.length; k++) {
              const e = m.applied[k]!;
              const key = `${e.term}:${new TextDecoder().decode(e.data)}:${e.type}`;
              const prev = appliedAt.get(e.index);
              if (prev === undefined) appliedAt.set(e.index, key);
              else expect(key, `node ${id} index ${e.index}`).toBe(prev);
            }
            cursor.set(id, { node: m.node, seen: m.applied.length });
          }
        });
      }),
      fcParams(),
    );
  });
});
