// Loads one service's configuration: schema defaults, then the TOML file, then in-code values
// (tests), then `--set` overrides, validated as a whole. Every problem is collected before
// anything is reported, so the operator fixes them in one round.

import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import { CodedError } from '../errors.js';
import { ConfigField, crossChecks, flattenSchema, type ConfigOf, type ConfigSchema, type SchemaEntry } from './schema.js';
import { coerceOverride, parseSetOverride } from './set-override.js';
import { describeValue, validateField } from './validate-field.js';

export interface LoadConfigOptions {
  /** A TOML file; omitted = schema defaults only. */
  readonly file?: string;
  /** `key.path=value` strings, as given to `--set`; later ones win. */
  readonly sets?: readonly string[];
  /** A table shaped like the TOML file, applied after it (for tests and embedding). */
  readonly values?: Readonly<Record<string, unknown>>;
}

export interface ConfigProblem {
  /** Full dotted key path, `key[i]` for a list item; `--config` or `--set` for argument problems. */
  readonly path: string;
  readonly message: string;
}

/** Unknown keys, wrong types, out-of-range values, or an unreadable file. Exit code 2. */
export class ConfigError extends CodedError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], file?: string) {
    const unreadable = problems.some((p) => p.path === '--config');
    const where = file === undefined ? '' : ` (${file})`;
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
    super(unreadable ? 'CFG_FILE_UNREADABLE' : 'CFG_INVALID', [`invalid configuration${where}, ${count}:`, ...lines].join('\n'), {
      details: { problems },
    });
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}

type Source = 'file' | 'values' | '--set';
interface Layered {
  value: unknown;
  source: Source;
}

export function loadConfig<S extends ConfigSchema>(schema: S, options: LoadConfigOptions = {}): ConfigOf<S> {
  const entries = flattenSchema(schema);
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const problems: ConfigProblem[] = [];
  const given = new Map<string, Layered>();

  if (options.file !== undefined) {
    const table = readTomlFile(options.file, problems);
    if (table !== undefined) collectTable(schema, table, '', 'file', given, problems, entries);
  }
  if (options.values !== undefined) collectTable(schema, options.values, '', 'values', given, problems, entries);

  for (const arg of options.sets ?? []) {
    const o = parseSetOverride(arg);
    if ('error' in o) {
      problems.push({ path: '--set', message: o.error });
      continue;
    }
    const entry = byPath.get(o.path);
    if (entry === undefined) {
      problems.push({ path: o.path, message: `${unknownKeyMessage(o.path, entries)} (from --set)` });
      continue;
    }
    given.set(o.path, { value: coerceOverride(entry.field.spec, o), source: '--set' });
  }

  const typed = new Map<string, unknown>();
  for (const { path, field } of entries) {
    const layered = given.get(path);
    const result = validateField(field.spec, layered === undefined ? field.spec.default : layered.value);
    if (result.ok) {
      typed.set(path, result.value);
      continue;
    }
    const suffix = layered === undefined ? ' (schema default)' : layered.source === '--set' ? ' (from --set)' : '';
    for (const p of result.problems) {
      const at = p.index === undefined ? path : `${path}[${p.index}]`;
      problems.push({ path: p.key === undefined ? at : `${at}.${p.key}`, message: p.message + suffix });
    }
  }

  if (problems.length > 0) throw new ConfigError(problems, options.file);
  const config = deepFreeze(build(schema, '', typed)) as ConfigOf<S>;
  const check = schema[crossChecks] as ((c: ConfigOf<S>) => readonly ConfigProblem[]) | undefined;
  const crossProblems = check === undefined ? [] : check(config);
  if (crossProblems.length > 0) throw new ConfigError(crossProblems, options.file);
  return config;
}

/** The typed defaults of a schema (a schema whose defaults do not validate throws ConfigError). */
export function configDefaults<S extends ConfigSchema>(schema: S): ConfigOf<S> {
  return loadConfig(schema, {});
}

function readTomlFile(file: string, problems: ConfigProblem[]): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : err instanceof Error ? err.message : String(err);
    problems.push({ path: '--config', message: `cannot read ${file}: ${why}` });
    return undefined;
  }
  try {
    return parse(text);
  } catch (err: unknown) {
    if (err instanceof TomlError) {
      problems.push({ path: '--config', message: `${file} is not valid TOML at line ${err.line}, column ${err.column}: ${firstLine(err.message)}` });
    } else {
      problems.push({ path: '--config', message: `${file} is not valid TOML: ${err instanceof Error ? err.message : String(err)}` });
    }
    return undefined;
  }
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? text).replace(/^Invalid TOML document:\s*/, '');
}

function collectTable(
  node: ConfigSchema,
  table: Readonly<Record<string, unknown>>,
  prefix: string,
  source: Source,
  given: Map<string, Layered>,
  problems: ConfigProblem[],
  entries: readonly SchemaEntry[],
): void {
  for (const [key, value] of Object.entries(table)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const child = Object.hasOwn(node, key) ? node[key] : undefined;
    if (child === undefined) {
      problems.push({ path, message: unknownKeyMessage(path, entries) });
    } else if (child instanceof ConfigField) {
      given.set(path, { value, source });
    } else if (isTable(value)) {
      collectTable(child, value, path, source, given, problems, entries);
    } else {
      problems.push({ path, message: `expected a table of settings (${Object.keys(child).join(', ')}), got ${describeValue(value)}` });
    }
  }
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function unknownKeyMessage(path: string, entries: readonly SchemaEntry[]): string {
  const section = entries.filter((e) => e.path.startsWith(path + '.'));
  if (section.length > 0) return `is a section, not a key; set one of its keys, e.g. ${section[0]!.path}`;
  const suggestion = closestPath(path, entries);
  return suggestion === undefined ? 'unknown key' : `unknown key (did you mean ${suggestion}?)`;
}

function closestPath(path: string, entries: readonly SchemaEntry[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const { path: candidate } of entries) {
    const d = editDistance(path, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(path.length / 5))) return best;
  // A key put in the wrong section: `tcp_port` at the top level means `mqtt.tcp_port`.
  const leaf = path.slice(path.lastIndexOf('.') + 1);
  return entries.find((e) => e.path.endsWith('.' + leaf) || e.path === leaf)?.path;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function build(node: ConfigSchema, prefix: string, typed: ReadonlyMap<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out[key] = child instanceof ConfigField ? typed.get(path) : build(child, path, typed);
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
