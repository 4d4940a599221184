/**
 * A porcupine-style linearizability checker: Wing & Gong's search with Lowe's memoization
 * (the set of linearized operations plus the model state is never explored twice), applied to
 * each partition of the history separately.
 *
 * The history is laid out as a doubly linked list of call and return events in time order. The
 * search repeatedly tries to linearize a pending call (apply it to the model and remove it from
 * the list); reaching a return event whose call has not been linearized means the current
 * choice is wrong, so it backtracks. The history is linearizable iff the list can be emptied.
 */
import type { Model, Operation } from './model.js';
import { isUnknown } from './model.js';

export type Verdict = 'ok' | 'illegal' | 'unknown';

export interface Counterexample<I, O> {
  /** Which partition (e.g. which key) is not linearizable. */
  readonly partition: number;
  /** The operations of that partition, in call order. */
  readonly history: readonly Operation<I, O>[];
  /** The longest sequence of operations the search could linearize. */
  readonly longestPrefix: readonly Operation<I, O>[];
  /** Operations that could not be placed after that prefix. */
  readonly remaining: readonly Operation<I, O>[];
}

export interface CheckResult<I, O> {
  readonly verdict: Verdict;
  readonly linearizable: boolean;
  readonly partitions: number;
  readonly counterexample?: Counterexample<I, O>;
}

export interface CheckOptions {
  /** Search steps per partition before giving up with verdict 'unknown'. */
  readonly maxSteps?: number;
}

interface Node {
  kind: 'call' | 'return';
  op: number;
  time: number;
  match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

class Bitset {
  private readonly words: Uint32Array;

  constructor(n: number) {
    this.words = new Uint32Array(Math.ceil(n / 32) || 1);
  }

  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }

  clear(i: number): void {
    this.words[i >>> 5]! &= ~(1 << (i & 31));
  }

  key(): string {
    return this.words.join(',');
  }
}

export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  for (const op of history) validate(op);
  const relevant = history.filter((op) => !(isUnknown(op) && model.readOnly?.(op.input)));
  const parts = model.partition ? model.partition(relevant) : [relevant.slice()];
  let verdict: Verdict = 'ok';
  for (let p = 0; p < parts.length; p++) {
    const ops = [...parts[p]!].sort((a, b) => a.call - b.call);
    const r = checkPartition(model, ops, options.maxSteps ?? 2_000_000);
    if (r.verdict === 'illegal') {
      return {
        verdict: 'illegal',
        linearizable: false,
        partitions: parts.length,
        counterexample: {
          partition: p,
          history: ops,
          longestPrefix: r.prefix.map((i) => ops[i]!),
          remaining: ops.filter((_, i) => !r.prefix.includes(i)),
        },
      };
    }
    if (r.verdict === 'unknown') verdict = 'unknown';
  }
  return { verdict, linearizable: verdict === 'ok', partitions: parts.length };
}

function validate(op: Operation<unknown, unknown>): void {
  if (!Number.isFinite(op.call)) throw new RangeError(`operation of client ${op.clientId} has no finite call time`);
  if (!isUnknown(op)) {
    if (op.return! < op.call) throw new RangeError(`operation of client ${op.clientId} returns (${op.return}) before its call (${op.call})`);
    if (!('output' in op)) throw new RangeError(`operation of client ${op.clientId} returned at ${op.return} without an output`);
  }
}

function buildList(ops: readonly Operation<unknown, unknown>[]): Node {
  const events: Node[] = [];
  ops.forEach((op, i) => {
    const call: Node = { kind: 'call', op: i, time: op.call, match: undefined, prev: undefined, next: undefined };
    const ret: Node = { kind: 'return', op: i, time: isUnknown(op) ? Infinity : op.return!, match: undefined, prev: undefined, next: undefined };
    call.match = ret;
    events.push(call, ret);
  });
  // On equal times calls go first: the two operations are then treated as concurrent.
  events.sort((a, b) => a.time - b.time || (a.kind === b.kind ? a.op - b.op : a.kind === 'call' ? -1 : 1));
  const head: Node = { kind: 'call', op: -1, time: -Infinity, match: undefined, prev: undefined, next: undefined };
  let prev = head;
  for (const e of events) {
    prev.next = e;
    e.prev = prev;
    prev = e;
  }
  return head;
}

function lift(call: Node): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Node): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  maxSteps: number,
): { verdict: Verdict; prefix: number[] } {
  const stateKey = model.stateKey ?? ((s: S) => JSON.stringify(s) ?? 'undefined');
  const head = buildList(ops);
  const linearized = new Bitset(ops.length);
  const cache = new Set<string>();
  const calls: { node: Node; state: S }[] = [];
  let best: number[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;
  while (head.next !== undefined) {
    if (++steps > maxSteps) return { verdict: 'unknown', prefix: best };
    // The list always ends with a return event, so walking forward never runs off the end.
    if (entry === undefined) throw new Error('linearizability search ran past the last event');
    if (entry.kind === 'call') {
      const op = ops[entry.op]!;
      const [ok, next] = model.step(state, op.input, isUnknown(op) ? undefined : op.output);
      if (ok) {
        linearized.set(entry.op);
        const key = `${linearized.key()}|${stateKey(next)}`;
        if (!cache.has(key)) {
          cache.add(key);
          calls.push({ node: entry, state });
          state = next;
          lift(entry);
          if (calls.length > best.length) best = calls.map((c) => c.node.op);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.op);
      }
      entry = entry.next;
    } else {
      const top = calls.pop();
      if (top === undefined) return { verdict: 'illegal', prefix: best };
      state = top.state;
      linearized.clear(top.node.op);
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return { verdict: 'ok', prefix: calls.map((c) => c.node.op) };
}
