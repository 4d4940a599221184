import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageConformanceSuite } from '../conformance.js';
import { LevelDbStorage } from '../leveldb.js';

storageConformanceSuite(
  'leveldb',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'robustmq-leveldb-'));
    let current = new LevelDbStorage({ path: dir });
    await current.open();
    return {
      driver: current,
      // A new instance over the same directory: reference counts are rebuilt from disk.
      reopen: async () => {
        current = new LevelDbStorage({ path: dir });
        await current.open();
        return current;
      },
      cleanup: async () => {
        await current.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
  { modelRuns: 60 },
);
