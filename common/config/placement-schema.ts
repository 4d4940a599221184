// The placement center's configuration (DESIGN.md section 3). config/placement.toml lists the same
// keys with the same defaults.

import type { LogLevel } from '../log.js';
import { raftPeer, stringList, type Assert, type ConfigOf, type Equal } from './schema.js';
import { logKeys, serviceKeys } from './service-keys.js';

export const placementSchema = {
  ...serviceKeys(1228),
  raft: {
    peers: stringList({
      default: ['1@127.0.0.1:1228'],
      item: raftPeer,
      doc: 'Every voting member as "id@host:port", this node included; one entry = a single-node cluster.',
    }),
  },
  log: logKeys(),
};

/** The placement center's validated, deeply frozen configuration (snake_case keys as in TOML). */
export interface PlacementConfig {
  readonly node_id: number;
  readonly cluster_name: string;
  readonly data_dir: string;
  readonly grpc_port: number;
  readonly raft: { readonly peers: readonly string[] };
  readonly log: { readonly level: LogLevel };
}

export type PlacementConfigMatchesSchema = Assert<Equal<PlacementConfig, ConfigOf<typeof placementSchema>>>;
