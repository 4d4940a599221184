/**
 * Runs the deterministic simulation over many seeds (3-node, 5-node and 5-node with membership
 * changes). Every failure prints the command that replays it and saves the client history as
 * JSON. Environment:
 *   SIM_SEEDS=n                 how many seeds in total (default 1000)
 *   SEED=n [SIM_NODES=3|5] [SIM_RECONFIGURE=1] [SIM_TRACE=1]
 *                               replay one seed and print its statistics (and a per-tick trace)
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeHistoryFile } from '../../../jepsen-like-tests/linearizability/history-file.js';
import { runSimulation, SimulationFailure, type SimOptions, type SimStats } from '../simulation.js';

const LIVENESS_BOUND_TICKS = 150;

function configs(total: number): SimOptions[] {
  const out: SimOptions[] = [];
  const n3 = Math.round(total * 0.4);
  const n5 = Math.round(total * 0.35);
  for (let s = 1; s <= n3; s++) out.push({ seed: s, nodes: 3 });
  for (let s = 1; s <= n5; s++) out.push({ seed: 100_000 + s, nodes: 5 });
  for (let s = 1; s <= total - n3 - n5; s++) out.push({ seed: 200_000 + s, nodes: 5, reconfigure: true });
  return out;
}

function runAll(opts: readonly SimOptions[]): { failures: string[]; totals: SimStats; maxLiveness: number; runs: number } {
  const failures: string[] = [];
  const totals: Record<string, number> = {};
  let maxLiveness = 0;
  for (const o of opts) {
    try {
      const r = runSimulation({ ...o, livenessBoundTicks: LIVENESS_BOUND_TICKS });
      for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v;
      maxLiveness = Math.max(maxLiveness, r.stats.livenessTicks);
    } catch (err: unknown) {
      if (!(err instanceof SimulationFailure)) throw err;
      const file = join(tmpdir(), `robustmq-sim-seed-${err.seed}.json`);
      writeHistoryFile(file, err.history, err.linearizability, err.message);
      failures.push(`${err.message}\n  history: ${file}`);
      if (failures.length >= 5) break;
    }
  }
  return { failures, totals: totals as unknown as SimStats, maxLiveness, runs: opts.length };
}

describe('deterministic simulation', () => {
  const replay = process.env.SEED;

  if (replay !== undefined) {
    it(`replays SEED=${replay}`, () => {
      const o: SimOptions = {
        seed: Number(replay),
        nodes: process.env.SIM_NODES === '5' ? 5 : 3,
        reconfigure: process.env.SIM_RECONFIGURE === '1',
        livenessBoundTicks: LIVENESS_BOUND_TICKS,
        ...(process.env.SIM_TRACE === '1' ? { trace: (line: string) => console.log(line) } : {}),
      };
      const r = runSimulation(o);
      console.log(JSON.stringify({ options: o, stats: r.stats, operations: r.history.length }, null, 2));
    });
    return;
  }

  it('keeps every safety property, stays live after faults and yields linearizable histories over many seeds', () => {
    const total = Number(process.env.SIM_SEEDS ?? 1000);
    const started = performance.now();
    const { failures, totals, maxLiveness, runs } = runAll(configs(total));
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `simulation: ${runs} seeds in ${seconds.toFixed(1)} s; worst liveness ${maxLiveness} ticks (bound ${LIVENESS_BOUND_TICKS}); totals ${JSON.stringify(totals)}`,
    );
    expect(failures, failures.join('\n\n')).toEqual([]);
    // The runs must actually exercise the machinery they claim to test.
    expect(totals.elections).toBeGreaterThan(runs);
    expect(totals.crashes).toBeGreaterThan(runs / 2);
    expect(totals.crashesAfterPersist).toBeGreaterThan(0);
    expect(totals.snapshotsInstalled).toBeGreaterThan(runs / 2);
    expect(totals.partitions).toBeGreaterThan(runs / 2);
    expect(totals.transfers).toBeGreaterThan(0);
    expect(totals.confChanges).toBeGreaterThan(0);
    expect(totals.writesUnknown).toBeGreaterThan(0);
    expect(totals.readsOk).toBeGreaterThan(runs * 10);
  }, 300_000);

  it('replays a seed exactly', () => {
    const a = runSimulation({ seed: 4242, nodes: 5, reconfigure: true });
    const b = runSimulation({ seed: 4242, nodes: 5, reconfigure: true });
    expect(b.stats).toEqual(a.stats);
    expect(b.history).toEqual(a.history);
    const c = runSimulation({ seed: 4243, nodes: 5, reconfigure: true });
    expect(c.history).not.toEqual(a.history);
  });

  it('catches a broken read path (leader answers from local state without ReadIndex)', () => {
    let caught: SimulationFailure | undefined;
    for (let seed = 1; seed <= 400 && !caught; seed++) {
      for (const nodes of [3, 5] as const) {
        try {
          runSimulation({ seed, nodes, unsafeLeaderLocalReads: true });
        } catch (err: unknown) {
          if (!(err instanceof SimulationFailure)) throw err;
          caught = err;
          break;
        }
      }
    }
    expect(caught?.kind).toBe('linearizability');
    expect(caught?.message).toMatch(/replay: SEED=\d+/);
    expect(caught?.linearizability?.counterexample?.remaining.length).toBeGreaterThan(0);
  }, 120_000);
});
