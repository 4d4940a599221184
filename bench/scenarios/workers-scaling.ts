// How throughput scales with broker processes on one host (`broker start --set workers=N`, see
// broker/workers/): for each N (1 = the single-process broker), interleaved over rounds, a fresh
// broker runs the fan-in QoS 0, QoS 1 end-to-end and QoS 1 ingest scenarios against its one MQTT port. The
// generator is this process, unpinned (pinning the broker to one core would defeat the point),
// so its CPU is reported next to the broker's.
//
//   npm run build && node dist/bench/scenarios/workers-scaling.js [--workers 1,2] [--rounds 3]
//       [--duration 5] [--scenarios fanin-qos0,qos1-e2e,ingest-qos1] [--publishers 50]
//
// Default workers: 1, 2 and os.availableParallelism() when that is more. Broker CPU is the sum
// over the primary and its workers (from /proc), averaged over the whole scenario run (setup,
// warm-up, window); the generator's CPU is over the measured window only. Results: a JSON file in
// bench/results/workers-scaling-<timestamp>.json and a markdown table on stdout.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CpuMeter } from '../loadgen/cpu-meter.js';
import type { MqttConnection } from '../loadgen/mqtt-connection.js';
import { readCpuMs } from '../loadgen/proc-stats.js';
import { makePublishTemplate } from '../loadgen/publish-template.js';
import { Publisher } from '../loadgen/publisher.js';
import { faninQos0 } from './fanin-qos0.js';
import { destroyAll, metric, open, round, runScenario, sleep } from './helpers.js';
import { qosE2e } from './qos-e2e.js';
import { defaultParams, type BrokerTarget, type Scenario, type ScenarioParams, type ScenarioResult } from './types.js';

const distRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * QoS 1 ingest: publishers write flat out (window 500 each) to topics nobody subscribes to, so
 * the broker parses, checks, acknowledges and drops every message. Nothing crosses between
 * workers: this is the share of broker work that spreads over processes with no routing cost.
 * Headline: PUBACKs per second.
 */
function ingestQos1(target: BrokerTarget, params: ScenarioParams): Promise<ScenarioResult> {
  return runScenario('ingest-qos1', target, async (r) => {
    const conns: MqttConnection[] = [];
    const pubs: Publisher[] = [];
    try {
      const n = params.fanInPublishers;
      conns.push(...(await Promise.all(Array.from({ length: n }, () => open(target, 'ingest-pub')))));
      conns.forEach((c, i) => pubs.push(new Publisher(c, { template: makePublishTemplate(`bench/ingest/${i}`, 1, params.payloadSize), publisherIndex: i, batch: 16, window: 500 })));
      for (const p of pubs) p.start();
      await sleep(params.warmupMs);
      const meter = new CpuMeter(target.pid);
      const acked = (): number => pubs.reduce((a, p) => a + p.delivered, 0);
      const a0 = acked();
      meter.start();
      await sleep(params.durationMs);
      const cpu = meter.stop();
      const a1 = acked();
      for (const p of pubs) p.stop();
      r.metrics.push(metric('delivered_msg_s', Math.round(((a1 - a0) / cpu.wallMs) * 1000), 'msg/s', 'higher'));
      r.loadgenCpuPercent = round(cpu.loadgenPercent);
      r.notes.push(`${n} QoS 1 publishers, window 500, no subscribers; delivered = acknowledged`);
      const dropped = conns.filter((c) => c.closed).length;
      if (dropped > 0) r.notes.push(`${dropped} publishers were disconnected during the run`);
    } finally {
      for (const p of pubs) p.stop();
      destroyAll(conns);
    }
  });
}

const SCENARIOS: Readonly<Record<string, Scenario>> = { 'fanin-qos0': faninQos0, 'qos1-e2e': qosE2e(1), 'ingest-qos1': ingestQos1 };

interface Broker {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

function launch(workers: number): Promise<Broker> {
  const dataDir = mkdtempSync(path.join(tmpdir(), `bench-workers-${workers}-`));
  const sets = [`workers=${workers}`, 'mqtt.host=127.0.0.1', 'mqtt.tcp_port=0', 'mqtt.ws_port=-1', 'mqtt.tls_port=-1', 'mqtt.wss_port=-1',
    'admin.http_port=-1', `data_dir=${dataDir}`, 'storage.driver=memory', 'log.level=warn'];
  const child = spawn(process.execPath, [path.join(distRoot, 'bin', 'broker.js'), 'start', ...sets.flatMap((s) => ['--set', s])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => void (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => void stop().then(() => reject(new Error(`workers=${workers}: no listening line in 60 s; stderr: ${err}`))), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening mqtt-tcp \S+:(\d+)$/m.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout!.resume();
      resolve({ child, port: Number(m[1]), stop });
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`workers=${workers}: broker exited before listening; stderr: ${err}`));
    });
  });
}

/** The broker's processes: the one we started and its children (the workers). */
function processTree(root: number): number[] {
  const pids = [root];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === root) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

function treeCpuMs(pids: number[]): number {
  let sum = 0;
  for (const p of pids) sum += readCpuMs(p) ?? 0;
  return sum;
}

interface Row {
  round: number;
  workers: number;
  scenario: string;
  result: ScenarioResult;
  /** All broker processes, percent of one core, over the whole scenario run. */
  brokerTreeCpuPercent: number;
  loadAverage: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (v: number): string => Math.round(v).toLocaleString('en');

function table(rows: Row[], counts: number[], names: string[]): string {
  const lines = [
    '| scenario | workers | delivered msg/s (median) | rounds | vs 1 | broker CPU % (all processes) | generator CPU % |',
    '|---|---:|---:|---|---:|---:|---:|',
  ];
  for (const name of names) {
    let base: number | null = null;
    for (const n of counts) {
      const rs = rows.filter((r) => r.scenario === name && r.workers === n && r.result.ok);
      const vals = rs.map((r) => r.result.metrics.find((m) => m.name === 'delivered_msg_s')?.value ?? 0);
      if (vals.length === 0) {
        lines.push(`| ${name} | ${n} | failed | | | | |`);
        continue;
      }
      const med = median(vals);
      if (n === counts[0]) base = med;
      const ratio = base !== null && base > 0 ? `${(med / base).toFixed(2)}x` : '';
      const bcpu = median(rs.map((r) => r.brokerTreeCpuPercent));
      const gcpu = median(rs.map((r) => r.result.loadgenCpuPercent ?? 0));
      lines.push(`| ${name} | ${n} | ${fmt(med)} | ${vals.map(fmt).join(' / ')} | ${ratio} | ${Math.round(bcpu)} | ${Math.round(gcpu)} |`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      workers: { type: 'string' }, rounds: { type: 'string' }, duration: { type: 'string' },
      scenarios: { type: 'string' }, publishers: { type: 'string' },
    },
  });
  const cores = availableParallelism();
  const defaultCounts = cores > 2 ? [1, 2, cores] : [1, 2];
  const counts = values.workers === undefined ? defaultCounts : values.workers.split(',').map(Number);
  for (const n of counts) if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--workers takes positive integers, got ${values.workers}`);
  const names = (values.scenarios ?? Object.keys(SCENARIOS).join(',')).split(',');
  for (const n of names) if (SCENARIOS[n] === undefined) throw new Error(`unknown scenario ${n}; one of ${Object.keys(SCENARIOS).join(', ')}`);
  const rounds = Number(values.rounds ?? 3);
  const params: ScenarioParams = {
    ...defaultParams,
    durationMs: Number(values.duration ?? 5) * 1000,
    fanInPublishers: Number(values.publishers ?? defaultParams.fanInPublishers),
  };
  const rows: Row[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const n of counts) {
      for (const name of names) {
        const broker = await launch(n);
        try {
          const pids = processTree(broker.child.pid!);
          const cpu0 = treeCpuMs(pids);
          const t0 = performance.now();
          const result = await SCENARIOS[name]!({ name: `workers=${n}`, host: '127.0.0.1', port: broker.port, pid: broker.child.pid ?? null }, params);
          const brokerTreeCpuPercent = ((treeCpuMs(pids) - cpu0) / (performance.now() - t0)) * 100;
          rows.push({ round, workers: n, scenario: name, result, brokerTreeCpuPercent, loadAverage: loadavg()[0]! });
          const headline = result.metrics[0];
          process.stderr.write(`round ${round} workers=${n} ${name}: ${result.ok ? `${headline?.name} ${fmt(headline?.value ?? 0)}` : `failed: ${result.error}`}` +
            ` (broker ${Math.round(brokerTreeCpuPercent)}% over ${pids.length} processes, generator ${Math.round(result.loadgenCpuPercent ?? 0)}%)\n`);
        } finally {
          await broker.stop();
        }
      }
    }
  }
  const out = table(rows, counts, names);
  const resultsDir = path.join(distRoot, '..', 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `workers-scaling-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({
    at: new Date().toISOString(), cores, cpu: cpus()[0]?.model ?? null, counts, rounds, params, rows, table: out,
  }, null, 2) + '\n');
  process.stdout.write(`${out}\n\nwritten ${path.relative(process.cwd(), file)}\n`);
}

await main();
