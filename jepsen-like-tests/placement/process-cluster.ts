// Three (or more) real `placement start` processes wired through test-controlled TCP proxies:
//
//   client --> C(i) --> node i            one client proxy per node (its advertised address)
//   node i --> P(i->j) --> node j         one proxy per directed peer link
//
// Every node binds port 0; its raft.peers lists itself at C(i) (what it advertises to clients and
// peers) and every other node j at P(i->j). A restarted node gets a new port and the proxies are
// re-aimed, so nobody else needs to know. Faults: kill -9, SIGSTOP/SIGCONT, SIGTERM, and
// partitions by cutting links.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpProxy, type ProxyMode } from './tcp-proxy.js';

export interface ProcessNode {
  readonly id: number;
  readonly clientProxy: TcpProxy;
  /** Outgoing links: peer id -> proxy this node dials for that peer. */
  readonly links: Map<number, TcpProxy>;
  child: ChildProcess | undefined;
  port: number;
  paused: boolean;
  stderr: string;
}

export interface ProcessClusterOptions {
  readonly size: number;
  readonly binPath: string;
  /** Extra `--set` overrides. */
  readonly sets?: readonly string[];
}

export class ProcessCluster {
  readonly nodes: ProcessNode[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'pc-jepsen-'));
  private readonly opts: ProcessClusterOptions;

  private constructor(opts: ProcessClusterOptions) {
    this.opts = opts;
  }

  static async start(opts: ProcessClusterOptions): Promise<ProcessCluster> {
    const c = new ProcessCluster(opts);
    for (let id = 1; id <= opts.size; id++) {
      c.nodes.push({ id, clientProxy: await TcpProxy.start(), links: new Map(), child: undefined, port: 0, paused: false, stderr: '' });
    }
    for (const n of c.nodes) for (const m of c.nodes) if (m.id !== n.id) n.links.set(m.id, await TcpProxy.start());
    await Promise.all(c.nodes.map((n) => c.spawnNode(n)));
    return c;
  }

  /** The addresses clients use (the client proxies). */
  get clientAddresses(): string[] {
    return this.nodes.map((n) => n.clientProxy.address);
  }

  node(id: number): ProcessNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  private peersFor(n: ProcessNode): string {
    const entries = this.nodes.map((m) => `${m.id}@${m.id === n.id ? n.clientProxy.address : n.links.get(m.id)!.address}`);
    return JSON.stringify(entries);
  }

  private async spawnNode(n: ProcessNode): Promise<void> {
    const args = [
      this.opts.binPath,
      'start',
      '--set', `node_id=${n.id}`,
      '--set', 'grpc_port=0',
      '--set', `data_dir=${join(this.dir, `n${n.id}`)}`,
      '--set', 'cluster_name=jepsen',
      '--set', `raft.peers=${this.peersFor(n)}`,
      '--set', 'log.level=info',
      ...(this.opts.sets ?? []).flatMap((s) => ['--set', s]),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    n.child = child;
    n.paused = false;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      n.stderr = (n.stderr + d).slice(-20_000);
    });
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`node ${n.id} printed no listening line in 20 s; stderr:\n${n.stderr}`)), 20_000);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => {
        out += d;
        const m = /listening placement-grpc [^\s]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`node ${n.id} exited (${code ?? signal}) before listening; stderr:\n${n.stderr}`));
      });
    });
    n.port = port;
    n.clientProxy.setTarget('127.0.0.1', port);
    for (const m of this.nodes) m.links.get(n.id)?.setTarget('127.0.0.1', port);
  }

  kill9(id: number): Promise<void> {
    return this.signalAndWait(id, 'SIGKILL');
  }

  /** SIGTERM; resolves with the exit code. */
  async terminate(id: number): Promise<number | null> {
    const n = this.node(id);
    const child = n.child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    if (n.paused) child.kill('SIGCONT');
    const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const code = await done;
    n.child = undefined;
    return code;
  }

  private async signalAndWait(id: number, signal: NodeJS.Signals): Promise<void> {
    const n = this.node(id);
    const child = n.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    await done;
    n.child = undefined;
    n.paused = false;
  }

  pause(id: number): void {
    const n = this.node(id);
    n.child?.kill('SIGSTOP');
    n.paused = true;
  }

  resume(id: number): void {
    const n = this.node(id);
    n.child?.kill('SIGCONT');
    n.paused = false;
  }

  async restart(id: number): Promise<void> {
    const n = this.node(id);
    if (n.child) await this.kill9(id);
    await this.spawnNode(n);
  }

  /** Cuts every link between different groups (both directions); nodes not listed are isolated. */
  partition(groups: readonly (readonly number[])[], mode: ProxyMode = 'blackhole'): void {
    const groupOf = new Map<number, number>();
    groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
    for (const n of this.nodes) {
      for (const [peer, proxy] of n.links) {
        const same = groupOf.has(n.id) && groupOf.get(n.id) === groupOf.get(peer);
        proxy.setMode(same ? 'pass' : mode);
      }
    }
  }

  heal(): void {
    for (const n of this.nodes) for (const p of n.links.values()) p.setMode('pass');
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      if (n.child && n.child.exitCode === null && n.child.signalCode === null) {
        if (n.paused) n.child.kill('SIGCONT');
        await this.signalAndWait(n.id, 'SIGKILL');
      }
      await n.clientProxy.close();
      for (const p of n.links.values()) await p.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
