// `placement start`: a placement node from its validated config. The node binds
// `<host of its own raft.peers entry>:<grpc_port>` (grpc_port 0 = any free port) and advertises
// its own raft.peers entry to clients and peers, like etcd's advertise address: behind a proxy or
// NAT the entry is the address others must use, not necessarily the bound one.

import type { PlacementConfig } from '../../common/config/index.js';
import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { StartedService } from '../../common/service-runner.js';
import { bindPlacementServer } from './grpc-server.js';
import { PlacementNode, type PlacementNodeOptions } from './placement-node.js';

export type Tuning = Pick<PlacementNodeOptions, 'tickMs' | 'electionTick' | 'snapshotEntries' | 'keepEntries' | 'requestTimeoutMs' | 'clock' | 'seed'>;

/** Parses raft.peers ("id@host:port") into id -> "host:port"; duplicate ids are refused. */
export function parsePeers(peers: readonly string[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of peers) {
    const at = p.indexOf('@');
    const id = Number(p.slice(0, at));
    if (at <= 0 || !Number.isSafeInteger(id) || id <= 0) throw new CodedError('CFG_INVALID', `raft.peers entry ${JSON.stringify(p)}: id must be a positive integer`);
    if (out.has(id)) throw new CodedError('CFG_INVALID', `raft.peers lists node ${id} twice`);
    out.set(id, p.slice(at + 1));
  }
  return out;
}

export function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  const h = address.slice(0, i);
  return h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
}

export interface RunningPlacement extends StartedService {
  readonly node: PlacementNode;
  readonly port: number;
}

export async function startPlacement(config: PlacementConfig, log: Logger, tuning: Tuning = {}): Promise<RunningPlacement> {
  const peers = parsePeers(config.raft.peers);
  const self = peers.get(config.node_id);
  if (self === undefined) {
    throw new CodedError('CFG_INVALID', `node_id ${config.node_id} has no entry in raft.peers (${config.raft.peers.join(', ')})`);
  }
  if (config.grpc_port < 0) throw new CodedError('CFG_INVALID', 'grpc_port must not be -1: the placement center has only this listener');
  const host = hostOf(self);
  const server = await bindPlacementServer(host, config.grpc_port, config.cluster_name);
  let node: PlacementNode;
  try {
    node = await PlacementNode.start({
      nodeId: config.node_id,
      clusterName: config.cluster_name,
      dataDir: config.data_dir,
      peers,
      advertiseAddress: self,
      log,
      ...tuning,
    });
  } catch (err: unknown) {
    await server.close();
    throw err;
  }
  server.attach(node);
  log.info('placement node started', { nodeId: config.node_id, peers: config.raft.peers.join(','), port: server.port });
  return {
    node,
    port: server.port,
    listeners: [{ name: 'placement-grpc', host, port: server.port }],
    async close() {
      await server.close();
      await node.close();
    },
  };
}
