// Picks the storage driver named by `storage.driver` (DESIGN.md section 5). The returned driver
// is not open yet: the caller awaits open() and reports its StorageError.

import { join } from 'node:path';
import type { StorageDriver } from './driver.js';
import type { JournalAcks } from './journal-api.js';
import { JournalStorage, type JournalStorageOptions } from './journal.js';
import { LevelDbStorage } from './leveldb.js';
import { MemoryStorage } from './memory.js';
import { MySqlStorage } from './mysql.js';
import { S3Storage, type S3StorageOptions } from './s3.js';

export interface StorageDriverConfig {
  driver: string;
  dataDir: string;
  leveldb?: { sync?: boolean };
  /** storage.mysql.url */
  mysql?: { url: string };
  /** storage.s3.*; `prefix` defaults to "robustmq/storage/" (one broker per prefix). */
  s3?: { endpoint: string; bucket: string; accessKey: string; secretKey: string; prefix?: string };
  /**
   * storage.journal.*: `addrs` empty = a journal embedded in this process under
   * `<dataDir>/journal`; `shardPrefix` "" = "broker-<nodeId>" (one broker per prefix).
   */
  journal?: { addrs: readonly string[]; shardPrefix?: string; acks?: JournalAcks; replicas?: number };
  /** node_id, for the journal driver's default shard prefix. */
  nodeId?: number;
}

/** The drivers this build provides. */
export const storageDriverNames = ['memory', 'leveldb', 'journal', 'mysql', 's3'] as const;

export function createStorageDriver(cfg: StorageDriverConfig): StorageDriver {
  switch (cfg.driver) {
    case 'memory':
      return new MemoryStorage();
    case 'leveldb': {
      const opts: { path: string; sync?: boolean } = { path: join(cfg.dataDir, 'broker', 'storage') };
      if (cfg.leveldb?.sync !== undefined) opts.sync = cfg.leveldb.sync;
      return new LevelDbStorage(opts);
    }
    case 'journal': {
      const j = cfg.journal;
      const opts: JournalStorageOptions = {
        addrs: j?.addrs ?? [],
        dataDir: cfg.dataDir,
        shardPrefix: j?.shardPrefix ? j.shardPrefix : `broker-${cfg.nodeId ?? 1}`,
      };
      if (j?.acks !== undefined) opts.acks = j.acks;
      if (j?.replicas !== undefined) opts.replicas = j.replicas;
      return new JournalStorage(opts);
    }
    case 'mysql':
      if (!cfg.mysql?.url) throw new Error('storage.driver = "mysql" needs storage.mysql.url (mysql://user:password@host:port/database)');
      return new MySqlStorage({ url: cfg.mysql.url });
    case 's3': {
      const s3 = cfg.s3;
      if (!s3?.endpoint || !s3.bucket) {
        throw new Error('storage.driver = "s3" needs storage.s3.endpoint, storage.s3.bucket, storage.s3.access_key and storage.s3.secret_key');
      }
      const opts: S3StorageOptions = { endpoint: s3.endpoint, bucket: s3.bucket, accessKey: s3.accessKey, secretKey: s3.secretKey };
      if (s3.prefix !== undefined) opts.prefix = s3.prefix;
      return new S3Storage(opts);
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
export { JournalStorage } from './journal.js';
export { LevelDbStorage } from './leveldb.js';
export { MemoryStorage } from './memory.js';
export { MySqlStorage } from './mysql.js';
export { S3Storage } from './s3.js';
