// What each worker process runs: the operator's config with the keys that must differ per worker
// (node id, data directory, link port, journal shard prefix) and the ones the primary takes over
// (MQTT ports, the public admin port, placement). Pure, so it is tested without processes.

import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { BrokerConfig } from '../../common/config/index.js';

/** `workers` as configured -> the number of worker processes (0 = one per CPU core). */
export function resolveWorkerCount(workers: number, cores: number = availableParallelism()): number {
  return workers === 0 ? Math.max(1, cores) : workers;
}

export interface WorkerPlacement {
  /** Placement addresses the worker dials. */
  readonly addrs: readonly string[];
  /** True when the primary runs placement on loopback: workers then link over loopback too. */
  readonly embedded: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? U[] : T[K] extends object ? Mutable<T[K]> : T[K] };

/**
 * The config of worker `index` (1-based). Worker i is broker node_id + i - 1 with its state under
 * `<data_dir>/worker-<i>`, so a restarted worker finds its sessions again.
 */
export function workerConfig(base: BrokerConfig, index: number, placement: WorkerPlacement): BrokerConfig {
  if (!Number.isSafeInteger(index) || index < 1) throw new RangeError(`worker index must be a positive integer, got ${index}`);
  const c = structuredClone(base) as Mutable<BrokerConfig>;
  c.workers = 1;
  c.node_id = base.node_id + index - 1;
  c.data_dir = path.join(base.data_dir, `worker-${index}`);
  c.placement.addrs = [...placement.addrs];
  if (placement.embedded) {
    // Only the processes on this host take part: links stay on loopback, on any free port.
    c.grpc_port = 0;
    c.mqtt.host = '127.0.0.1';
    c.cluster.advertise_host = '127.0.0.1';
  } else if (base.grpc_port > 0) {
    // Brokers on other hosts dial these links: consecutive ports from grpc_port, so a firewall rule can name them.
    c.grpc_port = base.grpc_port + index - 1;
    if (c.grpc_port > 65535) throw new RangeError(`grpc_port ${base.grpc_port} + ${index - 1} for worker ${index} is above 65535`);
  }
  // The primary binds the MQTT ports and hands accepted sockets over.
  c.mqtt.tcp_port = -1;
  c.mqtt.tls_port = -1;
  c.mqtt.ws_port = -1;
  c.mqtt.wss_port = -1;
  // Each worker's own admin API, reached through the primary's admin port (see admin-proxy.ts).
  c.admin.host = '127.0.0.1';
  c.admin.http_port = base.admin.http_port < 0 ? -1 : 0;
  if (base.storage.journal.shard_prefix !== '') c.storage.journal.shard_prefix = `${base.storage.journal.shard_prefix}-w${index}`;
  return c as BrokerConfig;
}
