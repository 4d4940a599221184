// The storage benchmark: offline-queue write and drain throughput (storage-offline-queue.ts) for
// every storage driver in one run, each against a real backend started here on free loopback
// ports, then a markdown table.
//
//   npm run build && node dist/bench/scenarios/storage-drivers-run.js [--messages 20000] [--sessions 4]
//       [--payload 256] [--batch 100] [--drivers memory,leveldb,journal,mysql,s3]
//
// Backends: leveldb in a temp directory (sync off, the default); journal = one `journal start`
// process (standalone, fsync on every write, acks quorum of 1 replica); mysql = MariaDB
// (bench/services/mariadb.ts, fsync per commit); s3 = s3rver (bench/services/s3.ts). A driver
// whose backend cannot start (MariaDB not installed, say) is reported as skipped with the reason.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { StorageDriver } from '../../broker/storage/driver.js';
import { JournalStorage } from '../../broker/storage/journal.js';
import { LevelDbStorage } from '../../broker/storage/leveldb.js';
import { MemoryStorage } from '../../broker/storage/memory.js';
import { MySqlStorage } from '../../broker/storage/mysql.js';
import { S3Storage } from '../../broker/storage/s3.js';
import { startMariaDb } from '../services/mariadb.js';
import { startS3Server } from '../services/s3.js';
import { measureOfflineQueue, type OfflineQueueParams, type OfflineQueueResult } from './storage-offline-queue.js';

const distRoot = fileURLToPath(new URL('../../', import.meta.url));
const DRIVERS = ['memory', 'leveldb', 'journal', 'mysql', 's3'] as const;
type DriverName = (typeof DRIVERS)[number];

interface Backend {
  driver: StorageDriver;
  stop(): Promise<void>;
}

function startJournalProcess(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const args = [path.join(distRoot, 'bin', 'journal.js'), 'start', '--set', 'placement.addrs=[]', '--set', 'grpc_port=0', '--set', `data_dir=${dataDir}`, '--set', 'log.level=warn'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening journal-grpc \S+:(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`journal exited with ${code} before listening`)));
  });
}

async function backend(name: DriverName, base: string): Promise<Backend> {
  switch (name) {
    case 'memory':
      return { driver: new MemoryStorage(), stop: async () => undefined };
    case 'leveldb':
      return { driver: new LevelDbStorage({ path: path.join(base, 'leveldb') }), stop: async () => undefined };
    case 'journal': {
      const j = await startJournalProcess(path.join(base, 'journal'));
      return {
        driver: new JournalStorage({ addrs: [`127.0.0.1:${j.port}`], shardPrefix: 'bench' }),
        stop: async () => {
          const gone = new Promise((r) => j.child.once('exit', r));
          j.child.kill('SIGTERM');
          await gone;
        },
      };
    }
    case 'mysql': {
      const db = await startMariaDb();
      return { driver: new MySqlStorage({ url: db.url }), stop: () => db.stop() };
    }
    case 's3': {
      const s3 = await startS3Server();
      return { driver: new S3Storage({ endpoint: s3.endpoint, bucket: s3.bucket, accessKey: s3.accessKey, secretKey: s3.secretKey }), stop: () => s3.stop() };
    }
  }
}

const n = (v: number): string => Math.round(v).toLocaleString('en');

function table(p: OfflineQueueParams, rows: Array<[DriverName, OfflineQueueResult | string]>): string {
  const lines = [
    `Offline queue: ${n(p.messages)} messages of ${p.payloadBytes} B, each queued for ${p.sessions} offline sessions (${n(p.messages * p.sessions)} entries), ${p.batch} messages per apply(), one apply() in flight.`,
    '',
    '| driver | write msg/s | write entries/s | apply() p50 / p99 ms | drain entries/s | read one queue (ms) |',
    '|---|---|---|---|---|---|',
  ];
  for (const [name, r] of rows) {
    if (typeof r === 'string') lines.push(`| ${name} | skipped: ${r} | | | | |`);
    else lines.push(`| ${name} | ${n(r.writeMsgPerSec)} | ${n(r.writeEntriesPerSec)} | ${r.writeP50Ms.toFixed(1)} / ${r.writeP99Ms.toFixed(1)} | ${n(r.drainEntriesPerSec)} | ${n(r.readQueueMs)} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { messages: { type: 'string' }, sessions: { type: 'string' }, payload: { type: 'string' }, batch: { type: 'string' }, drivers: { type: 'string' } },
  });
  const p: OfflineQueueParams = {
    messages: Number(values.messages ?? 20_000),
    sessions: Number(values.sessions ?? 4),
    payloadBytes: Number(values.payload ?? 256),
    batch: Number(values.batch ?? 100),
  };
  for (const [k, v] of Object.entries(p)) if (!Number.isSafeInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
  const names = (values.drivers ?? DRIVERS.join(',')).split(',').map((s) => s.trim()) as DriverName[];
  for (const d of names) if (!DRIVERS.includes(d)) throw new Error(`unknown driver ${d}; one of ${DRIVERS.join(', ')}`);
  const rows: Array<[DriverName, OfflineQueueResult | string]> = [];
  for (const name of names) {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), `storage-bench-${name}-`));
    let b: Backend | null = null;
    try {
      b = await backend(name, base);
      await b.driver.open();
      const r = await measureOfflineQueue(b.driver, p);
      if (r.leftOver !== 0 || r.readEntries !== p.messages * p.sessions) throw new Error(`wrong result: read ${r.readEntries} entries, ${r.leftOver} left over`);
      rows.push([name, r]);
      process.stderr.write(`${name}: write ${n(r.writeMsgPerSec)} msg/s, drain ${n(r.drainEntriesPerSec)} entries/s\n`);
    } catch (e: unknown) {
      const why = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      rows.push([name, why]);
      process.stderr.write(`${name}: ${why}\n`);
    } finally {
      await b?.driver.close().catch(() => undefined);
      await b?.stop().catch(() => undefined);
      fs.rmSync(base, { recursive: true, force: true });
    }
  }
  process.stdout.write(table(p, rows) + '\n');
}

await main();
