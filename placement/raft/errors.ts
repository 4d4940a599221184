/**
 * Typed errors of the Raft core and its log storage. Callers branch on `code`, never on text.
 */

export type RaftErrorCode =
  /** The requested index is below the first index kept by storage (compacted into a snapshot). */
  | 'RAFT_COMPACTED'
  /** The requested index is above the last index in storage. */
  | 'RAFT_UNAVAILABLE'
  /** A snapshot older than the one already in storage was offered. */
  | 'RAFT_SNAPSHOT_OUT_OF_DATE'
  /** A proposal was not appended (no leader known, leader transfer in progress, node removed). */
  | 'RAFT_PROPOSAL_DROPPED'
  /** A membership change was refused (another change pending, or an invalid change). */
  | 'RAFT_CONF_CHANGE_REJECTED'
  /** A read request was not accepted because no leader is known. */
  | 'RAFT_READ_INDEX_DROPPED'
  /** The API was used out of order, e.g. advance() without ready(). */
  | 'RAFT_MISUSE'
  /** The node configuration is invalid. */
  | 'RAFT_INVALID_CONFIG'
  /** A stored or received record does not decode. */
  | 'RAFT_CORRUPT';

export class RaftError extends Error {
  readonly code: RaftErrorCode;

  constructor(code: RaftErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'RaftError';
    this.code = code;
  }
}

export function isRaftError(err: unknown, code?: RaftErrorCode): err is RaftError {
  return err instanceof RaftError && (code === undefined || err.code === code);
}
