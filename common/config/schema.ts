// A config schema is data: nested sections (plain objects) whose leaves are fields made by the
// builders below. Each field knows its kind, default, constraints and a one-line doc. The typed
// config object's shape follows from the schema (ConfigOf), and every service also declares an
// explicit interface that a compile-time check ties to its schema.
//
// Naming: the typed object uses the TOML key names unchanged (snake_case), so `mqtt.tcp_port` in a
// file, in `--set`, in an error message and in code (`config.mqtt.tcp_port`) is the same string.

export type FieldSpec =
  | { readonly kind: 'int'; readonly default: number; readonly min: number; readonly max: number }
  | { readonly kind: 'port'; readonly default: number }
  | { readonly kind: 'bool'; readonly default: boolean }
  | { readonly kind: 'string'; readonly default: string; readonly pattern?: ValuePattern }
  | { readonly kind: 'enum'; readonly default: string; readonly values: readonly string[] }
  | { readonly kind: 'string-list'; readonly default: readonly string[]; readonly item?: ValuePattern }
  /** Written as "30s" / "5m" / "1h" / "250ms" or integer seconds; the typed value is milliseconds. */
  | { readonly kind: 'duration'; readonly default: string | number; readonly minMs: number; readonly maxMs: number }
  /** Written as "10MB" / "256KB" or an integer number of bytes; the typed value is bytes. */
  | { readonly kind: 'bytes'; readonly default: string | number; readonly min: number; readonly max: number }
  /**
   * A TOML array of tables (`[[auth.chain]]`): each item is checked against `item`, a schema of its
   * own (unknown keys refused, missing keys take the item schema's defaults, nested sections and
   * inline tables allowed). The typed value is a list of ConfigOf<item>.
   */
  | { readonly kind: 'table-list'; readonly default: readonly Readonly<Record<string, unknown>>[]; readonly item: ConfigSchema };

export type FieldKind = FieldSpec['kind'];

/** A constraint on a string (or on each item of a string list), described for error messages. */
export interface ValuePattern {
  readonly test: (value: string) => boolean;
  /** What a valid value looks like, e.g. `"host:port"`. */
  readonly expected: string;
}

export class ConfigField<T> {
  /** Phantom: the type this field has in the typed config object. Never set at run time. */
  declare readonly __type: T;
  constructor(
    readonly spec: FieldSpec,
    readonly doc: string,
  ) {}
}

/**
 * Key of a schema's cross-field checks: rules that involve several keys (a TLS key file without its
 * certificate). They run on the typed config after every field is valid. Only the top-level
 * schema's checks run. A symbol, so it can never clash with a config key.
 */
export const crossChecks: unique symbol = Symbol('config cross-field checks');

/** `path` names the key the operator should change. */
export interface CrossCheckProblem {
  readonly path: string;
  readonly message: string;
}

export interface ConfigSchema {
  readonly [key: string]: ConfigField<unknown> | ConfigSchema;
  // `never` parameter: any schema's check function, whatever its config type, fits here.
  readonly [crossChecks]?: (config: never) => readonly CrossCheckProblem[];
}

/** The frozen typed object that loadConfig returns for schema S. */
export type ConfigOf<S> = {
  readonly [K in keyof S as K extends string ? K : never]: S[K] extends ConfigField<infer T> ? T : ConfigOf<S[K]>;
};

/** One leaf of a schema with its full dotted key path. */
export interface SchemaEntry {
  readonly path: string;
  readonly field: ConfigField<unknown>;
}

export function flattenSchema(schema: ConfigSchema, prefix = ''): SchemaEntry[] {
  const out: SchemaEntry[] = [];
  for (const [key, node] of Object.entries(schema)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (node instanceof ConfigField) out.push({ path, field: node });
    else out.push(...flattenSchema(node, path));
  }
  return out;
}

// ---- builders -------------------------------------------------------------------------------

/** Largest value for an unbounded integer: exact in a double, so no silent rounding. */
const MAX_INT = Number.MAX_SAFE_INTEGER;

/** `T` narrows the typed value when min..max allows only some integers (`int<0 | 1 | 2>` for a QoS). */
export function int<T extends number = number>(o: { default: NoInfer<T>; min?: number; max?: number; doc: string }): ConfigField<T> {
  return new ConfigField({ kind: 'int', default: o.default, min: o.min ?? 0, max: o.max ?? MAX_INT }, o.doc);
}

/** A TCP/UDP port: 0 binds any free port, -1 disables the listener. */
export function port(o: { default: number; doc: string }): ConfigField<number> {
  return new ConfigField({ kind: 'port', default: o.default }, o.doc);
}

export function bool(o: { default: boolean; doc: string }): ConfigField<boolean> {
  return new ConfigField({ kind: 'bool', default: o.default }, o.doc);
}

export function str(o: { default: string; pattern?: ValuePattern; doc: string }): ConfigField<string> {
  return new ConfigField({ kind: 'string', default: o.default, pattern: o.pattern }, o.doc);
}

export function oneOf<const V extends string>(o: { values: readonly V[]; default: V; doc: string }): ConfigField<V> {
  return new ConfigField({ kind: 'enum', default: o.default, values: o.values }, o.doc);
}

export function stringList(o: { default: readonly string[]; item?: ValuePattern; doc: string }): ConfigField<readonly string[]> {
  return new ConfigField({ kind: 'string-list', default: o.default, item: o.item }, o.doc);
}

/** Typed value: milliseconds. Bounds are in milliseconds too. */
export function duration(o: { default: string | number; minMs?: number; maxMs?: number; doc: string }): ConfigField<number> {
  return new ConfigField({ kind: 'duration', default: o.default, minMs: o.minMs ?? 0, maxMs: o.maxMs ?? MAX_INT }, o.doc);
}

/** Typed value: bytes. */
export function bytes(o: { default: string | number; min?: number; max?: number; doc: string }): ConfigField<number> {
  return new ConfigField({ kind: 'bytes', default: o.default, min: o.min ?? 0, max: o.max ?? MAX_INT }, o.doc);
}

/** An array of tables whose items follow `item`; `default` items are raw tables like the TOML ones. */
export function tableList<const S extends ConfigSchema>(o: {
  item: S;
  default: readonly Readonly<Record<string, unknown>>[];
  doc: string;
}): ConfigField<readonly ConfigOf<S>[]> {
  return new ConfigField({ kind: 'table-list', default: o.default, item: o.item }, o.doc);
}

// ---- shared value patterns --------------------------------------------------------------------

const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)`;
const PORT = String.raw`(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})`;
const hostPortRe = new RegExp(`^${HOST}:${PORT}$`);
const peerRe = new RegExp(`^\\d+@${HOST}:${PORT}$`);

/** `host:port` with a port 1..65535; IPv6 hosts in brackets (`[::1]:1228`). */
export const hostPort: ValuePattern = { test: (v) => hostPortRe.test(v), expected: '"host:port"' };

/** A Raft peer `id@host:port`. */
export const raftPeer: ValuePattern = { test: (v) => peerRe.test(v), expected: '"id@host:port"' };

/** Equality of two types, exact enough to catch a missing key, an extra key or a changed type. */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export type Assert<T extends true> = T;
