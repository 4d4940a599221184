import { it } from 'vitest';
import { runSimulation } from '../simulation.js';
it('dist', () => {
  const slow: string[] = [];
  const hist = new Map<number, number>();
  for (const [base, nodes, reconfigure] of [[0, 3, false], [100000, 5, false], [200000, 5, true]] as const) {
    for (let s = 1; s <= 700; s++) {
      const r = runSimulation({ seed: base + s, nodes, reconfigure });
      const b = Math.floor(r.stats.livenessTicks / 10) * 10;
      hist.set(b, (hist.get(b) ?? 0) + 1);
      if (r.stats.livenessTicks > 50) slow.push(`${base + s} ${nodes} ${reconfigure} ${r.stats.livenessTicks}`);
    }
  }
  console.log([...hist].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' '));
  console.log(slow.join('\n'));
});
