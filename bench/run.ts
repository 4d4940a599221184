import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  BROKER_NAMES,
  ensureMosquitto,
  isOurs,
  launchBroker,
  mosquittoVersion,
  oursEntry,
  pinSelf,
  tasksetAvailable,
  type BrokerName,
  type BrokerProcess,
} from './brokers/launch.js';
import { BenchError, errorMessage } from './loadgen/errors.js';
import { openFilesLimit } from './loadgen/proc-stats.js';
import { renderMarkdown, type RunNote } from './report/markdown.js';
import { summarize, type RunRecord } from './report/summary.js';
import { defaultParams, defaultScenarioNames, quickParams, scenarios, type ScenarioParams, type ScenarioResult } from './scenarios/index.js';

const USAGE = `usage: npm run bench -- [options]
  --compare              ours, mosquitto and aedes side by side (installs mosquitto if missing, as root)
  --brokers a,b          any of ${BROKER_NAMES.join(', ')} (default: ours);
                         ours-auth = ours with anonymous access off, ACL no_match=deny, one user, ACL rules
  --scenarios a,b        any of ${Object.keys(scenarios).join(', ')}
                         (default: all but generator-ceiling, which always runs against the null sink)
  --rounds N             interleaved rounds, medians reported (default 3, --quick 1)
  --duration S           measured window per run in seconds (default 10, --quick 2)
  --quick                small sizes and short windows, for a smoke run
  --connections N        idle-connections size (default 10000; needs ulimit -n above N)
  --help`;

/** Broker CPU 0, load generator CPU 1 (the setup on a 2-core machine). */
const BROKER_CORE = 0;
const LOADGEN_CORE = 1;

interface Options {
  brokers: BrokerName[];
  scenarios: string[];
  rounds: number;
  params: ScenarioParams;
  quick: boolean;
}

function parseList(v: string | undefined, flag: string): string[] {
  if (v === undefined || v.startsWith('--')) throw new BenchError('BENCH_USAGE', `${flag} needs a value\n${USAGE}`);
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseNumber(v: string | undefined, flag: string, min: number): number {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < min) throw new BenchError('BENCH_USAGE', `${flag} needs a number >= ${min}, got ${v ?? 'nothing'}`);
  return n;
}

export function parseArgs(argv: string[]): Options | 'help' {
  let compare = false;
  let quick = false;
  let brokers: string[] | null = null;
  let names: string[] | null = null;
  let rounds: number | null = null;
  let duration: number | null = null;
  let connections: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--compare':
        compare = true;
        break;
      case '--quick':
        quick = true;
        break;
      case '--brokers':
        brokers = parseList(argv[++i], a);
        break;
      case '--scenarios':
        names = parseList(argv[++i], a);
        break;
      case '--rounds':
        rounds = Math.floor(parseNumber(argv[++i], a, 1));
        break;
      case '--duration':
        duration = parseNumber(argv[++i], a, 0.1);
        break;
      case '--connections':
        connections = Math.floor(parseNumber(argv[++i], a, 1));
        break;
      case '--help':
      case '-h':
        return 'help';
      default:
        throw new BenchError('BENCH_USAGE', `unknown option ${a}\n${USAGE}`);
    }
  }
  const chosen = brokers ?? (compare ? ['ours', 'mosquitto', 'aedes'] : ['ours']);
  for (const b of chosen) {
    if (!(BROKER_NAMES as readonly string[]).includes(b)) throw new BenchError('BENCH_USAGE', `unknown broker ${b}; known: ${BROKER_NAMES.join(', ')}`);
  }
  const picked = names ?? defaultScenarioNames;
  for (const s of picked) {
    if (!(s in scenarios)) throw new BenchError('BENCH_USAGE', `unknown scenario ${s}; known: ${Object.keys(scenarios).join(', ')}`);
  }
  const params: ScenarioParams = { ...(quick ? quickParams : defaultParams) };
  if (duration !== null) {
    params.durationMs = Math.round(duration * 1000);
    params.warmupMs = Math.min(params.warmupMs, Math.round(params.durationMs / 5));
  }
  if (connections !== null) params.idleConnections = connections;
  return { brokers: chosen as BrokerName[], scenarios: picked, rounds: rounds ?? (quick ? 1 : 3), params, quick };
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function headline(r: ScenarioResult): string {
  if (!r.ok) return `FAILED: ${r.error ?? 'unknown error'}`;
  const m = r.metrics.slice(0, 2).map((x) => `${x.name}=${x.value ?? '—'}`);
  return `${m.join(' ')} (cpu loadgen ${r.loadgenCpuPercent ?? '?'}% / broker ${r.brokerCpuPercent ?? '?'}%)`;
}

/**
 * Notes for the table: each scenario's setup line (its first note) from round 1 only, and every
 * other note (disconnects, early stops, deaths) once per scenario and broker. The JSON has all.
 */
function distinctNotes(runs: RunRecord[]): RunNote[] {
  const seen = new Set<string>();
  const out: RunNote[] = [];
  for (const r of runs) {
    const notes = r.round === 1 ? r.result.notes : r.result.notes.slice(1);
    for (const note of notes) {
      const key = `${r.scenario}\u0000${r.broker}\u0000${note}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ scenario: r.scenario, broker: r.broker, note });
    }
  }
  return out;
}

let current: BrokerProcess | null = null;

async function runOne(broker: BrokerName, scenario: string, opts: Options, core: number | null, mosquittoBin: string | undefined): Promise<Omit<RunRecord, 'round'>> {
  let proc: BrokerProcess;
  try {
    proc = await launchBroker(broker, { core }, mosquittoBin);
  } catch (err: unknown) {
    const result: ScenarioResult = {
      scenario,
      broker,
      ok: false,
      error: `broker did not start: ${errorMessage(err)}`,
      metrics: [],
      loadgenCpuPercent: null,
      brokerCpuPercent: null,
      notes: [],
      wallMs: 0,
    };
    return { scenario, broker, result, brokerDied: null };
  }
  current = proc;
  try {
    const target = { name: broker, host: proc.host, port: proc.port, pid: proc.pid, credentials: proc.credentials };
    const result = await scenarios[scenario](target, opts.params);
    const died = proc.exit;
    if (died !== null) result.notes.push(`broker exited during the run (code ${died.code}, signal ${died.signal}): ${proc.stderrTail().trim().slice(-300)}`);
    return { scenario, broker, result, brokerDied: died === null ? null : { code: died.code, signal: died.signal } };
  } finally {
    await proc.stop();
    current = null;
  }
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    const parsed = parseArgs(process.argv.slice(2));
    if (parsed === 'help') {
      log(USAGE);
      return 0;
    }
    opts = parsed;
  } catch (err: unknown) {
    process.stderr.write(`${errorMessage(err)}\n`);
    return 2;
  }

  const notes: string[] = [];
  const versions: Record<string, string> = { node: process.version };
  let brokers = [...opts.brokers];
  if (brokers.some(isOurs) && !existsSync(oursEntry())) {
    notes.push(`${brokers.filter(isOurs).join(', ')}: ${oursEntry()} not found (broker not built yet), skipped`);
    brokers = brokers.filter((b) => !isOurs(b));
  }
  let mosquittoBin: string | undefined;
  if (brokers.includes('mosquitto')) {
    const m = ensureMosquitto(log);
    if ('reason' in m) {
      notes.push(`mosquitto skipped: ${m.reason}`);
      brokers = brokers.filter((b) => b !== 'mosquitto');
    } else {
      mosquittoBin = m.bin;
      versions.mosquitto = mosquittoVersion(m.bin) ?? 'unknown';
    }
  }
  const nonCeiling = opts.scenarios.filter((s) => s !== 'generator-ceiling');
  if (brokers.length === 0 && nonCeiling.length > 0) {
    for (const n of notes) log(n);
    process.stderr.write('no broker left to benchmark\n');
    return 1;
  }

  // Read before pinning: afterwards this process sees only its own CPU.
  const machine = `${cpus().length} CPU (${cpus()[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB`;
  let core: number | null = null;
  let pinning: string;
  if (availableParallelism() < 2) {
    pinning = `unpinned: only ${availableParallelism()} CPU available`;
  } else if (!tasksetAvailable()) {
    pinning = 'unpinned: taskset not found (install util-linux)';
  } else if (!pinSelf(LOADGEN_CORE)) {
    pinning = 'unpinned: taskset could not set this process\'s affinity';
  } else {
    core = BROKER_CORE;
    pinning = `broker on CPU ${BROKER_CORE}, load generator on CPU ${LOADGEN_CORE} (taskset)`;
  }
  notes.push(pinning);
  const fdLimit = openFilesLimit();
  if (opts.scenarios.includes('idle-connections') && fdLimit !== null && fdLimit < opts.params.idleConnections + 128) {
    notes.push(`ulimit -n is ${fdLimit}: idle-connections with ${opts.params.idleConnections} connections will fail; raise it first (ulimit -n ${opts.params.idleConnections * 2})`);
  }
  for (const n of notes) log(n);

  const stopOnSignal = (): void => {
    void (current?.stop() ?? Promise.resolve()).then(() => process.exit(130));
  };
  process.on('SIGINT', stopOnSignal);
  process.on('SIGTERM', stopOnSignal);
  // Never leave a broker behind, even when this process dies of an uncaught error.
  process.on('exit', () => {
    if (current !== null && current.exit === null) {
      try {
        process.kill(current.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  const started = new Date();
  const runs: RunRecord[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const scenario of opts.scenarios) {
      // The generator's ceiling is measured against the null sink only.
      const targets: BrokerName[] = scenario === 'generator-ceiling' ? ['sink'] : brokers;
      for (const broker of targets) {
        const rec = await runOne(broker, scenario, opts, core, mosquittoBin);
        runs.push({ round, ...rec });
        log(`[round ${round}/${opts.rounds}] ${scenario} @ ${broker}: ${headline(rec.result)}`);
      }
    }
  }

  const brokerOrder = ['ours', 'ours-auth', 'mosquitto', 'aedes', 'sink'];
  const summaries = summarize(runs, opts.scenarios, brokerOrder);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const md = renderMarkdown(summaries, {
    command,
    date: started.toISOString(),
    machine,
    pinning,
    rounds: opts.rounds,
    durationS: opts.params.durationMs / 1000,
    versions,
    runNotes: notes,
    notes: distinctNotes(runs),
  });
  const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const jsonPath = join(resultsDir, `${stamp}.json`);
  writeFileSync(
    jsonPath,
    `${JSON.stringify({ command, started: started.toISOString(), finished: new Date().toISOString(), machine, pinning, notes, versions, options: opts, runs, summaries }, null, 2)}\n`,
  );
  writeFileSync(join(resultsDir, 'latest.md'), md);
  log('');
  log(md);
  log(`results: ${jsonPath} and ${join(resultsDir, 'latest.md')}`);
  // A comparator failing (Aedes dying under overload) is a finding; our broker or the sink failing
  // is a failure of the run.
  return runs.some((r) => (isOurs(r.broker) || r.broker === 'sink') && (!r.result.ok || r.brokerDied !== null)) ? 1 : 0;
}

// Exit explicitly: a wedged broker connection must not keep the benchmark alive.
process.exit(await main());
