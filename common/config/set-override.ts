// `--set key.path=value` parsing (DESIGN.md section 6). The value is read as a TOML value when it
// is one (`1883`, `true`, `["a:1","b:2"]`, `"x"`), else taken as the bare string, so
// `--set data_dir=/tmp/d` works without quotes.

import { parse } from 'smol-toml';
import type { FieldSpec } from './schema.js';

export interface SetOverride {
  readonly path: string;
  /** The text after the first `=`, as typed. */
  readonly text: string;
  /** The TOML value of `text`, or `text` itself when it is not a TOML value. */
  readonly value: unknown;
  readonly isToml: boolean;
}

const keyPathRe = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

export function parseSetOverride(arg: string): SetOverride | { error: string } {
  const eq = arg.indexOf('=');
  if (eq < 0) return { error: `--set ${JSON.stringify(arg)}: expected key.path=value` };
  const path = arg.slice(0, eq).trim();
  if (!keyPathRe.test(path)) return { error: `--set ${JSON.stringify(arg)}: ${JSON.stringify(path)} is not a key path like mqtt.tcp_port` };
  const text = arg.slice(eq + 1);
  const toml = tomlValue(text);
  return toml === undefined ? { path, text, value: text, isToml: false } : { path, text, value: toml.value, isToml: true };
}

function tomlValue(text: string): { value: unknown } | undefined {
  if (text.trim() === '') return undefined;
  try {
    const doc = parse(`v = ${text}`);
    // A value with a newline could smuggle in more keys; then it is not one TOML value.
    const keys = Object.keys(doc);
    return keys.length === 1 && keys[0] === 'v' ? { value: doc.v } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Adapts an override to the field it sets, so the obvious spelling works:
 * - string and enum fields take the text as typed when it reads as another TOML type
 *   (`--set cluster_name=2024` is the name "2024", not an integer);
 * - string-list fields take a plain string as a comma-separated list
 *   (`--set placement.addrs=10.0.0.1:1228,10.0.0.2:1228`).
 */
export function coerceOverride(spec: FieldSpec, o: SetOverride): unknown {
  if ((spec.kind === 'string' || spec.kind === 'enum') && typeof o.value !== 'string') return o.text;
  if (spec.kind === 'string-list' && typeof o.value === 'string') {
    return o.value.trim() === '' ? [] : o.value.split(',').map((s) => s.trim());
  }
  return o.value;
}
