// Real broker processes for crash tests: spawn `node dist/bin/broker.js start`, read the
// `listening` lines, kill with any signal.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
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
