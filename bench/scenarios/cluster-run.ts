// The cluster benchmark: what one inter-broker hop costs. Starts real processes on free loopback
// ports (cluster-processes.ts) and runs the measures of cluster-paths.ts against three setups:
//
//   single         a standalone broker; publishers and subscribers on it
//   cluster-local  one placement node + brokers A and B; publishers and subscribers on A
//   cross          the same cluster; publishers on A, subscribers on B (every message crosses the link)
//
//   npm run build && node dist/bench/scenarios/cluster-run.js [--duration 10] [--rounds 3] [--rate 1000]
//       [--publishers 10] [--subscribers 1] [--window 500] [--layout shared|split]
//       [--measures qos0-throughput,qos1-throughput,latency-qos0,latency-qos1] [--setups single,cluster-local,cross]
//
// Rounds are interleaved (measure by measure: single, cluster-local, cross), every run on freshly
// started processes, medians reported. Writes bench/results/cluster-<timestamp>.json (every run)
// and bench/results/cluster-latest.md (the tables), and prints the tables.

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pinSelf, tasksetAvailable } from '../brokers/launch.js';
import { BenchError, errorMessage } from '../loadgen/errors.js';
import { pathLatency, pathThroughput, type PathEnds, type PathParams, type PathResult } from './cluster-paths.js';
import { BenchCluster, BenchStandalone, brokerOverview, type NodeProcess } from './cluster-processes.js';
import { MEASURES, SETUPS, renderClusterMarkdown, summarizeCluster, totalOverRounds, type ClusterRunRecord, type MeasureName, type SetupName } from './cluster-report.js';

const USAGE = `usage: node dist/bench/scenarios/cluster-run.js [options]
  --duration S        measured window per run in seconds (default 10)
  --rounds N          interleaved rounds, medians reported (default 3)
  --rate N            messages/s in the latency measures (default 1000)
  --publishers N      publishers in the throughput measures (default 10)
  --subscribers N     subscribers in every measure (default 1)
  --window N          end-to-end window per QoS 1 publisher (default 500)
  --layout L          shared (default): every broker on CPU 0, load generator and placement on CPU 1;
                      split: standalone and broker A on CPU 0, broker B with load generator and placement on CPU 1
  --measures a,b      subset of ${MEASURES.join(', ')}
  --setups a,b        subset of ${SETUPS.join(', ')}
  --help`;

export type Layout = 'shared' | 'split';

export interface ClusterBenchOptions {
  rounds: number;
  layout: Layout;
  measures: MeasureName[];
  setups: SetupName[];
  params: PathParams;
}

function positive(v: string | undefined, flag: string, dflt: number, integer: boolean): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new BenchError('BENCH_USAGE', `--${flag} needs a positive ${integer ? 'integer' : 'number'}, got ${v}\n${USAGE}`);
  return n;
}

function list<T extends string>(v: string | undefined, flag: string, known: readonly T[]): T[] {
  if (v === undefined) return [...known];
  const picked = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const p of picked) if (!(known as readonly string[]).includes(p)) throw new BenchError('BENCH_USAGE', `unknown ${flag} value ${p}; known: ${known.join(', ')}`);
  if (picked.length === 0) throw new BenchError('BENCH_USAGE', `--${flag} needs at least one of ${known.join(', ')}`);
  return picked as T[];
}

export function parseClusterArgs(argv: string[]): ClusterBenchOptions | 'help' {
  const spec = {
    duration: { type: 'string' },
    rounds: { type: 'string' },
    rate: { type: 'string' },
    publishers: { type: 'string' },
    subscribers: { type: 'string' },
    window: { type: 'string' },
    layout: { type: 'string' },
    measures: { type: 'string' },
    setups: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; strict: true; options: typeof spec }>>;
  try {
    parsed = parseArgs({ args: argv, strict: true, options: spec });
  } catch (err: unknown) {
    throw new BenchError('BENCH_USAGE', `${errorMessage(err)}\n${USAGE}`);
  }
  const values = parsed.values;
  if (values.help === true) return 'help';
  const layout = values.layout ?? 'shared';
  if (layout !== 'shared' && layout !== 'split') throw new BenchError('BENCH_USAGE', `--layout must be shared or split, got ${layout}`);
  const durationMs = Math.round(positive(values.duration, 'duration', 10, false) * 1000);
  return {
    rounds: positive(values.rounds, 'rounds', 3, true),
    layout,
    measures: MEASURES.filter((x) => list(values.measures, 'measures', MEASURES).includes(x)),
    // Always in the interleaving order single, cluster-local, cross, whatever order was typed.
    setups: SETUPS.filter((x) => list(values.setups, 'setups', SETUPS).includes(x)),
    params: {
      durationMs,
      warmupMs: Math.min(1_000, Math.round(durationMs / 5)),
      payloadSize: 64,
      publishers: positive(values.publishers, 'publishers', 10, true),
      subscribers: positive(values.subscribers, 'subscribers', 1, true),
      qosWindow: positive(values.window, 'window', 500, true),
      rate: positive(values.rate, 'rate', 1_000, true),
      settleMs: 10_000,
      routeTimeoutMs: 15_000,
    },
  };
}

/** CPUs for each process, and the lines that explain them in the output. */
export interface CpuPlan {
  loadgen: number | null;
  placement: number | null;
  single: number | null;
  brokerA: number | null;
  brokerB: number | null;
  lines: string[];
}

export function cpuPlan(layout: Layout, pinned: boolean, why: string): CpuPlan {
  if (!pinned) {
    return { loadgen: null, placement: null, single: null, brokerA: null, brokerB: null, lines: [`unpinned: ${why}; every process may run on any CPU`] };
  }
  if (layout === 'shared') {
    return {
      loadgen: 1,
      placement: 1,
      single: 0,
      brokerA: 0,
      brokerB: 0,
      lines: [
        'CPU 0: the broker processes: the standalone broker (single), or cluster brokers A and B together (cluster-local, cross) — taskset -c 0',
        'CPU 1: this load generator (taskset -a -p -c 1) and the placement node (taskset -c 1; idle during a window apart from heartbeats and route updates)',
        'so `cross` has the same one core for its two brokers that `single` has for its one: the work the hop adds shows as lower throughput instead of being absorbed by a second core',
      ],
    };
  }
  return {
    loadgen: 1,
    placement: 1,
    single: 0,
    brokerA: 0,
    brokerB: 1,
    lines: [
      'CPU 0: the standalone broker (single) or cluster broker A — taskset -c 0',
      'CPU 1: cluster broker B, this load generator and the placement node — taskset -c 1',
      '`cross` gets two cores for its brokers, but B competes with the load generator for CPU 1',
    ],
  };
}

/** Whatever is running now, so SIGINT and the exit handler can stop it. */
let running: BenchCluster | BenchStandalone | null = null;

async function runOne(measure: MeasureName, setup: SetupName, plan: CpuPlan, params: PathParams): Promise<{ result: PathResult; died: ClusterRunRecord['brokerDied'] }> {
  let env: BenchCluster | BenchStandalone;
  try {
    env = setup === 'single' ? await BenchStandalone.start(plan.single) : await BenchCluster.start({ placementCore: plan.placement, brokerCores: [plan.brokerA, plan.brokerB] });
  } catch (err: unknown) {
    const result: PathResult = { scenario: measure, broker: setup, ok: false, error: `processes did not start: ${errorMessage(err)}`, metrics: [], loadgenCpuPercent: null, brokerCpuPercent: null, notes: [], wallMs: 0, brokerCpu: {} };
    return { result, died: null };
  }
  running = env;
  let result: PathResult | null = null;
  try {
    const target = (label: string, port: number, pid: number) => ({ name: label, host: '127.0.0.1', port, pid });
    let ends: PathEnds;
    if (env instanceof BenchStandalone) {
      const b = env.broker;
      const t = target('standalone', b.ports.get('mqtt-tcp')!, b.pid);
      ends = { name: setup, publishTo: t, subscribeTo: t, brokers: [{ label: 'broker', pid: b.pid }] };
    } else {
      const [a, b] = env.brokers;
      const ta = target('broker A', a.ports.get('mqtt-tcp')!, a.pid);
      const tb = target('broker B', b.ports.get('mqtt-tcp')!, b.pid);
      ends = { name: setup, publishTo: ta, subscribeTo: setup === 'cross' ? tb : ta, brokers: [{ label: 'A', pid: a.pid }, { label: 'B', pid: b.pid }] };
    }
    result =
      measure === 'qos0-throughput' ? await pathThroughput(0, ends, params)
      : measure === 'qos1-throughput' ? await pathThroughput(1, ends, params)
      : measure === 'latency-qos0' ? await pathLatency(0, ends, params)
      : await pathLatency(1, ends, params);
    await addBrokerCounters(result, env instanceof BenchStandalone ? [['broker', env.broker]] : [['A', env.brokers[0]], ['B', env.brokers[1]]]);
    const procs = env instanceof BenchStandalone ? [env.broker] : [...env.brokers, env.placement];
    for (const p of procs) {
      const logged = notableLogLines(p.stderrTail());
      if (logged.length > 0) result.notes.push(`${p.label} logged: ${logged.slice(-2).join(' | ').slice(0, 400)}`);
    }
    const dead = procs.find((p) => p.exit !== null);
    if (dead !== undefined) result.notes.push(`${dead.label} exited during the run (code ${dead.exit!.code}, signal ${dead.exit!.signal}): ${dead.stderrTail().trim().slice(-300)}`);
    const died = dead === undefined ? null : { code: dead.exit!.code, signal: dead.exit!.signal };
    return { result, died };
  } finally {
    const stopNotes = await env.stop();
    running = null;
    result?.notes.push(...stopNotes);
  }
}

/**
 * Reads every broker's counters after a run: messages a broker dropped (QoS 0 past a
 * subscriber's outbound buffer, full queues, too large) are where undelivered messages went.
 */
async function addBrokerCounters(result: PathResult, brokers: Array<[string, NodeProcess]>): Promise<void> {
  const counters: Record<string, Record<string, number> | null> = {};
  let dropped: number | null = 0;
  for (const [label, b] of brokers) {
    const o = await brokerOverview(b);
    counters[label] = o;
    const d = o?.messages_dropped;
    if (typeof d !== 'number') dropped = null;
    else {
      if (dropped !== null) dropped += d;
      if (d > 0) result.notes.push(`broker ${label} dropped ${d} messages (admin counter messages_dropped; slow consumers: ${o?.slow_consumers ?? '?'})`);
    }
  }
  result.brokerCounters = counters;
  result.metrics.push({ name: 'dropped_by_brokers', value: dropped, unit: 'msgs', better: 'info' });
}

/** Warnings and errors a process wrote (log.level = warn), minus the quick-start warning every broker prints. */
export function notableLogLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.includes('anonymous access is on'));
}

function headline(r: PathResult): string {
  if (!r.ok) return `FAILED: ${r.error ?? 'unknown error'}`;
  const m = r.metrics.slice(0, 2).map((x) => `${x.name}=${x.value ?? '—'}`);
  const cpu = Object.entries(r.brokerCpu).map(([k, v]) => `${k} ${v ?? '?'}%`).join(', ');
  return `${m.join(' ')} (cpu loadgen ${r.loadgenCpuPercent ?? '?'}%, ${cpu})`;
}

export async function runClusterBench(opts: ClusterBenchOptions, command: string, log: (line: string) => void): Promise<{ runs: ClusterRunRecord[]; markdown: string; jsonPath: string; mdPath: string; ok: boolean }> {
  // Read before pinning: afterwards this process sees only its own CPU.
  const machine = `${cpus().length} CPU (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB`;
  let pinned = false;
  let why = '';
  if (availableParallelism() < 2) why = `only ${availableParallelism()} CPU available`;
  else if (!tasksetAvailable()) why = 'taskset not found (install util-linux)';
  else if (!pinSelf(1)) why = "taskset could not set this process's affinity";
  else pinned = true;
  const plan = cpuPlan(opts.layout, pinned, why);
  for (const l of plan.lines) log(l);

  const load0 = loadavg()[0]!;
  const started = new Date();
  const runs: ClusterRunRecord[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const measure of opts.measures) {
      for (const setup of opts.setups) {
        const { result, died } = await runOne(measure, setup, plan, opts.params);
        runs.push({ round, scenario: measure, broker: setup, result, brokerDied: died });
        log(`[round ${round}/${opts.rounds}] ${measure} @ ${setup}: ${headline(result)}`);
      }
    }
  }

  const notes: string[] = [];
  if (!pinned) notes.push(`unpinned: ${why}`);
  const markdown = renderClusterMarkdown(runs, {
    command,
    date: started.toISOString(),
    machine,
    placement: plan.lines,
    rounds: opts.rounds,
    durationS: opts.params.durationMs / 1000,
    rate: opts.params.rate,
    publishers: opts.params.publishers,
    subscribers: opts.params.subscribers,
    versions: { node: process.version },
    loadAverage: { start: load0, end: loadavg()[0]! },
    notes,
  });
  const resultsDir = fileURLToPath(new URL('../../../bench/results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const jsonPath = join(resultsDir, `cluster-${stamp}.json`);
  const mdPath = join(resultsDir, 'cluster-latest.md');
  const summaries = summarizeCluster(runs);
  writeFileSync(jsonPath, `${JSON.stringify({ command, started: started.toISOString(), finished: new Date().toISOString(), machine, cpuPlacement: plan.lines, loadAverage: { start: load0, end: loadavg()[0] }, options: opts, runs, summaries }, null, 2)}\n`);
  writeFileSync(mdPath, markdown);
  // A failed run, a broker that died, or a lost QoS 1 message fails the benchmark.
  const lossless = ['qos1-throughput', 'latency-qos1'].every((s) => {
    const m = summaries.find((x) => x.scenario === s)?.metrics.find((x) => x.metric === 'lost');
    return opts.setups.every((setup) => (totalOverRounds(m, setup) ?? 0) === 0);
  });
  const ok = lossless && runs.every((r) => r.result.ok && r.brokerDied === null);
  return { runs, markdown, jsonPath, mdPath, ok };
}

async function main(): Promise<number> {
  let opts: ClusterBenchOptions;
  try {
    const parsed = parseClusterArgs(process.argv.slice(2));
    if (parsed === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    opts = parsed;
  } catch (err: unknown) {
    process.stderr.write(`${errorMessage(err)}\n`);
    return 2;
  }
  const stopOnSignal = (): void => {
    void (running?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);
  // Never leave a process behind, even when this one dies of an uncaught error.
  process.on('exit', () => {
    for (const pid of running?.pids() ?? []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const command = `node dist/bench/scenarios/cluster-run.js ${process.argv.slice(2).join(' ')}`.trim();
  const r = await runClusterBench(opts, command, log);
  log('');
  log(r.markdown);
  log(`results: ${r.jsonPath} and ${r.mdPath}`);
  return r.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Exit explicitly: a wedged connection must not keep the benchmark alive.
  process.exit(await main());
}
