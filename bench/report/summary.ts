import type { MetricDirection, ScenarioResult } from '../scenarios/types.js';

/** One scenario run against one broker in one round. */
export interface RunRecord {
  round: number;
  scenario: string;
  broker: string;
  result: ScenarioResult;
  /** How the broker process ended, when it ended before we stopped it. */
  brokerDied: { code: number | null; signal: string | null } | null;
}

export interface MetricSummary {
  scenario: string;
  metric: string;
  unit: string;
  better: MetricDirection;
  /** Median over the rounds that produced a value, per broker. */
  medians: Record<string, number | null>;
  /** Values per broker in round order (null where a round failed). */
  values: Record<string, Array<number | null>>;
}

export interface ScenarioSummary {
  scenario: string;
  brokers: string[];
  metrics: MetricSummary[];
  cpu: Record<string, { loadgen: number | null; broker: number | null; ok: number; runs: number }>;
  errors: Array<{ broker: string; round: number; error: string }>;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** x / ref, or null when either is missing or not positive (a ratio of signed growth means nothing). */
export function ratio(x: number | null, ref: number | null): number | null {
  if (x === null || ref === null || ref <= 0 || x < 0) return null;
  return x / ref;
}

/** Groups runs by scenario and metric and takes medians over rounds, broker by broker. */
export function summarize(runs: RunRecord[], scenarioOrder: string[], brokerOrder: string[]): ScenarioSummary[] {
  const out: ScenarioSummary[] = [];
  for (const scenario of scenarioOrder) {
    const mine = runs.filter((r) => r.scenario === scenario);
    if (mine.length === 0) continue;
    const brokers = brokerOrder.filter((b) => mine.some((r) => r.broker === b));
    const metrics = new Map<string, MetricSummary>();
    for (const run of mine) {
      for (const m of run.result.metrics) {
        let s = metrics.get(m.name);
        if (s === undefined) {
          s = { scenario, metric: m.name, unit: m.unit, better: m.better, medians: {}, values: {} };
          metrics.set(m.name, s);
        }
        (s.values[run.broker] ??= []).push(m.value);
      }
    }
    for (const s of metrics.values()) {
      for (const b of brokers) s.medians[b] = median((s.values[b] ?? []).filter((v): v is number => v !== null));
    }
    const cpu: ScenarioSummary['cpu'] = {};
    for (const b of brokers) {
      const rs = mine.filter((r) => r.broker === b);
      const nums = (f: (r: RunRecord) => number | null): number[] => rs.map(f).filter((v): v is number => v !== null);
      cpu[b] = {
        loadgen: median(nums((r) => r.result.loadgenCpuPercent)),
        broker: median(nums((r) => r.result.brokerCpuPercent)),
        ok: rs.filter((r) => r.result.ok && r.brokerDied === null).length,
        runs: rs.length,
      };
    }
    const errors = mine
      .filter((r) => !r.result.ok || r.brokerDied !== null)
      .map((r) => ({
        broker: r.broker,
        round: r.round,
        error:
          r.result.error ??
          (r.brokerDied === null ? 'failed' : `broker process died (code ${r.brokerDied.code}, signal ${r.brokerDied.signal})`),
      }));
    out.push({ scenario, brokers, metrics: [...metrics.values()], cpu, errors });
  }
  return out;
}
