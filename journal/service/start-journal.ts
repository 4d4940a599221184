// `journal start`: the gRPC server and the JournalNode behind it, with the metadata store the
// configuration asks for — the placement center when `placement.addrs` is set, else a local file
// (standalone: one node, every shard local with one replica).

import path from 'node:path';
import type { JournalConfig } from '../../common/config/index.js';
import type { Logger } from '../../common/log.js';
import type { Listener, StartedService } from '../../common/service-runner.js';
import { CodedError } from '../../common/errors.js';
import type { ShardLogOptions } from '../storage/index.js';
import { LocalMetadataStore } from '../replication/local-metadata-store.js';
import type { JournalMetadataStore } from '../replication/metadata-store.js';
import type { ReplicationTiming } from '../replication/timing.js';
import { startGrpcServer } from './grpc-server.js';
import { JournalNode } from './journal-node.js';

export interface StartJournalOptions {
  /** Address to bind and to advertise to peers and clients; default 127.0.0.1. */
  readonly host?: string;
  /** `host:port` to advertise instead of the bound one (a proxy or NAT in front of this node). */
  readonly advertise?: string;
  /** Overrides the store the config implies (tests, embedding). */
  readonly store?: JournalMetadataStore;
  readonly timing?: Partial<ReplicationTiming>;
  readonly shardLog?: Partial<Omit<ShardLogOptions, 'key_index'>>;
}

export interface StartedJournal extends StartedService {
  readonly node: JournalNode;
  /** `host:port` of the gRPC server, '' when grpc_port = -1. */
  readonly addr: string;
}

/**
 * Process-level hooks the config schema has no keys for (yet): ROBUSTMQ_JOURNAL_ADVERTISE =
 * `host:port` to advertise (the fault-injection tests put a proxy in front of each node) and
 * ROBUSTMQ_JOURNAL_TIMING = JSON of ReplicationTiming fields (shorter failover in tests).
 */
export function journalEnvOptions(env: NodeJS.ProcessEnv): StartJournalOptions {
  const advertise = env.ROBUSTMQ_JOURNAL_ADVERTISE;
  if (advertise !== undefined && !/^[^\s:]+:\d{1,5}$/.test(advertise)) {
    throw new CodedError('CFG_INVALID', `ROBUSTMQ_JOURNAL_ADVERTISE must be "host:port", got ${JSON.stringify(advertise)}`);
  }
  let timing: Partial<ReplicationTiming> | undefined;
  if (env.ROBUSTMQ_JOURNAL_TIMING !== undefined) {
    try {
      timing = JSON.parse(env.ROBUSTMQ_JOURNAL_TIMING) as Partial<ReplicationTiming>;
    } catch {
      throw new CodedError('CFG_INVALID', 'ROBUSTMQ_JOURNAL_TIMING must be a JSON object of replication timings');
    }
  }
  return { ...(advertise !== undefined ? { advertise } : {}), ...(timing !== undefined ? { timing } : {}) };
}

/** The standalone store: `<data_dir>/journal/.meta.json`. */
export function standaloneStore(dataDir: string): JournalMetadataStore {
  return LocalMetadataStore.open(path.join(dataDir, 'journal', '.meta.json')).view();
}

async function placementStore(config: JournalConfig, log: Logger): Promise<JournalMetadataStore> {
  const { PlacementMetadataStore } = await import('../replication/placement-metadata-store.js');
  return PlacementMetadataStore.connect({ addrs: config.placement.addrs, clusterName: config.cluster_name, log });
}

export async function startJournal(config: JournalConfig, log: Logger, options: StartJournalOptions = {}): Promise<StartedJournal> {
  const host = options.host ?? '127.0.0.1';
  let node: JournalNode | null = null;
  const get = (): JournalNode => {
    if (node === null) throw new CodedError('JR_CLOSED', 'the journal node is starting');
    return node;
  };
  const grpc = config.grpc_port >= 0 ? await startGrpcServer(get, host, config.grpc_port) : null;
  const addr = grpc === null ? '' : options.advertise ?? `${host}:${grpc.port}`;
  try {
    const store = options.store ?? (config.placement.addrs.length === 0 ? standaloneStore(config.data_dir) : await placementStore(config, log));
    node = await JournalNode.start({
      nodeId: config.node_id,
      dataDir: config.data_dir,
      advertisedAddr: addr,
      store,
      log,
      timing: options.timing,
      shardLog: options.shardLog,
    });
  } catch (e: unknown) {
    grpc?.server.forceShutdown();
    throw e;
  }
  const started = node;
  const listeners: Listener[] = grpc === null ? [] : [{ name: 'journal-grpc', host, port: grpc.port }];
  return {
    node: started,
    addr,
    listeners,
    async close() {
      if (grpc !== null) {
        // Refuse new calls, let running ones finish briefly, then cut the rest (long polls).
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            grpc.server.forceShutdown();
            resolve();
          }, 1000);
          grpc.server.tryShutdown(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      await started.close();
    },
  };
}
