// Checks a journal write history against the shard's final log (what a reader sees once the
// cluster is healed). Each write appends one record whose value is unique in the run.
//
// Violations:
// - lost: acknowledged, not in the log;
// - misplaced: acknowledged at offset o, found at another offset (reordered or shifted);
// - duplicated: a value found more than once;
// - phantom: a value in the log that no client wrote;
// - failed-present: a write that failed definitely (not appended, e.g. JR_NOT_ENOUGH_REPLICAS)
//   is in the log;
// - client-order: a client's values appear in the log in another order than it wrote them
//   (each client writes sequentially, so even unknown outcomes cannot overtake a later write).
// Writes with unknown outcome (timeouts, lost connections) may be present or absent.

export type WriteOutcome = 'ok' | 'fail' | 'unknown';

export interface WriteOp {
  readonly client: number;
  readonly value: string;
  /** ms since the run started. */
  readonly call: number;
  readonly ret: number;
  readonly outcome: WriteOutcome;
  /** The acknowledged offset (outcome ok). */
  readonly offset?: number;
  /** Error code when not ok. */
  readonly code?: string;
}

export interface Violation {
  readonly kind: 'lost' | 'misplaced' | 'duplicated' | 'phantom' | 'failed-present' | 'client-order';
  readonly value: string;
  readonly detail: string;
}

export interface CheckResult {
  readonly valid: boolean;
  readonly violations: Violation[];
  readonly counts: { ok: number; fail: number; unknown: number; unknownPresent: number; logLength: number };
}

/** `log[i]` is the value at offset i. */
export function checkJournalHistory(history: readonly WriteOp[], log: readonly string[]): CheckResult {
  const violations: Violation[] = [];
  const where = new Map<string, number[]>();
  log.forEach((v, i) => where.set(v, [...(where.get(v) ?? []), i]));
  const byValue = new Map(history.map((op) => [op.value, op]));

  for (const [value, offsets] of where) {
    if (offsets.length > 1) violations.push({ kind: 'duplicated', value, detail: `at offsets ${offsets.join(', ')}` });
    const op = byValue.get(value);
    if (op === undefined) violations.push({ kind: 'phantom', value, detail: `at offset ${offsets[0]}, never written` });
    else if (op.outcome === 'fail') violations.push({ kind: 'failed-present', value, detail: `failed with ${op.code ?? '?'} but at offset ${offsets[0]}` });
  }
  let unknownPresent = 0;
  for (const op of history) {
    const found = where.get(op.value);
    if (op.outcome === 'unknown' && found !== undefined) unknownPresent++;
    if (op.outcome !== 'ok') continue;
    if (found === undefined) violations.push({ kind: 'lost', value: op.value, detail: `acknowledged at offset ${op.offset} (returned at ${op.ret} ms), not in the log` });
    else if (found[0] !== op.offset) violations.push({ kind: 'misplaced', value: op.value, detail: `acknowledged at offset ${op.offset}, found at ${found[0]}` });
  }
  const clients = new Map<number, WriteOp[]>();
  for (const op of history) clients.set(op.client, [...(clients.get(op.client) ?? []), op]);
  for (const [client, ops] of clients) {
    const sorted = [...ops].sort((a, b) => a.call - b.call);
    let last = -1;
    let lastValue = '';
    for (const op of sorted) {
      const o = where.get(op.value)?.[0];
      if (o === undefined) continue;
      if (o < last) violations.push({ kind: 'client-order', value: op.value, detail: `client ${client}: at offset ${o}, before its earlier write ${lastValue} at ${last}` });
      last = Math.max(last, o);
      lastValue = op.value;
    }
  }
  const count = (k: WriteOutcome): number => history.filter((h) => h.outcome === k).length;
  return {
    valid: violations.length === 0,
    violations,
    counts: { ok: count('ok'), fail: count('fail'), unknown: count('unknown'), unknownPresent, logLength: log.length },
  };
}

/** The longest stretch without any acknowledged write, inside [from, to] (ms). */
export function longestUnavailability(history: readonly WriteOp[], from: number, to: number): { start: number; ms: number } {
  const acks = history.filter((h) => h.outcome === 'ok' && h.ret >= from && h.ret <= to).map((h) => h.ret).sort((a, b) => a - b);
  let best = { start: from, ms: 0 };
  let prev = from;
  for (const t of [...acks, to]) {
    if (t - prev > best.ms) best = { start: prev, ms: t - prev };
    prev = t;
  }
  return best;
}
