// The journal's metadata in the placement center (issue 4): journal nodes register and heartbeat
// there; shards are JournalShard objects and each shard's replication state (replicas, leader,
// leader epoch, ISR) is its JournalSegment object number 0, updated by compare-and-set on the
// object's mod_index.

import { CodedError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { JournalMetadataStore } from './metadata-store.js';

export interface PlacementStoreOptions {
  readonly addrs: readonly string[];
  readonly clusterName: string;
  readonly log: Logger;
}

export const PlacementMetadataStore = {
  async connect(opts: PlacementStoreOptions): Promise<JournalMetadataStore> {
    throw new CodedError('JR_PLACEMENT_UNAVAILABLE', `no placement client available for ${opts.addrs.join(',')}; run standalone with placement.addrs = []`);
  },
};
