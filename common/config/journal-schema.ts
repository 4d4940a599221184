// The journal engine's configuration (DESIGN.md section 4). config/journal.toml lists the same keys
// with the same defaults.

import type { LogLevel } from '../log.js';
import { hostPort, stringList, type Assert, type ConfigOf, type Equal } from './schema.js';
import { logKeys, serviceKeys } from './service-keys.js';

export const journalSchema = {
  ...serviceKeys(1778),
  placement: {
    addrs: stringList({
      default: ['127.0.0.1:1228'],
      item: hostPort,
      doc: 'Placement center addresses ("host:port") where this node registers and finds shard metadata.',
    }),
  },
  log: logKeys(),
};

/** The journal engine's validated, deeply frozen configuration (snake_case keys as in TOML). */
export interface JournalConfig {
  readonly node_id: number;
  readonly cluster_name: string;
  readonly data_dir: string;
  readonly grpc_port: number;
  readonly placement: { readonly addrs: readonly string[] };
  readonly log: { readonly level: LogLevel };
}

export type JournalConfigMatchesSchema = Assert<Equal<JournalConfig, ConfigOf<typeof journalSchema>>>;
