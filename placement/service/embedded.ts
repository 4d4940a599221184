// The embedded placement center: a single-node Raft group in the caller's process, with no
// network listener, behind the same PlacementClient interface as the gRPC client. A standalone
// broker uses this; a clustered one uses GrpcPlacementClient; the calling code is the same.

import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { ApiRequest, ApiResponse, PlacementApi, UnaryMethodName } from '../client/api-types.js';
import { PlacementClientBase, WatchQueue, type PlacementClient, type PlacementWatch, type WatchOptions } from '../client/placement-client.js';
import { create } from '@bufbuild/protobuf';
import { WatchResponseSchema } from '../../proto/gen/placement_pb.js';
import { placementApi } from './placement-api.js';
import { PlacementNode, type PlacementNodeOptions } from './placement-node.js';

export interface EmbeddedPlacementOptions {
  /** The Raft store lives in `<dataDir>/placement`. */
  readonly dataDir: string;
  readonly log: Logger;
  /** Default 1. */
  readonly nodeId?: number;
  readonly clusterName?: string;
  readonly tuning?: Pick<PlacementNodeOptions, 'tickMs' | 'snapshotEntries' | 'keepEntries' | 'requestTimeoutMs' | 'clock'>;
}

export interface EmbeddedPlacement {
  readonly client: PlacementClient;
  readonly node: PlacementNode;
  /** Closes the client's watches and the node (flushes and releases the data directory). */
  close(): Promise<void>;
}

class LocalPlacementClient extends PlacementClientBase {
  private readonly api: PlacementApi;
  private readonly node: PlacementNode;
  private closed = false;
  private readonly watches = new Set<WatchQueue>();

  constructor(node: PlacementNode) {
    super();
    this.node = node;
    this.api = placementApi(node);
  }

  protected async call<K extends UnaryMethodName>(method: K, req: ApiRequest<K>): Promise<ApiResponse<K>> {
    if (this.closed) throw new CodedError('PC_UNREACHABLE', 'embedded placement client closed');
    const fn = this.api[method] as (r: ApiRequest<K>) => Promise<ApiResponse<K>>;
    return fn(req);
  }

  watch(options: WatchOptions = {}): PlacementWatch {
    let cancel: (() => void) | undefined;
    const q = new WatchQueue(() => {
      cancel?.();
      this.watches.delete(q);
    });
    this.watches.add(q);
    try {
      cancel = this.node.subscribe(options.fromIndex ?? 0, options.prefixes ?? [], {
        event: (e) => q.push(create(WatchResponseSchema, { message: { case: 'event', value: e } })),
        progress: (index) => q.push(create(WatchResponseSchema, { message: { case: 'progressIndex', value: index } })),
        fail: (err) => q.fail(err),
      });
    } catch (err: unknown) {
      q.fail(err);
    }
    return q;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const q of [...this.watches]) q.close();
  }
}

export async function startEmbeddedPlacement(options: EmbeddedPlacementOptions): Promise<EmbeddedPlacement> {
  const nodeId = options.nodeId ?? 1;
  const node = await PlacementNode.start({
    nodeId,
    clusterName: options.clusterName ?? 'robustmq',
    dataDir: options.dataDir,
    peers: new Map([[nodeId, 'embedded']]),
    advertiseAddress: 'embedded',
    log: options.log,
    ...options.tuning,
  });
  await node.waitForLeader();
  const client = new LocalPlacementClient(node);
  return {
    client,
    node,
    async close() {
      await client.close();
      await node.close();
    },
  };
}
