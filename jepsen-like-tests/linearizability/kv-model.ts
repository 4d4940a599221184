/**
 * The model of the placement KV: a map from key to string, with put, get, delete and
 * compare-and-set. Keys are independent, so histories are checked one key at a time.
 */
import type { Model, Operation } from './model.js';

export type KvInput =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

export type KvOutput =
  | { readonly op: 'put' }
  | { readonly op: 'get'; readonly value: string | null }
  | { readonly op: 'delete'; readonly existed?: boolean }
  | { readonly op: 'cas'; readonly ok: boolean };

/** The value of one key; null when absent. */
export type KvState = string | null;

export type KvOperation = Operation<KvInput, KvOutput>;

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output) {
    if (output !== undefined && output.op !== input.op) return [false, state];
    switch (input.op) {
      case 'put':
        return [true, input.value];
      case 'get':
        return [output === undefined || (output.op === 'get' && output.value === state), state];
      case 'delete':
        if (output?.op === 'delete' && output.existed !== undefined && output.existed !== (state !== null)) return [false, state];
        return [true, null];
      case 'cas': {
        const matches = state === input.expected;
        if (output === undefined) return [true, matches ? input.value : state];
        if (output.op !== 'cas' || output.ok !== matches) return [false, state];
        return [true, matches ? input.value : state];
      }
    }
  },
  partition(history) {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of history) {
      const list = byKey.get(op.input.key);
      if (list) list.push(op);
      else byKey.set(op.input.key, [op]);
    }
    return [...byKey.values()];
  },
  stateKey: (s) => (s === null ? '\u0000' : `v${s}`),
  readOnly: (input) => input.op === 'get',
  describe(op) {
    const i = op.input;
    const args = i.op === 'put' ? `${i.key}=${i.value}` : i.op === 'cas' ? `${i.key}: ${i.expected}->${i.value}` : i.key;
    const out = op.output === undefined ? '?' : JSON.stringify(op.output);
    return `client ${op.clientId} ${i.op}(${args}) -> ${out} [${op.call}, ${op.return ?? '∞'}]`;
  },
};
