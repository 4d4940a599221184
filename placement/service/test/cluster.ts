// Test helper: a placement cluster of real nodes in this process, on free loopback ports.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../common/log.js';
import { GrpcPlacementClient } from '../../client/grpc-client.js';
import { bindPlacementServer, type BoundServer } from '../grpc-server.js';
import { PlacementNode, type PlacementNodeOptions } from '../placement-node.js';

export type TestTuning = Pick<
  PlacementNodeOptions,
  'tickMs' | 'electionTick' | 'snapshotEntries' | 'keepEntries' | 'requestTimeoutMs' | 'clock' | 'promoteMaxLag' | 'foundingWaitMs'
>;

export interface Member {
  readonly id: number;
  address: string;
  server: BoundServer | undefined;
  node: PlacementNode | undefined;
  /** The ids of this node's raft.peers; absent = every member of the test cluster. */
  peerIds?: readonly number[];
}

export class TestCluster {
  readonly dir: string;
  readonly members: Member[] = [];
  private readonly tuning: TestTuning;
  private readonly clients: GrpcPlacementClient[] = [];
  readonly log = createLogger(process.env.PC_TEST_LOG === '1' ? 'debug' : 'silent', 'placement-test');

  private constructor(dir: string, tuning: TestTuning) {
    this.dir = dir;
    this.tuning = tuning;
  }

  static async start(size: number, tuning: TestTuning = {}): Promise<TestCluster> {
    const c = new TestCluster(mkdtempSync(join(tmpdir(), 'pc-cluster-')), { tickMs: 20, ...tuning });
    for (let id = 1; id <= size; id++) {
      const server = await bindPlacementServer('127.0.0.1', 0, 'test');
      c.members.push({ id, address: `127.0.0.1:${server.port}`, server, node: undefined });
    }
    await Promise.all(c.members.map((m) => c.startNode(m)));
    return c;
  }

  private peers(m: Member): Map<number, string> {
    const ids = m.peerIds ?? this.members.map((x) => x.id);
    return new Map(this.members.filter((x) => ids.includes(x.id)).map((x) => [x.id, x.address]));
  }

  /** Binds a port for a new node without starting it (so it can be added before it starts). */
  async bindNode(id: number): Promise<Member> {
    const server = await bindPlacementServer('127.0.0.1', 0, 'test');
    const m: Member = { id, address: `127.0.0.1:${server.port}`, server, node: undefined };
    this.members.push(m);
    return m;
  }

  /** Starts a bound node whose raft.peers lists only `peerIds` (itself included). */
  async startBound(id: number, peerIds: readonly number[]): Promise<Member> {
    const m = this.member(id);
    m.peerIds = peerIds;
    await this.startNode(m);
    return m;
  }

  private async startNode(m: Member): Promise<void> {
    m.node = await PlacementNode.start({
      nodeId: m.id,
      clusterName: 'test',
      dataDir: join(this.dir, `n${m.id}`),
      peers: this.peers(m),
      advertiseAddress: m.address,
      log: this.log,
      ...this.tuning,
    });
    m.server!.attach(m.node);
  }

  member(id: number): Member {
    return this.members.find((m) => m.id === id)!;
  }

  /** Stops a node (server and store); its data stays. */
  async stop(id: number): Promise<void> {
    const m = this.member(id);
    await m.server?.close();
    await m.node?.close();
    m.server = undefined;
    m.node = undefined;
  }

  /** Restarts a stopped node on its old port. */
  async restart(id: number): Promise<void> {
    const m = this.member(id);
    const port = Number(m.address.split(':')[1]);
    m.server = await bindPlacementServer('127.0.0.1', port, 'test');
    await this.startNode(m);
  }

  async waitForLeader(timeoutMs = 10_000, exclude: readonly number[] = []): Promise<Member> {
    return waitFor(() => {
      const leaders = this.members.filter((m) => m.node?.isLeader && !exclude.includes(m.id));
      return leaders.length === 1 ? leaders[0] : undefined;
    }, timeoutMs, 'a single leader');
  }

  client(addresses: readonly string[] = this.members.map((m) => m.address), timeoutMs = 10_000): GrpcPlacementClient {
    const c = new GrpcPlacementClient({ addresses, timeoutMs });
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients) await c.close();
    for (const m of this.members) {
      await m.server?.close();
      await m.node?.close();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
