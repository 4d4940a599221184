import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from '../loadgen/errors.js';
import type { Credentials } from '../loadgen/mqtt-connection.js';
import { OURS_AUTH_SETTINGS, configureOursAuth } from './ours-auth.js';

export type BrokerName = 'ours' | 'ours-auth' | 'mosquitto' | 'aedes' | 'sink';
export const BROKER_NAMES: readonly BrokerName[] = ['ours', 'ours-auth', 'mosquitto', 'aedes', 'sink'];

/** Our broker, with or without authentication and ACLs: both need dist/bin/broker.js. */
export function isOurs(name: string): boolean {
  return name === 'ours' || name === 'ours-auth';
}

const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_BYTES = 4_096;
const LISTENING = /^listening (\S+) (\S+):(\d+)\s*$/;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BrokerProcess {
  name: BrokerName;
  host: string;
  port: number;
  pid: number;
  /** What every client must send in CONNECT (ours-auth); absent for brokers open to anyone. */
  credentials?: Credentials;
  /** Set once the process has exited, whether stopped by us or not. */
  exit: ExitInfo | null;
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves with how it ended. */
  stop(): Promise<ExitInfo>;
}

export interface LaunchOptions {
  /** CPU to pin the broker to with taskset, or null to run unpinned. */
  core: number | null;
  /** Our broker's entry point; default `oursEntry()` (tests that run from source pass dist's). */
  oursEntry?: string;
}

/** dist/bin/broker.js, relative to this file's place in dist/bench/brokers/. */
export function oursEntry(): string {
  return fileURLToPath(new URL('../../bin/broker.js', import.meta.url));
}

/** The mosquitto executable, or null when it is not installed. */
export function findMosquitto(): string | null {
  for (const p of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) if (existsSync(p)) return p;
  const which = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  const found = which.stdout.trim();
  return which.status === 0 && found !== '' ? found : null;
}

export function mosquittoVersion(bin: string): string | null {
  const r = spawnSync(bin, ['-h'], { encoding: 'utf8' });
  const m = /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`);
  return m === null ? null : m[1];
}

/**
 * Installs Debian's mosquitto when it is missing and we are root; otherwise explains what to do.
 * Returns the executable path, or a reason it is unavailable.
 */
export function ensureMosquitto(log: (line: string) => void): { bin: string } | { reason: string } {
  const have = findMosquitto();
  if (have !== null) return { bin: have };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { reason: 'mosquitto is not installed and this is not root: run `sudo apt-get install -y mosquitto` and retry' };
  }
  log('mosquitto not found: installing Debian package mosquitto (apt-get install -y mosquitto)');
  let r = spawnSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) {
    // A fresh machine may have no package lists yet.
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    r = spawnSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  // The package enables a system service on 1883; the benchmark starts its own instances.
  spawnSync('sh', ['-c', 'command -v systemctl >/dev/null && systemctl stop mosquitto || service mosquitto stop || true'], { stdio: 'ignore' });
  const bin = findMosquitto();
  return bin === null ? { reason: `apt-get install -y mosquitto failed (exit ${r.status})` } : { bin };
}

/** Whether taskset (util-linux) can pin processes here. */
export function tasksetAvailable(): boolean {
  const r = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
  return r.status === 0;
}

/** Pins every thread of this process to one CPU. */
export function pinSelf(core: number): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** Starts a fresh broker process and resolves once it accepts MQTT connections. */
export async function launchBroker(name: BrokerName, opts: LaunchOptions, mosquittoBin?: string): Promise<BrokerProcess> {
  const tmp = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  let cmd: string[];
  let fixedPort: number | null = null;
  switch (name) {
    case 'ours':
    case 'ours-auth': {
      const entry = opts.oursEntry ?? oursEntry();
      if (!existsSync(entry)) throw new BenchError('BENCH_BROKER_START', `${entry} not found: run \`npm run build\``);
      cmd = [
        process.execPath,
        entry,
        'start',
        ...['mqtt.tcp_port=0', 'mqtt.ws_port=-1', 'mqtt.tls_port=-1', 'mqtt.wss_port=-1', 'admin.http_port=0'].flatMap((s) => ['--set', s]),
        '--set',
        `data_dir=${tmp}`,
        '--set',
        'storage.driver=memory',
        ...(name === 'ours-auth' ? OURS_AUTH_SETTINGS.flatMap((s) => ['--set', s]) : []),
      ];
      break;
    }
    case 'aedes':
      cmd = [process.execPath, fileURLToPath(new URL('./aedes-server.js', import.meta.url))];
      break;
    case 'sink':
      cmd = [process.execPath, fileURLToPath(new URL('./null-sink.js', import.meta.url))];
      break;
    case 'mosquitto': {
      const bin = mosquittoBin ?? findMosquitto();
      if (bin === null) throw new BenchError('BENCH_BROKER_START', 'mosquitto is not installed');
      // Mosquitto cannot report a port chosen by the kernel, so take a free one first.
      fixedPort = await freePort();
      const conf = join(tmp, 'mosquitto.conf');
      writeFileSync(conf, mosquittoConfig(fixedPort));
      cmd = [bin, '-c', conf];
      break;
    }
  }
  const argv = opts.core === null ? cmd : ['taskset', '-c', String(opts.core), ...cmd];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  if (fixedPort !== null) child.stdout?.resume();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  const proc: BrokerProcess = {
    name,
    host: '127.0.0.1',
    port: 0,
    pid: child.pid ?? -1,
    exit: null,
    stderrTail: () => stderr,
    stop: () => stopChild(child, proc),
  };
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      proc.exit = { code, signal };
      rmSync(tmp, { recursive: true, force: true });
      resolve();
    });
  });
  void exited;
  try {
    if (fixedPort !== null) {
      proc.port = fixedPort;
      await waitForPort(fixedPort, proc);
    } else {
      // ours-auth is configured through its admin API, so it waits for that listener too.
      const wanted = name === 'ours-auth' ? ['mqtt-tcp', 'admin-http'] : ['mqtt-tcp'];
      const bound = await waitForListening(child, proc, wanted);
      const mqtt = bound.get('mqtt-tcp')!;
      proc.host = mqtt.host;
      proc.port = mqtt.port;
      if (name === 'ours-auth') proc.credentials = await configureOursAuth(bound.get('admin-http')!, mqtt);
    }
  } catch (err: unknown) {
    await proc.stop();
    throw err;
  }
  return proc;
}

/**
 * The comparison Mosquitto: Debian's binary, one loopback listener, no persistence, queues
 * raised so QoS 1/2 and offline-queue scenarios measure speed rather than its default
 * 1,000-message cap, and Nagle off as a latency-minded operator would configure it.
 * max_inflight_messages is raised above the generator's QoS window (500): at the default 20,
 * Mosquitto 2.0.11 completes the QoS 2 handshake for an MQTT 3.1.1 publisher's messages past
 * the 20th in flight but never delivers them (measured: 662 of 5,000 arrived with a window of
 * 500, all 5,000 with a window of 20), which would turn the QoS 2 rows into a loss report.
 */
export function mosquittoConfig(port: number): string {
  return [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'max_queued_messages 1000000',
    'max_inflight_messages 1000',
    'set_tcp_nodelay true',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves with the address of each wanted listener once the broker has printed all of them. */
function waitForListening(child: ChildProcess, proc: BrokerProcess, wanted: string[]): Promise<Map<string, { host: string; port: number }>> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const bound = new Map<string, { host: string; port: number }>();
    const timer = setTimeout(
      () => fail(`no "listening ${wanted.filter((w) => !bound.has(w)).join('" / "listening ')}" line within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new BenchError('BENCH_BROKER_START', `${proc.name}: ${why}; stderr: ${proc.stderrTail().trim().slice(-800)}`));
    };
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = LISTENING.exec(line);
        if (m === null || !wanted.includes(m[1])) continue;
        let host = m[2].replace(/^\[|\]$/g, '');
        // A wildcard bind is reached over loopback.
        if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1';
        bound.set(m[1], { host, port: Number(m[3]) });
        if (bound.size < wanted.length) continue;
        clearTimeout(timer);
        resolve(bound);
        // Keep draining stdout so a chatty broker never blocks on a full pipe.
        buf = '';
        child.stdout?.on('data', () => undefined);
        return;
      }
    });
    child.once('exit', (code, signal) => fail(`exited before listening (code ${code}, signal ${signal})`));
  });
}

async function waitForPort(port: number, proc: BrokerProcess): Promise<void> {
  const until = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < until) {
    if (proc.exit !== null) {
      throw new BenchError('BENCH_BROKER_START', `${proc.name} exited (code ${proc.exit.code}): ${proc.stderrTail().trim().slice(-800)}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new BenchError('BENCH_BROKER_START', `${proc.name} did not accept connections on ${port} within ${START_TIMEOUT_MS} ms`);
}

async function stopChild(child: ChildProcess, proc: BrokerProcess): Promise<ExitInfo> {
  if (proc.exit !== null) return proc.exit;
  const done = new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  const info = await done;
  clearTimeout(timer);
  return info;
}
