import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStorageDriver, storageDriverNames } from '../index.js';
import { JournalStorage } from '../journal.js';
import { LevelDbStorage } from '../leveldb.js';
import { MemoryStorage } from '../memory.js';
import { MySqlStorage } from '../mysql.js';
import { S3Storage } from '../s3.js';

describe('createStorageDriver', () => {
  it('builds the memory driver', () => {
    const d = createStorageDriver({ driver: 'memory', dataDir: '/nonexistent' });
    expect(d).toBeInstanceOf(MemoryStorage);
    expect(d.name).toBe('memory');
  });

  it('builds the leveldb driver under <dataDir>/broker/storage', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'robustmq-create-driver-'));
    try {
      const d = createStorageDriver({ driver: 'leveldb', dataDir, leveldb: { sync: true } });
      expect(d).toBeInstanceOf(LevelDbStorage);
      expect(d.name).toBe('leveldb');
      await d.open();
      expect((await stat(join(dataDir, 'broker', 'storage', 'CURRENT'))).isFile()).toBe(true);
      await d.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown driver and names the ones this build provides', () => {
    expect(() => createStorageDriver({ driver: 'cassandra', dataDir: '.' })).toThrow(
      `unknown storage driver "cassandra": this build provides ${storageDriverNames.join(', ')}`,
    );
  });

  it('builds the mysql and s3 drivers from their config, and names what is missing', () => {
    const m = createStorageDriver({ driver: 'mysql', dataDir: '.', mysql: { url: 'mysql://u:p@127.0.0.1:3306/db' } });
    expect(m).toBeInstanceOf(MySqlStorage);
    expect(m.name).toBe('mysql');
    expect(() => createStorageDriver({ driver: 'mysql', dataDir: '.' })).toThrow('needs storage.mysql.url');
    const s3 = { endpoint: 'http://127.0.0.1:9000', bucket: 'b', accessKey: 'a', secretKey: 's', prefix: 'node-1' };
    const s = createStorageDriver({ driver: 's3', dataDir: '.', s3 });
    expect(s).toBeInstanceOf(S3Storage);
    expect((s as S3Storage).prefix).toBe('node-1/');
    expect(() => createStorageDriver({ driver: 's3', dataDir: '.' })).toThrow('needs storage.s3.endpoint');
  });

  it('builds the journal driver: shard prefix "broker-<node_id>" unless set; a bad prefix is refused', () => {
    const d = createStorageDriver({ driver: 'journal', dataDir: '.', journal: { addrs: ['127.0.0.1:1778'], shardPrefix: '' }, nodeId: 7 });
    expect(d).toBeInstanceOf(JournalStorage);
    expect(d.name).toBe('journal');
    expect((d as JournalStorage).prefix).toBe('broker-7');
    const e = createStorageDriver({ driver: 'journal', dataDir: '.', journal: { addrs: [], shardPrefix: 'edge-a', acks: 'all', replicas: 3 } });
    expect((e as JournalStorage).prefix).toBe('edge-a');
    expect(() => createStorageDriver({ driver: 'journal', dataDir: '.', journal: { addrs: [], shardPrefix: '.hidden' } })).toThrow('shard prefix must be');
  });
});
