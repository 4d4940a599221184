// Picks the storage driver named by `storage.driver` (DESIGN.md section 5). The returned driver
// is not open yet: the caller awaits open() and reports its StorageError.

import { join } from 'node:path';
import type { StorageDriver } from './driver.js';
import { LevelDbStorage } from './leveldb.js';
import { MemoryStorage } from './memory.js';

export interface StorageDriverConfig {
  driver: string;
  dataDir: string;
  leveldb?: { sync?: boolean };
}

/** The drivers this build provides. */
export const storageDriverNames = ['memory', 'leveldb'] as const;

export function createStorageDriver(cfg: StorageDriverConfig): StorageDriver {
  switch (cfg.driver) {
    case 'memory':
      return new MemoryStorage();
    case 'leveldb': {
      const opts: { path: string; sync?: boolean } = { path: join(cfg.dataDir, 'broker', 'storage') };
      if (cfg.leveldb?.sync !== undefined) opts.sync = cfg.leveldb.sync;
      return new LevelDbStorage(opts);
    }
    default:
      throw new Error(
        `unknown storage driver ${JSON.stringify(cfg.driver)}: this build provides ${storageDriverNames.join(', ')}`,
      );
  }
}

export { StorageError } from './driver.js';
export type { StorageDriver, StorageOp } from './driver.js';
export { StorageOpError } from './storage-op-error.js';
export { LevelDbStorage } from './leveldb.js';
export { MemoryStorage } from './memory.js';
