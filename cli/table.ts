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
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

// Code points, not UTF-16 units, so that emoji and other astral characters count once.
function width(text: string): number {
  return Array.from(text).length;
}

function padEnd(text: string, w: number): string {
  return text + ' '.repeat(w - width(text));
}

function padStart(text: string, w: number): string {
  return ' '.repeat(w - width(text)) + text;
}
