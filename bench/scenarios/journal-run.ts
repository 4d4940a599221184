// The journal benchmark: starts journal processes (and a placement process for the replicated
// case), runs journal-throughput.ts against them and prints a markdown table.
//
//   npm run build && node dist/bench/scenarios/journal-run.js [--seconds 5] [--dir /path/on/the/disk]
//
// Setups: "single" = one standalone node (placement.addrs = [], replicas = 1); "3 nodes" = three
// journal processes on this machine with one placement process, shards with replicas = 3. All
// processes share this machine's cores, so the replicated numbers include three nodes' CPU.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Acks, JournalClient } from '../../journal/client/index.js';
import { measureAppends, measureRawDisk, measureReads, type AppendCase, type AppendResult, type ReadResult } from './journal-throughput.js';

const distRoot = fileURLToPath(new URL('../../', import.meta.url));

interface Proc {
  child: ChildProcess;
  port: number;
}

function start(bin: 'journal' | 'placement', listener: string, sets: Record<string, string>): Promise<Proc> {
  const args = [path.join(distRoot, 'bin', `${bin}.js`), 'start', ...Object.entries(sets).flatMap(([k, v]) => ['--set', `${k}=${v}`])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = new RegExp(`listening ${listener} \\S+:(\\d+)`).exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once('exit', (code) => reject(new Error(`${bin} exited with ${code} before listening`)));
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const cases = (acks: Acks): AppendCase[] => [
  { label: '100 B, 1/write, 64 in flight', recordBytes: 100, batch: 1, concurrency: 64, acks },
  { label: '100 B, 100/write, 8 in flight', recordBytes: 100, batch: 100, concurrency: 8, acks },
  { label: '1 KiB, 1/write, 64 in flight', recordBytes: 1024, batch: 1, concurrency: 64, acks },
  { label: '1 KiB, 100/write, 8 in flight', recordBytes: 1024, batch: 100, concurrency: 8, acks },
];

async function runSetup(client: JournalClient, replicas: number, acksList: Acks[], ms: number, tag: string): Promise<{ appends: AppendResult[]; reads: ReadResult[] }> {
  const appends: AppendResult[] = [];
  const reads: ReadResult[] = [];
  let n = 0;
  for (const acks of acksList) {
    for (const c of cases(acks)) {
      const shard = `bench-${tag}-${n++}`;
      await client.createShard(shard, { replicas });
      const r = await measureAppends(client, shard, c, ms);
      appends.push(r);
      process.stderr.write(`${tag} acks=${r.acks} ${c.label}: ${Math.round(r.recordsPerSec)} records/s, ${r.mbPerSec.toFixed(1)} MB/s\n`);
      if (c.batch === 100 && acks === acksList[0]) reads.push(await measureReads(client, shard, c.recordBytes));
      await client.deleteShard(shard);
    }
  }
  return { appends, reads };
}

function table(title: string, appends: AppendResult[], reads: ReadResult[]): string {
  const rows = appends.map((a) => `| ${a.label} | ${a.acks} | ${Math.round(a.writesPerSec).toLocaleString('en')} | ${Math.round(a.recordsPerSec).toLocaleString('en')} | ${a.mbPerSec.toFixed(1)} | ${a.p50Ms.toFixed(1)} / ${a.p99Ms.toFixed(1)} |`);
  const readRows = reads.map((r) => `| read ${r.recordBytes} B records sequentially (${r.records.toLocaleString('en')}) | - | - | ${Math.round(r.recordsPerSec).toLocaleString('en')} | ${r.mbPerSec.toFixed(1)} | - |`);
  return [`### ${title}`, '', '| case | acks | writes/s | records/s | MB/s | write p50 / p99 ms |', '|---|---|---|---|---|---|', ...rows, ...readRows, ''].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, dir: { type: 'string' }, only: { type: 'string' } } });
  const ms = Number(values.seconds ?? 5) * 1000;
  const base = fs.mkdtempSync(path.join(values.dir ?? os.tmpdir(), 'journal-bench-'));
  const out: string[] = [];
  try {
    const raw = measureRawDisk(base, Math.min(ms, 3000));
    out.push(`Raw disk in ${base}: ${raw.mbPerSec.toFixed(0)} MB/s sequential (1 MiB writes + fdatasync each), ${Math.round(raw.fsyncsPerSec)} fdatasync/s with 128-byte writes.`, '');

    if (values.only !== '3') {
      const single = await start('journal', 'journal-grpc', { grpc_port: '0', data_dir: path.join(base, 'single'), 'placement.addrs': '[]', 'log.level': 'warn' });
      const client = new JournalClient({ addrs: [`127.0.0.1:${single.port}`] });
      try {
        const r = await runSetup(client, 1, [Acks.ONE], ms, 'single');
        out.push(table('single node (standalone, fsync always)', r.appends, r.reads));
      } finally {
        client.close();
        await stop(single);
      }
    }
    if (values.only !== '1') {
      const pport = await freePort();
      const placement = await start('placement', 'placement-grpc', { grpc_port: String(pport), 'raft.peers': `["1@127.0.0.1:${pport}"]`, data_dir: path.join(base, 'placement'), 'log.level': 'warn' });
      const nodes: Proc[] = [];
      try {
        for (let id = 1; id <= 3; id++) {
          nodes.push(await start('journal', 'journal-grpc', { node_id: String(id), grpc_port: '0', data_dir: path.join(base, `n${id}`), 'placement.addrs': `["127.0.0.1:${pport}"]`, 'log.level': 'warn' }));
        }
        const client = new JournalClient({ addrs: nodes.map((n) => `127.0.0.1:${n.port}`), retryForMs: 10_000 });
        try {
          const r = await runSetup(client, 3, [Acks.ONE, Acks.QUORUM], ms, 'r3');
          out.push(table('three nodes on this machine, replicas = 3 (fsync always on each)', r.appends, r.reads));
        } finally {
          client.close();
        }
      } finally {
        for (const n of nodes) await stop(n);
        await stop(placement);
      }
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
  process.stdout.write(out.join('\n') + '\n');
}

await main();
