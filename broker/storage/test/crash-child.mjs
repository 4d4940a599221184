// Child process of leveldb-crash.test.ts: applies the crash workload from batch START on, up to
// 8 batches in flight, and prints `ok <k>` as soon as batch k has resolved, until it is killed.
// Usage: node crash-child.mjs MODULE_DIR DB_PATH START sync|nosync
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [modDir, dbPath, startArg, syncArg] = process.argv.slice(2);
const load = (rel) => import(pathToFileURL(join(modDir, rel)).href);
const { LevelDbStorage } = await load('broker/storage/leveldb.js');
const { crashBatch } = await load('broker/storage/test/crash-workload.js');

const storage = new LevelDbStorage({ path: dbPath, sync: syncArg === 'sync' });
await storage.open();
let next = Number(startArg);
// A bound so that a child whose parent vanished cannot run forever.
const limit = next + 200_000;
let inflight = 0;

function fail(e) {
  process.stderr.write(`crash child: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
}

function pump() {
  while (inflight < 8 && next < limit) {
    const k = next++;
    inflight++;
    storage.apply(crashBatch(k)).then(() => {
      // stdout to a pipe is synchronous on Linux: once written, the parent sees it even after SIGKILL.
      process.stdout.write(`ok ${k}\n`);
      inflight--;
      pump();
    }, fail);
  }
}
process.stdout.write('ready\n');
pump();
