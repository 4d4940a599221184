// Failures of the cluster layer that reach a caller (a publisher's acknowledgement, a CONNECT),
// as codes of the catalogue in common/errors.ts (BR_CLUSTER_*), without the prefix here.

import { CodedError } from '../../common/errors.js';

export type ClusterErrorCode =
  /** The peer broker is dead or did not answer in time. */
  | 'PEER_UNREACHABLE'
  /** The peer's storage failed while it routed a forwarded batch. */
  | 'PEER_STORAGE_FAILED'
  /** Placement did not confirm this broker as the session's owner. */
  | 'SESSION_CLAIM_FAILED'
  /** This broker lost placement for a whole heartbeat timeout. */
  | 'FENCED'
  /** A peer sent something that does not decode. */
  | 'PEER_PROTOCOL';

export class ClusterError extends CodedError {
  readonly clusterCode: ClusterErrorCode;
  constructor(code: ClusterErrorCode, message: string) {
    super(`BR_CLUSTER_${code}`, message);
    this.clusterCode = code;
    this.name = 'ClusterError';
  }
}
