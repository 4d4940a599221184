// CodedError <-> gRPC status with structured metadata, both directions in one place so the
// server and the client agree. Metadata keys:
//   pc-error-code      a code of common/errors.ts
//   pc-leader-id       PC_NOT_LEADER: the leader's node id
//   pc-leader-address  PC_NOT_LEADER: the leader's client address (host:port)
//   pc-first-index     PC_WATCH_COMPACTED: the first index this node can resume from
//   pc-match-index     PC_LEARNER_NOT_CAUGHT_UP: the learner's match index
//   pc-last-index      PC_LEARNER_NOT_CAUGHT_UP: the leader's last index
// The receiver never parses the message text.

import * as grpc from '@grpc/grpc-js';
import { CodedError, isCodedError, isErrorCode, type ErrorCode } from '../../common/errors.js';

export const ERROR_CODE_KEY = 'pc-error-code';
export const LEADER_ID_KEY = 'pc-leader-id';
export const LEADER_ADDRESS_KEY = 'pc-leader-address';
export const FIRST_INDEX_KEY = 'pc-first-index';
export const MATCH_INDEX_KEY = 'pc-match-index';
export const LAST_INDEX_KEY = 'pc-last-index';

/** Details of PC_NOT_LEADER. */
export interface NotLeaderDetails {
  readonly leaderId: number;
  readonly leaderAddress: string;
}

export function toServiceError(err: unknown): grpc.ServiceError {
  const coded = isCodedError(err) ? err : new CodedError('INTERNAL', err instanceof Error ? err.message : String(err));
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, coded.code);
  const d = coded.details;
  if (typeof d.leaderId === 'number') metadata.set(LEADER_ID_KEY, String(d.leaderId));
  if (typeof d.leaderAddress === 'string') metadata.set(LEADER_ADDRESS_KEY, d.leaderAddress);
  if (typeof d.firstIndex === 'number') metadata.set(FIRST_INDEX_KEY, String(d.firstIndex));
  if (typeof d.matchIndex === 'number') metadata.set(MATCH_INDEX_KEY, String(d.matchIndex));
  if (typeof d.lastIndex === 'number') metadata.set(LAST_INDEX_KEY, String(d.lastIndex));
  return Object.assign(new Error(coded.message), { code: coded.grpcStatus, details: coded.message, metadata });
}

function metaString(md: grpc.Metadata | undefined, key: string): string | undefined {
  const v = md?.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

/**
 * A grpc-js error as a CodedError. Errors without our metadata (the server was unreachable, the
 * deadline passed on the wire) map by status: UNAVAILABLE -> PC_UNREACHABLE,
 * DEADLINE_EXCEEDED -> PC_TIMEOUT, anything else -> INTERNAL.
 */
export function fromServiceError(err: unknown, address: string): CodedError {
  const e = err as Partial<grpc.ServiceError>;
  const md = e.metadata;
  const codeText = metaString(md, ERROR_CODE_KEY);
  const message = e.details ?? (err instanceof Error ? err.message : String(err));
  if (codeText !== undefined && isErrorCode(codeText)) {
    const details: Record<string, unknown> = { address };
    const leaderId = metaString(md, LEADER_ID_KEY);
    const leaderAddress = metaString(md, LEADER_ADDRESS_KEY);
    const firstIndex = metaString(md, FIRST_INDEX_KEY);
    const matchIndex = metaString(md, MATCH_INDEX_KEY);
    const lastIndex = metaString(md, LAST_INDEX_KEY);
    if (leaderId !== undefined) details.leaderId = Number(leaderId);
    if (leaderAddress !== undefined) details.leaderAddress = leaderAddress;
    if (firstIndex !== undefined) details.firstIndex = Number(firstIndex);
    if (matchIndex !== undefined) details.matchIndex = Number(matchIndex);
    if (lastIndex !== undefined) details.lastIndex = Number(lastIndex);
    return new CodedError(codeText, message, { details, cause: err });
  }
  let code: ErrorCode = 'INTERNAL';
  if (e.code === grpc.status.UNAVAILABLE || e.code === grpc.status.CANCELLED) code = 'PC_UNREACHABLE';
  else if (e.code === grpc.status.DEADLINE_EXCEEDED) code = 'PC_TIMEOUT';
  return new CodedError(code, `${address}: ${message}`, { details: { address }, cause: err });
}
