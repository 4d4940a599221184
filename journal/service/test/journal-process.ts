// `node dist/bin/journal.js start` as a real child process, for crash and fault-injection tests.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function newestSource(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return p.endsWith('.ts') && !p.endsWith('.test.ts') ? st.mtimeMs : 0;
  let newest = 0;
  for (const name of readdirSync(p)) if (name !== 'test' && name !== 'node_modules') newest = Math.max(newest, newestSource(join(p, name)));
  return newest;
}

/** Builds dist/ when a source of the journal or placement binaries is newer than its output. */
export function ensureBuilt(): void {
  const bins = ['journal', 'placement'].map((b) => join(repoRoot, 'dist', 'bin', `${b}.js`));
  const sources = Math.max(...['journal', 'placement', 'proto', 'common', 'bin'].map((p) => newestSource(join(repoRoot, p))));
  if (bins.every((b) => existsSync(b) && statSync(b).mtimeMs >= sources)) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in the shared tree do not stop tsc from emitting; the check below decides.
  }
  for (const b of bins) if (!existsSync(b)) throw new Error(`${b} is missing after building`);
}

export interface SpawnedService {
  readonly child: ChildProcess;
  readonly port: number;
  stderr(): string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** Spawns `node dist/bin/<bin>.js start --set ...` and waits for its `listening <name>` line. */
export async function spawnService(bin: 'journal' | 'placement', listener: string, sets: Record<string, string>, env: Record<string, string> = {}): Promise<SpawnedService> {
  const args = [join(repoRoot, 'dist', 'bin', `${bin}.js`), 'start', ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  const child = spawn(process.execPath, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not print "listening ${listener}" within 15 s; stderr: ${err}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = new RegExp(`listening ${listener} [^\\s]+:(\\d+)`).exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited (${code}) before listening; stderr: ${err}`));
    });
  });
  return { child, port, stderr: () => err, exited };
}
