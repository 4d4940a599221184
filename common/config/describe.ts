// Human-readable listings of a schema: the key table that `X start --help` prints.

import { stringify } from 'smol-toml';
import { flattenSchema, type ConfigSchema, type FieldSpec } from './schema.js';

/** A default as it is written in TOML: `1883`, `"10s"`, `["a:1"]`, `[{ type = "built_in" }]`. */
export function formatTomlValue(value: unknown): string {
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) {
    return `[${value.map((v) => formatInlineTable(v as Record<string, unknown>)).join(', ')}]`;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)) {
    return formatInlineTable(value as Record<string, unknown>);
  }
  return stringify({ v: value }).trim().replace(/^v = /, '');
}

function formatInlineTable(table: Record<string, unknown>): string {
  const parts = Object.entries(table).map(([k, v]) => `${k} = ${formatTomlValue(v)}`);
  return parts.length === 0 ? '{}' : `{ ${parts.join(', ')} }`;
}

/** What a kind of field accepts, in a few words. */
export function describeKind(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'int':
      return spec.max >= Number.MAX_SAFE_INTEGER ? `integer >= ${spec.min}` : `integer ${spec.min}..${spec.max}`;
    case 'port':
      return 'port (0 = any free, -1 = off)';
    case 'bool':
      return 'true | false';
    case 'string':
      return 'string';
    case 'enum':
      return spec.values.join(' | ');
    case 'string-list':
      return 'list of strings';
    case 'duration':
      return 'duration ("30s", "5m", or seconds)';
    case 'bytes':
      return 'size ("256KB", "10MB", or bytes)';
    case 'table-list':
      return `list of tables with keys ${Object.keys(spec.item).join(', ')}`;
  }
}

/**
 * One block per key:
 *   mqtt.tcp_port = 1883   [port (0 = any free, -1 = off)]
 *       MQTT over TCP (0 = any free port, -1 = disabled).
 */
export function formatConfigKeys(schema: ConfigSchema, indent = '  '): string {
  return flattenSchema(schema)
    .map(({ path, field }) => `${indent}${path} = ${formatTomlValue(field.spec.default)}   [${describeKind(field.spec)}]\n${indent}    ${field.doc}`)
    .join('\n');
}
