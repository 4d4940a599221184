// Real broker processes for crash tests: spawn `node dist/bin/broker.js start`, read the
// `listening` lines, kill with any signal.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot } from './helpers.js';

export interface BrokerProcess {
  proc: ChildProcess;
  ports: Map<string, number>;
  stderr: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Builds dist/ when a test runs on its own (npm test builds before vitest). */
export function ensureBuilt(): void {
  if (!existsSync(path.join(repoRoot, 'dist/bin/broker.js'))) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'inherit' });
  }
}

function newestSource(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return p.endsWith('.ts') && !p.endsWith('.test.ts') ? st.mtimeMs : 0;
  let newest = 0;
  for (const name of readdirSync(p)) if (name !== 'test' && name !== 'node_modules') newest = Math.max(newest, newestSource(path.join(p, name)));
  return newest;
}

/** Builds dist/ when a source the broker binary runs is newer than dist/bin/broker.js. */
export function ensureFreshBuild(): void {
  const bin = path.join(repoRoot, 'dist/bin/broker.js');
  const sources = Math.max(...['bin', 'broker', 'common', 'journal', 'placement', 'proto'].map((d) => newestSource(path.join(repoRoot, d))));
  if (existsSync(bin) && statSync(bin).mtimeMs >= sources) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in the shared tree do not stop tsc from emitting; the check below decides.
  }
  if (!existsSync(bin)) throw new Error(`${bin} is missing after building`);
}

export function spawnBroker(sets: string[]): Promise<BrokerProcess> {
  ensureBuilt();
  const args = [path.join(repoRoot, 'dist/bin/broker.js'), 'start', ...sets.flatMap((s) => ['--set', s])];
  const proc = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const ports = new Map<string, number>();
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start in time; stderr:\n${err}`)), 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        const m = /^listening (\S+) (\S+):(\d+)$/.exec(line.trim());
        if (m) ports.set(m[1]!, Number(m[3]));
      }
      if (ports.has('mqtt-tcp') && ports.has('admin-http')) {
        clearTimeout(timer);
        resolve({ proc, ports, stderr: () => err, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited (${code}) before listening; stderr:\n${err}`));
    });
  });
}
