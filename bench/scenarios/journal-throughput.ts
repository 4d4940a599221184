// Journal engine throughput, measured through the gRPC service: appends (records/s and MB/s for
// 100 B and 1 KiB records, acks=1 and acks=quorum) and sequential reads, beside the raw
// sequential-write speed of the disk the shards live on (the physical limit). Started by
// journal-run.ts, which starts the journal processes; this file only measures.

import fs from 'node:fs';
import path from 'node:path';
import { Acks, JournalClient } from '../../journal/client/index.js';

export interface AppendCase {
  readonly label: string;
  readonly recordBytes: number;
  /** Records per write RPC. */
  readonly batch: number;
  /** Write RPCs in flight. */
  readonly concurrency: number;
  readonly acks: Acks;
}

export interface AppendResult {
  readonly label: string;
  readonly acks: string;
  readonly recordBytes: number;
  readonly batch: number;
  readonly concurrency: number;
  readonly writesPerSec: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface ReadResult {
  readonly recordBytes: number;
  readonly records: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Appends flat out for `ms` (after a short warm-up) and reports the rate. */
export async function measureAppends(client: JournalClient, shard: string, c: AppendCase, ms: number): Promise<AppendResult> {
  const payload = Buffer.alloc(c.recordBytes, 0x61);
  const records = Array.from({ length: c.batch }, () => ({ value: payload }));
  let counting = false;
  let stop = false;
  let writes = 0;
  const lat: number[] = [];
  const worker = async (): Promise<void> => {
    while (!stop) {
      const t = performance.now();
      await client.write(shard, records, { acks: c.acks });
      if (counting) {
        writes++;
        lat.push(performance.now() - t);
      }
    }
  };
  const workers = Array.from({ length: c.concurrency }, worker);
  await new Promise((r) => setTimeout(r, Math.min(1000, ms / 4)));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(workers);
  lat.sort((a, b) => a - b);
  const recordsPerSec = (writes * c.batch) / elapsed;
  return {
    label: c.label,
    acks: Acks[c.acks].toLowerCase(),
    recordBytes: c.recordBytes,
    batch: c.batch,
    concurrency: c.concurrency,
    writesPerSec: writes / elapsed,
    recordsPerSec,
    mbPerSec: (recordsPerSec * c.recordBytes) / 1e6,
    p50Ms: quantile(lat, 0.5),
    p99Ms: quantile(lat, 0.99),
  };
}

/** Reads the whole shard from offset 0, 5,000 records per request. */
export async function measureReads(client: JournalClient, shard: string, recordBytes: number): Promise<ReadResult> {
  let offset = 0;
  const t0 = performance.now();
  for (;;) {
    const r = await client.read(shard, { offset }, { maxRecords: 5000, maxBytes: 8 * 1024 * 1024 });
    if (r.records.length === 0) break;
    offset = r.nextOffset;
  }
  const s = (performance.now() - t0) / 1000;
  return { recordBytes, records: offset, recordsPerSec: offset / s, mbPerSec: (offset * recordBytes) / 1e6 / s };
}

/**
 * The disk's sequential write speed in `dir`: 1 MiB writes, each followed by fdatasync (what a
 * journal with fsync=always at best achieves), for `ms` or 512 MiB.
 */
export function measureRawDisk(dir: string, ms: number): { mbPerSec: number; fsyncsPerSec: number } {
  const file = path.join(dir, `raw-disk-${process.pid}.bin`);
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  const t0 = performance.now();
  try {
    while (performance.now() - t0 < ms && bytes < 512 * 1024 * 1024) {
      fs.writeSync(fd, chunk);
      fs.fdatasyncSync(fd);
      bytes += chunk.length;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  const s = (performance.now() - t0) / 1000;
  // Small synced writes: the fsync rate bounds acks with one in-flight write.
  const fd2 = fs.openSync(file, 'w');
  let syncs = 0;
  const t1 = performance.now();
  try {
    while (performance.now() - t1 < Math.min(ms, 1000)) {
      fs.writeSync(fd2, chunk, 0, 128);
      fs.fdatasyncSync(fd2);
      syncs++;
    }
  } finally {
    fs.closeSync(fd2);
    fs.rmSync(file, { force: true });
  }
  return { mbPerSec: bytes / 1e6 / s, fsyncsPerSec: syncs / ((performance.now() - t1) / 1000) };
}
