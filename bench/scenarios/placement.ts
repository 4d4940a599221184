// Placement benchmark: write and read throughput and latency of a three-node placement group on
// this machine (three `node dist/bin/placement.js` processes on loopback, fsync on). Not a broker
// scenario, so it has its own entry point rather than a row in index.ts:
//
//   npm run build && node dist/bench/scenarios/placement.js [--seconds 10] [--concurrency 256] [--value-bytes 64]
//
// Writes: `concurrency` requests kept in flight (over 8 client channels), kvSet of distinct keys,
// for `seconds`. Reads: the same for kvGet (linearizable, ReadIndex). Latency is per request,
// call to response, in microseconds in an HdrHistogram-style histogram; printed as JSON.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { GrpcPlacementClient } from '../../placement/client/grpc-client.js';
import { Histogram } from '../loadgen/histogram.js';

export interface PlacementBenchOptions {
  readonly seconds: number;
  readonly concurrency: number;
  readonly valueBytes: number;
  /** Path of dist/bin/placement.js. */
  readonly binPath: string;
}

export interface PhaseResult {
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Free loopback ports for the three members (the peers list needs them before start). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((r) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => r(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function startCluster(binPath: string, dir: string): Promise<{ children: ChildProcess[]; addresses: string[] }> {
  const ports = await freePorts(3);
  const peers = JSON.stringify(ports.map((p, i) => `${i + 1}@127.0.0.1:${p}`));
  const children = ports.map((port, i) =>
    spawn(process.execPath, [binPath, 'start', '--set', `node_id=${i + 1}`, '--set', `grpc_port=${port}`, '--set', `data_dir=${join(dir, `n${i + 1}`)}`, '--set', `raft.peers=${peers}`, '--set', 'log.level=warn'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((ok, fail) => {
          let out = '';
          c.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('listening placement-grpc')) ok();
          });
          c.once('exit', (code) => fail(new Error(`placement exited with ${code} before listening`)));
        }),
    ),
  );
  return { children, addresses: ports.map((p) => `127.0.0.1:${p}`) };
}

async function phase(clients: GrpcPlacementClient[], opts: PlacementBenchOptions, op: (c: GrpcPlacementClient, i: number) => Promise<unknown>): Promise<PhaseResult> {
  const hist = new Histogram();
  let ops = 0;
  let errors = 0;
  let seq = 0;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      const c = clients[w % clients.length]!;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op(c, seq++);
          hist.record((performance.now() - t0) * 1000);
          ops++;
        } catch {
          errors++;
        }
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  return { ops, opsPerSecond: Math.round(ops / secs), errors, p50Ms: hist.percentile(50) / 1000, p99Ms: hist.percentile(99) / 1000, maxMs: hist.max / 1000 };
}

export async function runPlacementBench(opts: PlacementBenchOptions): Promise<{ writes: PhaseResult; reads: PhaseResult }> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-bench-'));
  const { children, addresses } = await startCluster(opts.binPath, dir);
  const clients = Array.from({ length: 8 }, () => new GrpcPlacementClient({ addresses, timeoutMs: 10_000 }));
  try {
    await clients[0]!.kvSet('warmup', 'x');
    const value = new Uint8Array(opts.valueBytes).fill(120);
    const keys = 10_000;
    const writes = await phase(clients, opts, (c, i) => c.kvSet(`bench/${i % keys}`, value));
    const reads = await phase(clients, opts, (c, i) => c.kvGet(`bench/${i % keys}`));
    return { writes, reads };
  } finally {
    for (const c of clients) await c.close();
    await Promise.all(children.map((c) => new Promise<void>((r) => (c.exitCode !== null ? r() : (c.once('exit', () => r()), c.kill('SIGTERM'))))));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '256' }, 'value-bytes': { type: 'string', default: '64' } },
  });
  const root = resolve(import.meta.dirname, '../../..');
  const result = await runPlacementBench({
    seconds: Number(values.seconds),
    concurrency: Number(values.concurrency),
    valueBytes: Number(values['value-bytes']),
    binPath: join(root, 'dist', 'bin', 'placement.js'),
  });
  console.log(JSON.stringify(result, null, 2));
}
