// Failures of the cluster layer that reach a caller (a publisher's acknowledgement, a CONNECT).
// Kept here rather than in common/errors.ts's catalogue because they never cross a process
// boundary as codes: a publisher sees 0x80 (v5) or a closed connection (v3), a CONNECT 0x88.

export type ClusterErrorCode =
  /** The peer broker is dead or did not answer in time. */
  | 'PEER_UNREACHABLE'
  /** The peer's storage failed while it routed a forwarded batch. */
  | 'PEER_STORAGE_FAILED'
  /** Placement did not confirm this broker as the session's owner. */
  | 'SESSION_CLAIM_FAILED';

export class ClusterError extends Error {
  constructor(readonly code: ClusterErrorCode, message: string) {
    super(message);
    this.name = 'ClusterError';
  }
}
