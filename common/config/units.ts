// Human-friendly durations and byte sizes for config values.

const durationUnitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const durationPart = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Milliseconds from `"250ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"`, a sum such as `"1h30m"`, or an
 * integer number of seconds (a number, or a string of digits). Undefined when it is none of those.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (text === '') return undefined;
  durationPart.lastIndex = 0;
  let total = 0;
  let end = 0;
  for (let m = durationPart.exec(text); m !== null; m = durationPart.exec(text)) {
    total += Number(m[1]) * durationUnitMs[m[2]!]!;
    end = durationPart.lastIndex;
  }
  if (end !== text.length) return undefined;
  return Math.round(total);
}

/** The shortest exact spelling of a millisecond count, e.g. 90000 -> "90s", 3600000 -> "1h". */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = durationUnitMs[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

// Binary multiples, as brokers conventionally use them (10MB = 10 * 1024 * 1024 bytes).
const byteUnit: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Bytes from `"10MB"`, `"256KB"`, `"1GiB"`, `"512B"` or an integer. Undefined otherwise. */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(value.trim().toLowerCase());
  if (m === null) return undefined;
  const unit = byteUnit[m[2]!];
  if (unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The shortest exact spelling of a byte count, e.g. 10485760 -> "10MB", 1000 -> "1000". */
export function formatBytes(n: number): string {
  for (const [unit, size] of [['GB', 1024 ** 3], ['MB', 1024 ** 2], ['KB', 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}
