// Checks one raw value (from TOML, --set or a default) against one field and converts it to the
// typed value. A failure says what was expected and what was given, with no key path; the caller
// prefixes the path.

import { ConfigField, type ConfigSchema, type FieldSpec } from './schema.js';
import { formatBytes, formatDuration, parseBytes, parseDuration } from './units.js';

/** `index` is set when the problem is one item of a list (the caller shows `key[index]`). */
export interface FieldProblem {
  readonly index?: number;
  /** Within a list item that is a table: the key path inside the item (`url`, `password_hash.name`). */
  readonly key?: string;
  readonly message: string;
}

export type FieldResult = { ok: true; value: unknown } | { ok: false; problems: FieldProblem[] };

const ok = (value: unknown): FieldResult => ({ ok: true, value });
const fail = (message: string): FieldResult => ({ ok: false, problems: [{ message }] });

export function validateField(spec: FieldSpec, raw: unknown): FieldResult {
  const got = `got ${describeValue(raw)}`;
  switch (spec.kind) {
    case 'int': {
      const want = `expected an integer ${describeRange(spec.min, spec.max)}`;
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < spec.min || raw > spec.max) return fail(`${want}, ${got}`);
      return ok(raw);
    }
    case 'port': {
      if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < -1 || raw > 65535) {
        return fail(`expected an integer port 0..65535 or -1 (disabled), ${got}`);
      }
      return ok(raw);
    }
    case 'bool':
      return typeof raw === 'boolean' ? ok(raw) : fail(`expected true or false, ${got}`);
    case 'string': {
      if (typeof raw !== 'string') return fail(`expected a string, ${got}`);
      if (spec.pattern !== undefined && !spec.pattern.test(raw)) return fail(`expected ${spec.pattern.expected}, ${got}`);
      return ok(raw);
    }
    case 'enum': {
      if (typeof raw !== 'string' || !spec.values.includes(raw)) {
        return fail(`expected one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}, ${got}`);
      }
      return ok(raw);
    }
    case 'string-list': {
      if (!Array.isArray(raw)) return fail(`expected a list of strings, ${got}`);
      const problems: FieldProblem[] = [];
      raw.forEach((item: unknown, index) => {
        if (typeof item !== 'string') problems.push({ index, message: `expected a string, got ${describeValue(item)}` });
        else if (spec.item !== undefined && !spec.item.test(item)) {
          problems.push({ index, message: `expected ${spec.item.expected}, got ${describeValue(item)}` });
        }
      });
      return problems.length > 0 ? { ok: false, problems } : ok([...(raw as string[])]);
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) return fail(`expected a duration like "30s", "5m", "1h", "250ms" or integer seconds, ${got}`);
      if (ms < spec.minMs || ms > spec.maxMs) {
        return fail(`expected a duration ${describeRange(spec.minMs, spec.maxMs, formatDuration)}, ${got}`);
      }
      return ok(ms);
    }
    case 'table-list': {
      if (!Array.isArray(raw)) return fail(`expected a list of tables ([[...]] sections), ${got}`);
      const problems: FieldProblem[] = [];
      const items: unknown[] = [];
      raw.forEach((item: unknown, index) => {
        if (!isPlainTable(item)) {
          problems.push({ index, message: `expected a table, got ${describeValue(item)}` });
          return;
        }
        const r = validateTable(spec.item, item);
        if (r.ok) items.push(r.value);
        else for (const p of r.problems) problems.push({ index, key: p.key, message: p.message });
      });
      return problems.length > 0 ? { ok: false, problems } : ok(items);
    }
    case 'bytes': {
      const n = parseBytes(raw);
      if (n === undefined) return fail(`expected a size like "256KB", "10MB" or an integer number of bytes, ${got}`);
      if (n < spec.min || n > spec.max) {
        const shown = typeof raw === 'string' ? ` (${n} bytes)` : '';
        return fail(`expected a size ${describeRange(spec.min, spec.max, formatBytesExact)} bytes, ${got}${shown}`);
      }
      return ok(n);
    }
  }
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * One table against a schema: unknown keys refused, missing keys defaulted, nested sections
 * recursed into. Problems carry the key path inside the table (`key`), with `[i]` for list items.
 */
export function validateTable(schema: ConfigSchema, table: Readonly<Record<string, unknown>>, prefix = ''):
  { ok: true; value: Record<string, unknown> } | { ok: false; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(table)) {
    if (!Object.hasOwn(schema, key)) {
      const known = Object.keys(schema).join(', ');
      problems.push({ key: prefix + key, message: `unknown key (known here: ${known})` });
    }
  }
  for (const [key, node] of Object.entries(schema)) {
    const path = prefix + key;
    const given = Object.hasOwn(table, key) ? table[key] : undefined;
    if (node instanceof ConfigField) {
      const r = validateField(node.spec, given === undefined ? node.spec.default : given);
      if (r.ok) out[key] = r.value;
      else {
        for (const p of r.problems) {
          const at = p.index === undefined ? path : `${path}[${p.index}]`;
          problems.push({ key: p.key === undefined ? at : `${at}.${p.key}`, message: p.message });
        }
      }
    } else if (given === undefined || isPlainTable(given)) {
      const r = validateTable(node, given ?? {}, `${path}.`);
      if (r.ok) out[key] = r.value;
      else problems.push(...r.problems);
    } else {
      problems.push({ key: path, message: `expected a table of settings (${Object.keys(node).join(', ')}), got ${describeValue(given)}` });
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out };
}

function formatBytesExact(n: number): string {
  const short = formatBytes(n);
  return short === String(n) ? short : `${n} (${short})`;
}

function describeRange(min: number, max: number, fmt: (n: number) => string = String): string {
  if (max >= Number.MAX_SAFE_INTEGER) return `>= ${fmt(min)}`;
  return `${fmt(min)}..${fmt(max)}`;
}

/** A value as an error message shows it: strings quoted, tables and dates named. */
export function describeValue(value: unknown): string {
  if (value instanceof Date) return `a date (${value.toISOString()})`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) {
    const text = safeJson(value);
    return text.length > 80 ? `a list of ${value.length} items` : text;
  }
  if (value === null || value === undefined) return 'nothing';
  return 'a table';
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
