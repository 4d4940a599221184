// Tests that spawn `node dist/bin/placement.js` need dist/ to match the sources. `npm test`
// builds first; a targeted `npx vitest run` may not have, so this rebuilds when any source the
// binary uses is newer than the built file.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return path.endsWith('.ts') && !path.endsWith('.test.ts') ? st.mtimeMs : 0;
  let newest = 0;
  for (const name of readdirSync(path)) {
    if (name === 'test' || name === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/** Returns the path of the built placement binary, building first when stale. */
export function ensurePlacementBuilt(root: string): string {
  const bin = join(root, 'dist', 'bin', 'placement.js');
  const sources = Math.max(...['placement', 'proto', 'common', 'bin/placement.ts', 'cli'].map((p) => newestMtime(join(root, p))));
  if (!existsSync(bin) || statSync(bin).mtimeMs < sources) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
    } catch {
      // Type errors elsewhere in the tree do not stop tsc from emitting; the check below decides.
    }
    if (!existsSync(bin)) throw new Error(`${bin} is missing after building`);
  }
  return bin;
}
