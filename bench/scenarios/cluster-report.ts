import { formatNumber } from '../report/markdown.js';
import { median, ratio, summarize, type MetricSummary, type RunRecord, type ScenarioSummary } from '../report/summary.js';
import type { PathResult } from './cluster-paths.js';

/**
 * The cluster benchmark's tables. Runs are grouped as the main runner's are (`summarize`), with
 * the setup in the broker column: `single` (a standalone broker, both ends on it),
 * `cluster-local` (both ends on broker A of a two-broker cluster), `cross` (publishers on A,
 * subscribers on B: one inter-broker hop per message).
 */
export const SETUPS = ['single', 'cluster-local', 'cross'] as const;
export type SetupName = (typeof SETUPS)[number];

export const MEASURES = ['qos0-throughput', 'qos1-throughput', 'latency-qos0', 'latency-qos1'] as const;
export type MeasureName = (typeof MEASURES)[number];

export interface ClusterRunRecord extends RunRecord {
  result: PathResult;
}

export interface ClusterReportContext {
  command: string;
  date: string;
  machine: string;
  /** One line per CPU: what runs on it. */
  placement: string[];
  rounds: number;
  durationS: number;
  rate: number;
  publishers: number;
  subscribers: number;
  versions: Record<string, string>;
  loadAverage: { start: number; end: number };
  notes: string[];
}

export interface HopDelta {
  qos: 0 | 1;
  metric: 'p50_ms' | 'p99_ms' | 'max_ms';
  /** cross minus cluster-local, and cross minus single (medians), in ms. */
  vsClusterLocal: number | null;
  vsSingle: number | null;
}

function find(summaries: ScenarioSummary[], scenario: string, metricName: string): MetricSummary | undefined {
  return summaries.find((s) => s.scenario === scenario)?.metrics.find((m) => m.metric === metricName);
}

function diff(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined ? null : Math.round((a - b) * 1000) / 1000;
}

/** The latency the hop adds: differences of the medians of p50, p99 and max. */
export function hopDeltas(summaries: ScenarioSummary[]): HopDelta[] {
  const out: HopDelta[] = [];
  for (const qos of [0, 1] as const) {
    for (const metricName of ['p50_ms', 'p99_ms', 'max_ms'] as const) {
      const m = find(summaries, `latency-qos${qos}`, metricName);
      if (m === undefined) continue;
      out.push({ qos, metric: metricName, vsClusterLocal: diff(m.medians.cross, m.medians['cluster-local']), vsSingle: diff(m.medians.cross, m.medians.single) });
    }
  }
  return out;
}

/** Sum over every round of a count that must be zero (loss): a median would hide one bad round. */
export function totalOverRounds(m: MetricSummary | undefined, setup: string): number | null {
  const vals = (m?.values[setup] ?? []).filter((v): v is number => v !== null);
  return vals.length === 0 ? null : vals.reduce((a, b) => a + b, 0);
}

export function summarizeCluster(runs: ClusterRunRecord[]): ScenarioSummary[] {
  return summarize(runs, [...MEASURES], [...SETUPS]);
}

const fmtRatio = (v: number | null): string => (v === null ? '—' : `${v.toFixed(2)}x`);
const fmtDelta = (v: number | null): string => (v === null ? '—' : `${v >= 0 ? '+' : ''}${formatNumber(v)}`);
const rounds = (m: MetricSummary | undefined, setup: string): string => (m?.values[setup] ?? []).map((v) => formatNumber(v)).join(' / ');

export function renderClusterMarkdown(runs: ClusterRunRecord[], ctx: ClusterReportContext): string {
  const summaries = summarizeCluster(runs);
  const setups = SETUPS.filter((s) => runs.some((r) => r.broker === s));
  const lines: string[] = [];
  lines.push('# Cluster benchmark: two brokers, one inter-broker hop', '');
  lines.push(`- command: \`${ctx.command}\``);
  lines.push(`- date: ${ctx.date}; load average ${ctx.loadAverage.start.toFixed(1)} at the start, ${ctx.loadAverage.end.toFixed(1)} at the end`);
  lines.push(`- machine: ${ctx.machine}`);
  lines.push(`- rounds: ${ctx.rounds} (interleaved: every measure runs single, cluster-local, cross in turn, each on freshly started processes; medians shown), window ${ctx.durationS} s per run`);
  lines.push(`- load: ${ctx.publishers} publishers (throughput) or 1 publisher at ${ctx.rate.toLocaleString('en-US')} msg/s (latency), ${ctx.subscribers} subscriber(s), 64 B payloads, MQTT 3.1.1 over loopback TCP`);
  const versions = Object.entries(ctx.versions).map(([k, v]) => `${k} ${v}`);
  if (versions.length > 0) lines.push(`- versions: ${versions.join(', ')}`);
  lines.push('- setups: `single` = a standalone broker (no placement.addrs), both ends on it; `cluster-local` = both ends on broker A of a two-broker cluster (one placement node); `cross` = publishers on broker A, subscribers on broker B');
  lines.push('- CPU placement:');
  for (const p of ctx.placement) lines.push(`  - ${p}`);
  lines.push('');

  const th = (scenario: MeasureName, metricName: string): MetricSummary | undefined => find(summaries, scenario, metricName);
  const hasThroughput = summaries.some((s) => s.scenario.endsWith('-throughput'));
  if (hasThroughput) {
    lines.push('## Throughput', '');
    const head = ['measure', 'metric', '', ...setups, 'cross/single', 'cross/cluster-local', ...setups.map((s) => `rounds ${s}`)];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map((_h, i) => (i >= 3 && i < 3 + setups.length + 2 ? '---:' : '---')).join('|')}|`);
    for (const [scenario, label] of [['qos0-throughput', 'QoS 0'], ['qos1-throughput', 'QoS 1']] as const) {
      const m = th(scenario, 'delivered_msg_s');
      if (m === undefined) continue;
      lines.push(
        `| ${label} | delivered msg/s | ↑ | ${setups.map((s) => formatNumber(m.medians[s] ?? null)).join(' | ')} | ${fmtRatio(ratio(m.medians.cross ?? null, m.medians.single ?? null))} | ${fmtRatio(ratio(m.medians.cross ?? null, m.medians['cluster-local'] ?? null))} | ${setups.map((s) => rounds(m, s)).join(' | ')} |`,
      );
      if (scenario === 'qos0-throughput') {
        const u = th(scenario, 'undelivered_pct');
        if (u !== undefined) lines.push(`| ${label} | undelivered % (QoS 0 may drop) | | ${setups.map((s) => formatNumber(u.medians[s] ?? null)).join(' | ')} | | | ${setups.map((s) => rounds(u, s)).join(' | ')} |`);
        const d = th(scenario, 'dropped_by_brokers');
        if (d !== undefined) lines.push(`| ${label} | dropped by the brokers (messages_dropped) | | ${setups.map((s) => formatNumber(d.medians[s] ?? null)).join(' | ')} | | | ${setups.map((s) => rounds(d, s)).join(' | ')} |`);
      } else {
        const lost = th(scenario, 'lost');
        const dup = th(scenario, 'duplicates');
        lines.push(`| ${label} | lost, duplicates (sum of all rounds) | ↓ | ${setups.map((s) => `${formatNumber(totalOverRounds(lost, s))}, ${formatNumber(totalOverRounds(dup, s))}`).join(' | ')} | | | ${setups.map(() => '').join(' | ')} |`);
      }
    }
    lines.push('');
  }

  const deltas = hopDeltas(summaries);
  if (deltas.length > 0) {
    lines.push(`## Latency at ${ctx.rate.toLocaleString('en-US')} msg/s, end to end (publisher's write to subscriber's read, one clock)`, '');
    const head = ['QoS', 'metric', ...setups, 'added by the hop (cross − cluster-local)', 'cross − single', ...setups.map((s) => `rounds ${s}`)];
    lines.push(`| ${head.join(' | ')} |`, `|${head.map((_h, i) => (i >= 2 && i < 2 + setups.length + 2 ? '---:' : '---')).join('|')}|`);
    for (const d of deltas) {
      const m = find(summaries, `latency-qos${d.qos}`, d.metric)!;
      lines.push(`| ${d.qos} | ${d.metric.replace('_ms', '')} ms | ${setups.map((s) => formatNumber(m.medians[s] ?? null)).join(' | ')} | ${fmtDelta(d.vsClusterLocal)} | ${fmtDelta(d.vsSingle)} | ${setups.map((s) => rounds(m, s)).join(' | ')} |`);
    }
    const lost = find(summaries, 'latency-qos1', 'lost');
    if (lost !== undefined) lines.push(`| 1 | lost (sum of all rounds) | ${setups.map((s) => formatNumber(totalOverRounds(lost, s))).join(' | ')} | | | ${setups.map(() => '').join(' | ')} |`);
    lines.push('');
  }

  lines.push('## CPU during the measured window (% of one core, medians)', '');
  lines.push('A process near 100% of its core was the bottleneck; several processes pinned to one core share its 100%.', '');
  lines.push('| measure | setup | load generator | brokers |', '|---|---|---:|---|');
  for (const s of summaries) {
    for (const setup of setups) {
      const mine = runs.filter((r) => r.scenario === s.scenario && r.broker === setup);
      if (mine.length === 0) continue;
      const labels = [...new Set(mine.flatMap((r) => Object.keys(r.result.brokerCpu)))];
      const per = labels.map((l) => `${l} ${formatNumber(median(mine.map((r) => r.result.brokerCpu[l]).filter((v): v is number => v !== null && v !== undefined)))}`);
      lines.push(`| ${s.scenario} | ${setup} | ${formatNumber(s.cpu[setup]?.loadgen ?? null)} | ${per.join(', ')} |`);
    }
  }

  lines.push('', '## Every metric (medians)', '');
  lines.push(`| measure | metric | | ${setups.join(' | ')} |`, `|---|---|---|${setups.map(() => '---:').join('|')}|`);
  for (const s of summaries) {
    for (const m of s.metrics) {
      const arrow = m.better === 'higher' ? '↑' : m.better === 'lower' ? '↓' : '';
      lines.push(`| ${s.scenario} | ${m.metric} (${m.unit}) | ${arrow} | ${setups.map((x) => formatNumber(m.medians[x] ?? null)).join(' | ')} |`);
    }
  }

  const errors = summaries.flatMap((s) => s.errors.map((e) => `- ${s.scenario} @ ${e.broker}, round ${e.round}: ${e.error}`));
  if (errors.length > 0) lines.push('', '## Failed runs', '', ...errors);
  const seen = new Set<string>();
  const runNotes: string[] = [];
  for (const r of runs) {
    for (const note of r.round === 1 ? r.result.notes : r.result.notes.slice(1)) {
      const line = `- ${r.scenario} @ ${r.broker}: ${note}`;
      if (!seen.has(line)) {
        seen.add(line);
        runNotes.push(line);
      }
    }
  }
  const notes = [...ctx.notes.map((n) => `- ${n}`), ...runNotes];
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes);
  lines.push('');
  return lines.join('\n');
}
