export type { Model, Operation } from './model.js';
export { isUnknown } from './model.js';
export { checkOperations } from './checker.js';
export type { CheckOptions, CheckResult, Counterexample, Verdict } from './checker.js';
export { kvModel } from './kv-model.js';
export type { KvInput, KvOutput, KvOperation, KvState } from './kv-model.js';
export { historyToJson, readHistoryFile, writeHistoryFile } from './history-file.js';
export type { HistoryFile } from './history-file.js';
