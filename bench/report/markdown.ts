import { ratio, type ScenarioSummary } from './summary.js';

/** Comparison columns: each broker against the references it is measured against. */
const RATIO_PAIRS: Array<[string, string]> = [
  // The cost of authentication and ACLs: the same broker with them on over off.
  ['ours-auth', 'ours'],
  ['ours', 'mosquitto'],
  ['ours', 'aedes'],
  ['aedes', 'mosquitto'],
];

export interface RunNote {
  scenario: string;
  broker: string;
  note: string;
}

export interface TableContext {
  command: string;
  date: string;
  machine: string;
  pinning: string;
  rounds: number;
  durationS: number;
  versions: Record<string, string>;
  /** Distinct notes from the runs (setup of each scenario, disconnects, early stops). */
  notes: RunNote[];
  /** Notes about the whole run (skipped brokers, pinning). */
  runNotes: string[];
}

export function formatNumber(v: number | null): string {
  if (v === null) return '—';
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return String(Math.round(v));
  if (a >= 10) return String(Math.round(v * 10) / 10);
  return String(Math.round(v * 1000) / 1000);
}

function formatRatio(v: number | null): string {
  return v === null ? '—' : `${v.toFixed(2)}x`;
}

/** The results as markdown: medians per broker, ratios, CPU of each side, failures. */
export function renderMarkdown(summaries: ScenarioSummary[], ctx: TableContext): string {
  const brokers = [...new Set(summaries.flatMap((s) => s.brokers))];
  const pairs = RATIO_PAIRS.filter(([a, b]) => brokers.includes(a) && brokers.includes(b));
  const lines: string[] = [];
  lines.push(`# Benchmark results`, '');
  lines.push(`- command: \`${ctx.command}\``);
  lines.push(`- date: ${ctx.date}`);
  lines.push(`- machine: ${ctx.machine}`);
  lines.push(`- pinning: ${ctx.pinning}`);
  lines.push(`- rounds: ${ctx.rounds} (interleaved, medians shown), window ${ctx.durationS} s per run`);
  const versions = Object.entries(ctx.versions).map(([k, v]) => `${k} ${v}`);
  if (versions.length > 0) lines.push(`- versions: ${versions.join(', ')}`);
  lines.push('');
  lines.push('`↑` higher is better, `↓` lower is better; a ratio is the first broker\'s median over the second\'s.', '');

  const head = ['scenario', 'metric', '', ...brokers, ...pairs.map(([a, b]) => `${a}/${b}`)];
  lines.push(`| ${head.join(' | ')} |`);
  lines.push(`|${head.map((_h, i) => (i >= 3 ? '---:' : '---')).join('|')}|`);
  for (const s of summaries) {
    for (const m of s.metrics) {
      const arrow = m.better === 'higher' ? '↑' : m.better === 'lower' ? '↓' : '';
      const cells = [
        s.scenario,
        `${m.metric} (${m.unit})`,
        arrow,
        ...brokers.map((b) => (s.brokers.includes(b) ? formatNumber(m.medians[b] ?? null) : '')),
        ...pairs.map(([a, b]) => (m.better === 'info' ? '' : formatRatio(ratio(m.medians[a] ?? null, m.medians[b] ?? null)))),
      ];
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }

  lines.push('', '## CPU during the measured window (% of one core: load generator / broker)', '');
  lines.push('A side near 100% was the bottleneck. If the load generator is the saturated side, that row measured the generator.', '');
  lines.push(`| scenario | ${brokers.join(' | ')} |`);
  lines.push(`|---|${brokers.map(() => '---:').join('|')}|`);
  for (const s of summaries) {
    const cells = brokers.map((b) => {
      const c = s.cpu[b];
      if (c === undefined) return '';
      const okText = c.ok === c.runs ? '' : ` (${c.ok}/${c.runs} ok)`;
      return `${formatNumber(c.loadgen)} / ${formatNumber(c.broker)}${okText}`;
    });
    lines.push(`| ${s.scenario} | ${cells.join(' | ')} |`);
  }

  const errors = summaries.flatMap((s) => s.errors.map((e) => `- ${s.scenario} @ ${e.broker}, round ${e.round}: ${e.error}`));
  if (errors.length > 0) lines.push('', '## Failed runs', '', ...errors);
  const notes = [...ctx.runNotes.map((n) => `- ${n}`), ...ctx.notes.map((n) => `- ${n.scenario} @ ${n.broker}: ${n.note}`)];
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes);
  lines.push('');
  return lines.join('\n');
}
