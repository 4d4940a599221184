// The built binaries as users run them: real processes, real exit codes, real signals.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerSchema, flattenSchema } from '../../common/config/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = (name: string): string => join(root, 'dist', 'bin', `${name}.js`);

/** Newest modification time of the sources this test runs through dist/. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'test' && entry.name !== 'node_modules') newest = Math.max(newest, newestSource(path));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

beforeAll(() => {
  const built = existsSync(dist('broker')) ? statSync(dist('broker')).mtimeMs : 0;
  const sources = Math.max(...['bin', 'common', 'cli', 'broker'].map((d) => newestSource(join(root, d))));
  // `npm test` builds first; a direct `vitest run` on a fresh clone or after an edit needs this.
  // tsc emits even when some other file has a type error, so the exit status is not the signal.
  if (built < sources) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'ignore' });
  for (const name of ['broker', 'placement', 'journal', 'robust-ctl']) expect(existsSync(dist(name)), `dist/bin/${name}.js`).toBe(true);
}, 120_000);

const dataDir = mkdtempSync(join(tmpdir(), 'bin-test-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(name: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [dist(name), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

async function until(cond: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('broker start: configuration', () => {
  it('an unknown --set key exits 2 naming the key', async () => {
    const r = await run('broker', ['start', '--set', 'bogus.key=1']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('bogus.key: unknown key');
  });

  it('a bad value and a missing config file are listed together, exit 2', async () => {
    const r = await run('broker', ['start', '--config', join(dataDir, 'absent.toml'), '--set', 'mqtt.tcp_port=abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--config: cannot read');
    expect(r.stderr).toContain('mqtt.tcp_port: expected an integer port 0..65535 or -1 (disabled), got "abc"');
  });

  it('--help and start --help print usage and every key, exit 0', async () => {
    for (const args of [['--help'], ['start', '--help']]) {
      const r = await run('broker', args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Usage: broker start [--config FILE] [--set key.path=value]...');
      for (const { path } of flattenSchema(brokerSchema)) expect(r.stdout).toContain(`  ${path} = `);
    }
  });

  it('no command is usage on stderr and exit 2', async () => {
    const r = await run('broker', []);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: broker start');
  });
});

describe('placement and journal: config validation', () => {
  // Both are built: placement/service/test/placement-process.test.ts and
  // journal/service/test/journal-process.test.ts run them as processes.
  it('refuse a bad config before starting, with exit 2', async () => {
    const p = await run('placement', ['start', '--set', 'raft.peers=["nohost"]']);
    expect(p).toMatchObject({ code: 2, stdout: '' });
    expect(p.stderr).toContain('raft.peers[0]');
    const j = await run('journal', ['start', '--set', 'placement.addrs=["nohost"]']);
    expect(j.code).toBe(2);
    expect(j.stderr).toContain('placement.addrs[0]: expected "host:port", got "nohost"');
  });
});

describe('broker start: running', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('prints listening lines, serves /health and robust-ctl, and stops cleanly on SIGTERM', async () => {
    child = spawn(
      process.execPath,
      [
        dist('broker'),
        'start',
        ...['mqtt.host=127.0.0.1', 'admin.host=127.0.0.1', 'mqtt.tcp_port=0', 'mqtt.ws_port=0', 'admin.http_port=0', 'grpc_port=0', 'storage.driver=memory', 'log.level=warn']
          .flatMap((s) => ['--set', s]),
        '--set',
        `data_dir=${join(dataDir, 'running')}`,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child!.on('close', (code) => resolve(code)));

    await until(() => /^listening admin-http /m.test(stdout) || child!.exitCode !== null, 'the admin listening line');
    const lines = stdout.trim().split('\n');
    for (const line of lines) expect(line).toMatch(/^listening [a-z0-9-]+ 127\.0\.0\.1:[1-9]\d*$/);
    expect(lines.map((l) => l.split(' ')[1])).toEqual(expect.arrayContaining(['mqtt-tcp', 'admin-http']));
    const adminPort = Number(lines.find((l) => l.startsWith('listening admin-http '))!.split(':').pop());

    const health = await fetch(`http://127.0.0.1:${adminPort}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });

    const ctl = await run('robust-ctl', ['mqtt', 'overview', '--server', `http://127.0.0.1:${adminPort}`, '--output', 'json']);
    expect(ctl.code).toBe(0);
    expect(JSON.parse(ctl.stdout)).toHaveProperty('connections', 0);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/ERROR/);
  });

  it('a port in use is one stderr line and exit 1', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await run('broker', [
        'start',
        ...['mqtt.host=127.0.0.1', `mqtt.tcp_port=${port}`, 'mqtt.ws_port=-1', 'admin.http_port=-1', 'storage.driver=memory', `data_dir=${join(dataDir, 'busy')}`].flatMap((s) => ['--set', s]),
      ]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('broker:'))).toEqual([`broker: failed to start: 127.0.0.1:${port} is already in use`]);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});

describe('robust-ctl binary', () => {
  it('an unknown subcommand prints usage and exits 2; an unreachable server exits 1', async () => {
    const bad = await run('robust-ctl', ['mqtt', 'publish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Usage: robust-ctl');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = await run('robust-ctl', ['mqtt', 'overview', '--server', `http://127.0.0.1:${port}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the broker admin API');
  });
});
