// `broker start` with workers > 1: the primary process. It owns the public ports and no MQTT
// state: it runs placement for the workers (unless placement.addrs names one), forks the worker
// brokers, accepts MQTT connections on the configured ports and hands each socket to a worker
// (round robin over IPC; the TLS and WebSocket handshakes happen in the worker), and serves the
// admin port (admin-proxy.ts). Workers route publishes to each other as cluster brokers do.
//
//   client -> primary: accept (paused, no byte read) -> child.send(socket) -> worker i: MQTT
//   worker i <-> worker j: inter-broker links (gRPC on 127.0.0.1), routes in placement

import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { BrokerConfig } from '../../common/config/index.js';
import type { Logger } from '../../common/log.js';
import type { Listener, StartedService } from '../../common/service-runner.js';
import { bindPlacementServer } from '../../placement/service/grpc-server.js';
import { PlacementNode } from '../../placement/service/placement-node.js';
import { listen } from '../listeners/listener.js';
import { closeServer } from '../listeners/tcp.js';
import { startAdminProxy } from './admin-proxy.js';
import type { ListenerKind } from './messages.js';
import { resolveWorkerCount, workerConfig, type WorkerPlacement } from './worker-config.js';
import { WorkerPool, type WorkerPoolOptions } from './worker-pool.js';

export interface RunningPrimary extends StartedService {
  readonly pool: WorkerPool;
}

export interface PrimaryOptions {
  /** Default: worker-main.js next to this file (dist/broker/workers/). */
  readonly workerEntry?: string;
  /** Restart and timeout tuning of the pool (tests). */
  readonly pool?: Pick<WorkerPoolOptions, 'startTimeoutMs' | 'stopTimeoutMs' | 'backoffMs' | 'maxBackoffMs' | 'stableMs'>;
}

/** The MQTT listeners this config enables, as startBroker would bind them. */
export function enabledKinds(config: BrokerConfig): { kind: ListenerKind; port: number }[] {
  const m = config.mqtt;
  const tls = config.tls.cert_file !== '';
  const out: { kind: ListenerKind; port: number }[] = [];
  if (m.tcp_port >= 0) out.push({ kind: 'mqtt-tcp', port: m.tcp_port });
  if (tls && m.tls_port >= 0) out.push({ kind: 'mqtt-tls', port: m.tls_port });
  if (m.ws_port >= 0) out.push({ kind: 'mqtt-ws', port: m.ws_port });
  if (tls && m.wss_port >= 0) out.push({ kind: 'mqtt-wss', port: m.wss_port });
  return out;
}

/** Placement for the workers: the configured group, or a single node run here on loopback. */
async function placementFor(config: BrokerConfig, log: Logger): Promise<{ placement: WorkerPlacement; listener?: Listener; close(): Promise<void> }> {
  if (config.placement.addrs.length > 0) {
    return { placement: { addrs: config.placement.addrs, embedded: false }, close: async () => undefined };
  }
  const host = '127.0.0.1';
  const server = await bindPlacementServer(host, 0, config.cluster_name);
  const address = `${host}:${server.port}`;
  let node: PlacementNode;
  try {
    // The same Raft store (<data_dir>/placement) a single-process broker embeds: users, ACLs and
    // the rest of the metadata carry over when `workers` changes.
    node = await PlacementNode.start({
      nodeId: config.node_id, clusterName: config.cluster_name, dataDir: config.data_dir,
      peers: new Map([[config.node_id, address]]), advertiseAddress: address, log: log.child('placement'),
    });
    await node.waitForLeader();
  } catch (err: unknown) {
    await server.close();
    throw err;
  }
  server.attach(node);
  return {
    placement: { addrs: [address], embedded: true },
    listener: { name: 'placement-grpc', host, port: server.port },
    async close() {
      await server.close();
      await node.close();
    },
  };
}

export async function startPrimary(config: BrokerConfig, log: Logger, options: PrimaryOptions = {}): Promise<RunningPrimary> {
  const count = resolveWorkerCount(config.workers);
  const kinds = enabledKinds(config);
  const closers: (() => Promise<void>)[] = [];
  const listeners: Listener[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) await c().catch((err: unknown) => log.warn('close failed', { error: String(err) }));
  };
  try {
    const pl = await placementFor(config, log);
    closers.push(pl.close);
    const pool = new WorkerPool({
      entry: options.workerEntry ?? fileURLToPath(new URL('./worker-main.js', import.meta.url)),
      configs: Array.from({ length: count }, (_, i) => workerConfig(config, i + 1, pl.placement)),
      kinds: kinds.map((k) => k.kind),
      log: log.child('workers'),
      ...options.pool,
    });
    await pool.start();
    closers.push(() => pool.close());
    log.info('workers ready', { workers: count, placement: pl.placement.addrs.join(',') });

    const host = config.mqtt.host;
    for (const { kind, port } of kinds) {
      // Paused: not a byte is read here, so the worker's parser (or TLS) sees the stream from its start.
      const server = net.createServer({ pauseOnConnect: true }, (socket) => pool.dispatch(kind, socket));
      server.on('error', (err) => log.warn('listener error', { listener: kind, error: err.message }));
      const bound = await listen(server, host, port);
      closers.push(() => closeServer(server, new Set()));
      listeners.push({ name: kind, host, port: bound });
    }
    if (config.admin.http_port >= 0) {
      const admin = await startAdminProxy({ host: config.admin.host, port: config.admin.http_port, pool, log: log.child('admin') });
      closers.push(() => admin.close());
      listeners.push({ name: 'admin-http', host: config.admin.host, port: admin.port });
    }
    if (pl.listener !== undefined) listeners.push(pl.listener);
    // closeAll runs these in reverse: the admin port and the MQTT ports stop accepting first, then
    // the workers stop (each closes its clients and storage), then placement.
    return { pool, listeners, close: closeAll };
  } catch (err: unknown) {
    await closeAll();
    throw err;
  }
}
