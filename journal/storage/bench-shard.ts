// Append/read throughput of one ShardLog, beside the raw sequential write speed of the same disk.
// Run: npm run build && node dist/journal/storage/bench-shard.js [seconds-per-case] [dir]
// Not a test: numbers depend on the machine and whatever else runs on it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ShardLog, type FsyncPolicy } from './index.js';

const seconds = Number(process.argv[2] ?? 2);
const base = fs.mkdtempSync(path.join(process.argv[3] ?? os.tmpdir(), 'bench-shard-'));

interface Case {
  recordBytes: number;
  recordsPerAppend: number;
  inFlight: number;
  fsync: FsyncPolicy;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

async function appendCase(c: Case, n: number): Promise<void> {
  const dir = path.join(base, `append-${n}`);
  const log = await ShardLog.open(dir, { fsync: c.fsync, segment_bytes: 256 * 1024 * 1024 });
  const value = Buffer.alloc(c.recordBytes, 0x61);
  const batch = Array.from({ length: c.recordsPerAppend }, () => ({ value }));
  let appends = 0;
  const started = performance.now();
  const until = started + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      await log.append(batch);
      appends++;
    }
  };
  await Promise.all(Array.from({ length: c.inFlight }, worker));
  const secs = (performance.now() - started) / 1000;
  const records = appends * c.recordsPerAppend;
  console.log(
    `append  ${String(c.recordBytes).padStart(5)} B  x${String(c.recordsPerAppend).padEnd(4)} in-flight ${String(c.inFlight).padEnd(4)} fsync ${c.fsync.padEnd(6)}  ` +
      `${fmt(appends / secs).padStart(9)} appends/s  ${fmt(records / secs).padStart(10)} records/s  ${fmt((records * c.recordBytes) / secs / 1e6).padStart(7)} MB/s`,
  );
  if (c.recordsPerAppend === 100 && c.fsync === 'always') await readCase(log, c.recordBytes);
  await log.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

async function readCase(log: ShardLog, recordBytes: number): Promise<void> {
  let records = 0;
  const started = performance.now();
  for (let o = log.earliestOffset(); o < log.nextOffset(); ) {
    const got = await log.read({ offset: o, maxRecords: 10_000, maxBytes: 4 * 1024 * 1024 });
    records += got.length;
    o = got[got.length - 1]!.offset + 1;
  }
  const secs = (performance.now() - started) / 1000;
  console.log(`read    ${String(recordBytes).padStart(5)} B  sequential from offset 0 (page cache)          ${fmt(records / secs).padStart(10)} records/s  ${fmt((records * recordBytes) / secs / 1e6).padStart(7)} MB/s`);
}

/** The physical limit: 1 MiB sequential writes with one fdatasync per 64 MiB, then per 1 MiB. */
function rawDisk(): void {
  const file = path.join(base, 'raw.bin');
  const chunk = Buffer.alloc(1024 * 1024, 0x62);
  for (const syncEvery of [64, 1]) {
    const fd = fs.openSync(file, 'w');
    let written = 0;
    const started = performance.now();
    const until = started + seconds * 1000;
    let i = 0;
    while (performance.now() < until) {
      fs.writeSync(fd, chunk, 0, chunk.length, written);
      written += chunk.length;
      if (++i % syncEvery === 0) fs.fdatasyncSync(fd);
    }
    fs.fdatasyncSync(fd);
    const secs = (performance.now() - started) / 1000;
    fs.closeSync(fd);
    console.log(`raw disk sequential write, 1 MiB writes, fdatasync every ${String(syncEvery).padEnd(2)} MiB: ${fmt(written / secs / 1e6)} MB/s`);
  }
  fs.rmSync(file, { force: true });
}

const cases: Case[] = [];
for (const recordBytes of [100, 1024]) {
  cases.push({ recordBytes, recordsPerAppend: 1, inFlight: 1, fsync: 'always' });
  cases.push({ recordBytes, recordsPerAppend: 1, inFlight: 256, fsync: 'always' });
  cases.push({ recordBytes, recordsPerAppend: 100, inFlight: 16, fsync: 'always' });
  cases.push({ recordBytes, recordsPerAppend: 1, inFlight: 256, fsync: 'never' });
}

console.log(`bench-shard: ${seconds}s per case, dir ${base}, node ${process.version}, ${os.cpus().length} cpus`);
try {
  rawDisk();
  let n = 0;
  for (const c of cases) await appendCase(c, n++);
} finally {
  fs.rmSync(base, { recursive: true, force: true });
}
