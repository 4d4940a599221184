import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createStorageDriver } from '../index.js';
import { LevelDbStorage } from '../leveldb.js';
import { MemoryStorage } from '../memory.js';

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
    expect(() => createStorageDriver({ driver: 'mysql', dataDir: '.' })).toThrow(
      'unknown storage driver "mysql": this build provides memory, leveldb',
    );
  });
});
