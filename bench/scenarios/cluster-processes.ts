// Real processes for the cluster benchmark (cluster-run.ts): one `placement start` node, brokers
// (`broker start`) that register with it, and a standalone broker for the baseline. Every process
// binds free loopback ports, keeps its data under one temp directory, and may be pinned to a CPU
// with taskset (taskset execs the command, so the child's pid is the broker's own pid and its
// /proc CPU counters are the broker's).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchError } from '../loadgen/errors.js';

const START_TIMEOUT_MS = 30_000;
/** A clustered broker's clean stop talks to placement (unregister, route reconcile); give it time. */
const STOP_GRACE_MS = 10_000;
const STDERR_TAIL_BYTES = 8_192;
const LISTENING = /^listening (\S+) (\S+):(\d+)\s*$/;

/**
 * dist/bin/<name>.js: two levels up when this file runs from dist/bench/scenarios/, under dist/
 * when it runs from source (a vitest test).
 */
export function binPath(name: 'broker' | 'placement'): string {
  const compiled = fileURLToPath(new URL(`../../bin/${name}.js`, import.meta.url));
  return existsSync(compiled) ? compiled : fileURLToPath(new URL(`../../dist/bin/${name}.js`, import.meta.url));
}

export interface NodeProcess {
  readonly label: string;
  readonly pid: number;
  /** Listener name (mqtt-tcp, broker-grpc, placement-grpc) -> loopback port. */
  readonly ports: ReadonlyMap<string, number>;
  /** CPU it is pinned to, or null. */
  readonly core: number | null;
  exit: { code: number | null; signal: NodeJS.Signals | null } | null;
  stderrTail(): string;
  /** SIGTERM, SIGKILL after the grace period; resolves with how it ended and whether it was killed. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean; ms: number }>;
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

/** Spawns `node <bin> start --set ...` (pinned when `core` is set) and waits for every wanted listener. */
function startNode(label: string, bin: string, sets: string[], wanted: string[], core: number | null): Promise<NodeProcess> {
  const cmd = [process.execPath, bin, 'start', ...sets.flatMap((s) => ['--set', s])];
  const argv = core === null ? cmd : ['taskset', '-c', String(core), ...cmd];
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  const ports = new Map<string, number>();
  const node: NodeProcess = {
    label,
    pid: child.pid ?? -1,
    ports,
    core,
    exit: null,
    stderrTail: () => stderr,
    stop: async () => {
      const t0 = performance.now();
      if (node.exit !== null) return { ...node.exit, killed: false, ms: 0 };
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await done;
      clearTimeout(timer);
      return { ...node.exit!, killed, ms: Math.round(performance.now() - t0) };
    },
  };
  child.once('exit', (code, signal) => {
    node.exit = { code, signal };
  });
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => fail(`no "listening ${wanted.filter((w) => !ports.has(w)).join('" / "listening ')}" line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const fail = (why: string): void => {
      clearTimeout(timer);
      if (node.exit === null) child.kill('SIGKILL');
      reject(new BenchError('BENCH_BROKER_START', `${label}: ${why}; stderr: ${stderr.trim().slice(-800)}`));
    };
    const onData = (d: Buffer): void => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const m = LISTENING.exec(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (m !== null) ports.set(m[1]!, Number(m[3]));
      }
      if (wanted.every((w) => ports.has(w))) {
        clearTimeout(timer);
        // Keep draining stdout so a chatty process never blocks on a full pipe.
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve(node);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code, signal) => fail(`exited before listening (code ${code}, signal ${signal})`));
  });
}

/**
 * A broker's counters from its admin API (messages_in/out, messages_dropped, slow_consumers, ...),
 * or null when it cannot be read (the broker died, or has no admin listener).
 */
export async function brokerOverview(b: NodeProcess): Promise<Record<string, number> | null> {
  const port = b.ports.get('admin-http');
  if (port === undefined || b.exit !== null) return null;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/overview`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return null;
    return (await res.json()) as Record<string, number>;
  } catch {
    return null;
  }
}

/** Broker settings every benchmark broker shares: loopback only, MQTT over TCP only, LevelDB storage. */
function brokerSets(dataDir: string, nodeId: number): string[] {
  return [
    `node_id=${nodeId}`,
    'mqtt.host=127.0.0.1',
    'admin.host=127.0.0.1',
    'mqtt.tcp_port=0',
    'mqtt.ws_port=-1',
    'mqtt.tls_port=-1',
    'mqtt.wss_port=-1',
    // On a kernel-chosen port: the runner reads each broker's counters (GET /api/overview) after a run.
    'admin.http_port=0',
    `data_dir=${dataDir}`,
    'storage.driver=leveldb',
    'log.level=warn',
  ];
}

export interface ClusterLayout {
  /** CPU of the placement node, of broker A, of broker B; null = unpinned. */
  placementCore: number | null;
  brokerCores: [number | null, number | null];
}

/** One placement node and two brokers registered with it, as config/cluster/broker-*.toml but on free ports. */
export class BenchCluster {
  readonly placement: NodeProcess;
  readonly brokers: [NodeProcess, NodeProcess];
  private readonly dir: string;

  private constructor(dir: string, placement: NodeProcess, brokers: [NodeProcess, NodeProcess]) {
    this.dir = dir;
    this.placement = placement;
    this.brokers = brokers;
  }

  static async start(layout: ClusterLayout): Promise<BenchCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-cluster-'));
    const started: NodeProcess[] = [];
    try {
      // raft.peers names the node's own address, so its port is chosen before it starts.
      const pport = await freePort();
      const placement = await startNode(
        'placement',
        binPath('placement'),
        ['node_id=1', `grpc_port=${pport}`, `raft.peers=["1@127.0.0.1:${pport}"]`, `data_dir=${join(dir, 'placement')}`, 'log.level=warn'],
        ['placement-grpc'],
        layout.placementCore,
      );
      started.push(placement);
      const addrs = `placement.addrs=["127.0.0.1:${placement.ports.get('placement-grpc')}"]`;
      const brokers = await Promise.all(
        [1, 2].map((id) =>
          startNode(
            `broker-${id === 1 ? 'A' : 'B'}`,
            binPath('broker'),
            [...brokerSets(join(dir, `broker-${id}`), id), 'grpc_port=0', addrs, 'cluster.advertise_host=127.0.0.1', 'cluster.heartbeat_timeout="5s"'],
            ['mqtt-tcp', 'broker-grpc', 'admin-http'],
            layout.brokerCores[id - 1]!,
          ).then((b) => {
            started.push(b);
            return b;
          }),
        ),
      );
      return new BenchCluster(dir, placement, [brokers[0]!, brokers[1]!]);
    } catch (err: unknown) {
      for (const p of started.reverse()) await p.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Brokers first (a clean broker stop unregisters from placement), then placement. */
  async stop(): Promise<string[]> {
    const notes: string[] = [];
    for (const b of this.brokers) {
      const r = await b.stop();
      if (r.killed) notes.push(`${b.label} did not exit within ${STOP_GRACE_MS} ms of SIGTERM and was killed`);
    }
    await this.placement.stop();
    rmSync(this.dir, { recursive: true, force: true });
    return notes;
  }

  /** Processes still running (for an exit handler that must not leave any behind). */
  pids(): number[] {
    return [...this.brokers, this.placement].filter((p) => p.exit === null).map((p) => p.pid);
  }
}

/** A standalone broker (no placement.addrs: embedded placement, no cluster link), LevelDB storage. */
export class BenchStandalone {
  readonly broker: NodeProcess;
  private readonly dir: string;

  private constructor(dir: string, broker: NodeProcess) {
    this.dir = dir;
    this.broker = broker;
  }

  static async start(core: number | null): Promise<BenchStandalone> {
    const dir = mkdtempSync(join(tmpdir(), 'bench-standalone-'));
    try {
      const broker = await startNode('standalone', binPath('broker'), brokerSets(join(dir, 'broker'), 1), ['mqtt-tcp', 'admin-http'], core);
      return new BenchStandalone(dir, broker);
    } catch (err: unknown) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async stop(): Promise<string[]> {
    const r = await this.broker.stop();
    rmSync(this.dir, { recursive: true, force: true });
    return r.killed ? [`standalone broker did not exit within ${STOP_GRACE_MS} ms of SIGTERM and was killed`] : [];
  }

  pids(): number[] {
    return this.broker.exit === null ? [this.broker.pid] : [];
  }
}
