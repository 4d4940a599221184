// A real cluster for fault injection: one `placement start` process and N `journal start`
// processes, each journal node behind two test-controlled TCP proxies (TcpProxy from
// jepsen-like-tests/placement):
//
//   clients, other journal nodes --> in(i) --> journal node i     (node i advertises in(i))
//   journal node i --> pc(i) --> placement                          (its registration, heartbeats, metadata)
//
// so partitioning node i (both proxies blackholed) cuts it from clients, from its peers and from
// placement, while the node keeps running. A restarted node binds a new port; in(i) is re-aimed.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../test/services/free-port.js';
import { spawnService, type SpawnedService } from '../../../journal/service/test/journal-process.js';
import type { ReplicationTiming } from '../../../journal/replication/timing.js';
import { TcpProxy } from '../../placement/tcp-proxy.js';

export interface ClusterNode {
  readonly id: number;
  readonly dir: string;
  readonly inbound: TcpProxy;
  readonly toPlacement: TcpProxy;
  proc: SpawnedService | undefined;
  partitioned: boolean;
}

export class JournalCluster {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-jepsen-'));
  readonly nodes: ClusterNode[] = [];
  private placement: SpawnedService | undefined;
  private placementPort = 0;

  private constructor(private readonly timing: Partial<ReplicationTiming>) {}

  static async start(size: number, timing: Partial<ReplicationTiming>): Promise<JournalCluster> {
    const c = new JournalCluster(timing);
    await c.startPlacement();
    for (let id = 1; id <= size; id++) {
      const inbound = await TcpProxy.start();
      const toPlacement = await TcpProxy.start();
      toPlacement.setTarget('127.0.0.1', c.placementPort);
      const node: ClusterNode = { id, dir: path.join(c.dir, `journal-${id}`), inbound, toPlacement, proc: undefined, partitioned: false };
      c.nodes.push(node);
    }
    await Promise.all(c.nodes.map((n) => c.startNode(n.id)));
    return c;
  }

  private async startPlacement(): Promise<void> {
    // The single placement member must name its own address in raft.peers, so it needs a port up front.
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      try {
        this.placement = await spawnService('placement', 'placement-grpc', {
          node_id: '1',
          grpc_port: String(port),
          'raft.peers': `["1@127.0.0.1:${port}"]`,
          data_dir: path.join(this.dir, 'placement'),
          'log.level': 'warn',
        });
        this.placementPort = port;
        return;
      } catch (e: unknown) {
        if (attempt >= 3) throw e;
      }
    }
  }

  /** The placement node's gRPC address (for other services joining the same cluster). */
  get placementAddress(): string {
    return `127.0.0.1:${this.placementPort}`;
  }

  node(id: number): ClusterNode {
    return this.nodes.find((n) => n.id === id)!;
  }

  /** Addresses clients use: the inbound proxies, which every node advertises. */
  get clientAddresses(): string[] {
    return this.nodes.map((n) => n.inbound.address);
  }

  async startNode(id: number): Promise<void> {
    const n = this.node(id);
    n.proc = await spawnService(
      'journal',
      'journal-grpc',
      { node_id: String(id), grpc_port: '0', data_dir: n.dir, 'placement.addrs': `["${n.toPlacement.address}"]`, 'log.level': 'info' },
      { ROBUSTMQ_JOURNAL_ADVERTISE: n.inbound.address, ROBUSTMQ_JOURNAL_TIMING: JSON.stringify(this.timing) },
    );
    n.inbound.setTarget('127.0.0.1', n.proc.port);
  }

  async kill(id: number): Promise<void> {
    const n = this.node(id);
    if (n.proc === undefined) return;
    n.proc.child.kill('SIGKILL');
    await n.proc.exited;
    n.proc = undefined;
  }

  partition(id: number): void {
    const n = this.node(id);
    n.partitioned = true;
    n.inbound.setMode('blackhole');
    n.toPlacement.setMode('blackhole');
  }

  heal(id: number): void {
    const n = this.node(id);
    n.partitioned = false;
    n.inbound.setMode('pass');
    n.toPlacement.setMode('pass');
  }

  /** stderr of every journal process (for a failure report). */
  logs(): string {
    return this.nodes.map((n) => `--- journal ${n.id}\n${n.proc?.stderr() ?? '(not running)'}`).join('\n');
  }

  async close(): Promise<void> {
    for (const n of this.nodes) {
      if (n.proc !== undefined) {
        n.proc.child.kill('SIGTERM');
        const t = setTimeout(() => n.proc?.child.kill('SIGKILL'), 5000);
        await n.proc.exited;
        clearTimeout(t);
      }
      await n.inbound.close();
      await n.toPlacement.close();
    }
    if (this.placement !== undefined) {
      this.placement.child.kill('SIGTERM');
      const t = setTimeout(() => this.placement?.child.kill('SIGKILL'), 5000);
      await this.placement.exited;
      clearTimeout(t);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
