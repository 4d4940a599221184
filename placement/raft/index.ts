/** Public surface of the Raft core. */
export * from './types.js';
export * from './errors.js';
export * from './rng.js';
export * from './storage.js';
export { RaftNode } from './raft-node.js';
export type { RaftNodeConfig, RaftStatus, ProgressStatus, SnapshotReport } from './raft-node.js';
export { encodeConfChange, decodeConfChange } from './conf-change.js';
