/**
 * Saves a history (and, when the check failed, its counterexample) as JSON so a failing run can
 * be inspected and re-checked later. Unknown return times are written as null.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { CheckResult } from './checker.js';
import type { Operation } from './model.js';

export interface HistoryFile<I, O> {
  readonly version: 1;
  readonly note?: string;
  readonly verdict?: CheckResult<I, O>['verdict'];
  readonly history: readonly Operation<I, O>[];
  readonly counterexample?: CheckResult<I, O>['counterexample'];
}

export function historyToJson<I, O>(history: readonly Operation<I, O>[], result?: CheckResult<I, O>, note?: string): string {
  const file: HistoryFile<I, O> = {
    version: 1,
    ...(note !== undefined ? { note } : {}),
    ...(result ? { verdict: result.verdict } : {}),
    history,
    ...(result?.counterexample ? { counterexample: result.counterexample } : {}),
  };
  return JSON.stringify(file, (_k, v: unknown) => (v === Infinity ? null : v), 2);
}

export function writeHistoryFile<I, O>(path: string, history: readonly Operation<I, O>[], result?: CheckResult<I, O>, note?: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, historyToJson(history, result, note));
}

export function readHistoryFile<I, O>(path: string): HistoryFile<I, O> {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as HistoryFile<I, O>;
  if (parsed.version !== 1 || !Array.isArray(parsed.history)) {
    throw new TypeError(`${path} is not a version-1 history file`);
  }
  const history = parsed.history.map((op) => {
    const { return: ret, ...rest } = op as Operation<I, O> & { return?: number | null };
    return ret === null || ret === undefined ? (rest as Operation<I, O>) : { ...rest, return: ret };
  });
  return { ...parsed, history };
}
