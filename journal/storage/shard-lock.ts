// One process per shard directory: two writers on the same segments would interleave batches.
// Node has no flock(), so the lock is a file holding the owner's pid; a lock whose pid is dead
// (the owner was killed) is taken over.
import fs from 'node:fs';
import { JournalStorageError } from './errors.js';
import { isErrno, join } from './fs-io.js';
import { LOCK_FILE } from './segment-files.js';

/** Directories locked by this process (a second ShardLog here would pass the pid check). */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return isErrno(e, 'EPERM');
  }
}

export function acquireShardLock(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  if (heldHere.has(file)) throw new JournalStorageError('JR_SHARD_LOCKED', `${dir} is already open in this process`, { dir });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      heldHere.add(file);
      return () => {
        heldHere.delete(file);
        try {
          fs.unlinkSync(file);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (e: unknown) {
      if (!isErrno(e, 'EEXIST')) throw e;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new JournalStorageError('JR_SHARD_LOCKED', `${dir} is held by live process ${pid}`, { dir, pid });
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new JournalStorageError('JR_SHARD_LOCKED', `could not take the lock on ${dir}`, { dir });
}
