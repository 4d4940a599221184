// An in-process cluster for tests: one placement node (real gRPC, fast ticks) on a free port and
// any number of brokers (startTestBroker with placement.addrs set, memory storage), all in this
// process. Real sockets and real gRPC links; no mocks.

import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, placementSchema } from '../../../common/config/index.js';
import { createLogger } from '../../../common/log.js';
import { startPlacement, type RunningPlacement } from '../../../placement/service/start-placement.js';
import { startTestBroker, waitFor, type TestBroker } from '../../test/helpers.js';

export interface TestCluster {
  placementAddress: string;
  brokers: TestBroker[];
  startBroker(id: number, sets?: string[]): Promise<TestBroker>;
  /** Waits until every running broker sees every other as alive and linked. */
  converged(): Promise<void>;
  close(): Promise<void>;
}

/** A port free right now (placement's raft.peers needs its own address before it binds). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startTestCluster(brokerCount: number, sets: string[] = []): Promise<TestCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'robustmq-cluster-'));
  const pport = await freePort();
  const pconfig = loadConfig(placementSchema, {
    sets: ['node_id=1', `grpc_port=${pport}`, `data_dir=${path.join(dir, 'placement')}`, `raft.peers=["1@127.0.0.1:${pport}"]`, 'log.level=error'],
  });
  const placement: RunningPlacement = await startPlacement(pconfig, createLogger('error', 'placement'), { tickMs: 10 });
  await placement.node.waitForLeader();
  const placementAddress = `127.0.0.1:${placement.port}`;
  const brokers: TestBroker[] = [];
  const cluster: TestCluster = {
    placementAddress,
    brokers,
    async startBroker(id, more = []) {
      const b = await startTestBroker([
        `node_id=${id}`, 'grpc_port=0', `placement.addrs=["${placementAddress}"]`, 'cluster.heartbeat_timeout="1s"',
        ...sets, ...more,
      ]);
      brokers.push(b);
      return b;
    },
    async converged() {
      await waitFor(() => brokers.every((b) => {
        const alive = new Set(b.cluster!.routes.aliveBrokers());
        return brokers.every((o) => o === b || alive.has(o.cluster!.options.brokerId));
      }), 'brokers see each other', 10_000);
    },
    async close() {
      for (const b of brokers.splice(0)) await b.stop().catch(() => undefined);
      await placement.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (let i = 1; i <= brokerCount; i++) await cluster.startBroker(i);
  await cluster.converged();
  return cluster;
}
