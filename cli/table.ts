// Plain-text tables for robust-ctl's `--output table`:
//
//   +-----------+----------+-------------+
//   | client_id | username | messages_in |
//   +-----------+----------+-------------+
//   | sensor-1  | alice    |          42 |
//   +-----------+----------+-------------+
//
// Numbers are right-aligned, absent values show as "-", nested values as compact JSON, and
// control characters are escaped so that one row always stays one line.

export type Cell = unknown;

/** Columns are the union of the rows' keys in first-seen order, unless given. */
export function renderTable(rows: readonly Readonly<Record<string, Cell>>[], columns?: readonly string[]): string {
  const cols = columns ?? columnsOf(rows);
  const body = rows.map((row) => cols.map((c) => formatCell(row[c])));
  const numeric = cols.map((c) => rows.length > 0 && rows.every((row) => row[c] === undefined || row[c] === null || typeof row[c] === 'number'));
  const widths = cols.map((c, i) => Math.max(width(c), ...body.map((cells) => width(cells[i]!))));
  const rule = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const line = (cells: readonly string[], alignRight: readonly boolean[]): string =>
    '| ' + cells.map((cell, i) => (alignRight[i] ? padStart(cell, widths[i]!) : padEnd(cell, widths[i]!))).join(' | ') + ' |';
  return [rule, line(cols, cols.map(() => false)), rule, ...body.map((cells) => line(cells, numeric)), ...(body.length > 0 ? [rule] : [])].join('\n');
}

/** A two-column table of an object's fields; nested objects become dotted names (`messages.in`). */
export function renderKeyValue(object: Readonly<Record<string, Cell>>): string {
  const rows = flatten(object, '').map(([name, value]) => ({ name, value }));
  return renderTable(rows, ['name', 'value']);
}

function columnsOf(rows: readonly Readonly<Record<string, Cell>>[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

function flatten(object: Readonly<Record<string, Cell>>, prefix: string): [string, Cell][] {
  const out: [string, Cell][] = [];
  for (const [key, value] of Object.entries(object)) {
    const name = prefix === '' ? key : `${prefix}.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
      out.push(...flatten(value as Record<string, Cell>, name));
    } else {
      out.push([name, value]);
    }
  }
  return out;
}

export function formatCell(value: Cell): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'string') return escapeControl(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return escapeControl(JSON.stringify(value) ?? String(value));
}

function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

// Terminal columns: CJK and emoji take two, combining marks and joiners none. An approximation of
// Unicode East Asian Width that covers topic names and client ids seen in practice.
const wideRanges: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x3fffd],
];
const zeroWidthRanges: readonly (readonly [number, number])[] = [
  [0x0300, 0x036f],
  [0x200b, 0x200f],
  [0xfe00, 0xfe0f],
];

const inRanges = (cp: number, ranges: readonly (readonly [number, number])[]): boolean => ranges.some(([lo, hi]) => cp >= lo && cp <= hi);

export function width(text: string): number {
  let w = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    w += inRanges(cp, zeroWidthRanges) ? 0 : inRanges(cp, wideRanges) ? 2 : 1;
  }
  return w;
}

function padEnd(text: string, w: number): string {
  return text + ' '.repeat(w - width(text));
}

function padStart(text: string, w: number): string {
  return ' '.repeat(w - width(text)) + text;
}
