// A throwaway redis-server for tests: a free loopback port, a temporary working directory, no
// persistence (no RDB snapshots, no AOF), killed and removed by stop(). Needs the redis-server
// binary (apt-get install redis-server).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './free-port.js';

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  /** SIGKILL (for "backend down" tests); stop() still cleans up. */
  kill(): void;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

function findRedis(): string {
  const dirs = ['/usr/bin', '/usr/local/bin', '/usr/sbin', ...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '')];
  for (const d of dirs) if (existsSync(join(d, 'redis-server'))) return join(d, 'redis-server');
  throw new Error('redis-server not found in /usr/bin, /usr/local/bin or PATH: install redis-server (apt-get install redis-server)');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.write('PING\r\n');
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
    });
    s.once('error', () => resolve(false));
  });
}

export async function startRedis(opts: { startTimeoutMs?: number } = {}): Promise<RedisServer> {
  const bin = findRedis();
  const dir = await mkdtemp(join(tmpdir(), 'rmq-redis-'));
  const deadlineMs = opts.startTimeoutMs ?? 15_000;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const proc = spawn(bin, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(proc);
    if (!hooked) {
      hooked = true;
      process.once('exit', () => { for (const p of live) p.kill('SIGKILL'); });
    }
    let exited = false;
    proc.once('exit', () => { exited = true; live.delete(proc); });
    const deadline = Date.now() + deadlineMs;
    while (!exited && Date.now() < deadline && !(await canConnect(port))) await new Promise((r) => setTimeout(r, 20));
    if (!exited && (await canConnect(port))) {
      const stopProc = async (): Promise<void> => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        const gone = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGKILL');
        await gone;
      };
      return {
        url: `redis://127.0.0.1:${port}`, port, pid: proc.pid ?? -1,
        kill: () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); },
        stop: async () => {
          await stopProc();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    if (!exited) proc.kill('SIGKILL');
    // A port found free may be taken before redis binds it: try another.
    if (attempt >= 4) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on 127.0.0.1 (${attempt} attempts)`);
    }
  }
}
