// Errors across the journal's gRPC boundary. A server turns a CodedError or a storage error into a
// gRPC status whose trailing metadata carries the catalogue code and structured details; a client
// turns the status back into the same CodedError, so nobody parses codes or leader addresses out
// of message text.

import { Metadata, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { CodedError, GrpcStatus, errorCatalogue, isCodedError, isErrorCode, type ErrorCode } from '../../common/errors.js';
import { isJournalStorageError } from '../storage/index.js';

export const ERROR_CODE_KEY = 'jr-error-code';
export const ERROR_DETAILS_KEY = 'jr-error-details';
export const LEADER_ID_KEY = 'jr-leader-id';
export const LEADER_ADDRESS_KEY = 'jr-leader-address';

/** Any thrown value as a catalogue error (storage errors keep their JR_* code and details). */
export function asCodedError(err: unknown): CodedError {
  if (isCodedError(err)) return err;
  if (isJournalStorageError(err) && isErrorCode(err.code)) {
    return new CodedError(err.code, err.message, { details: { ...err.details }, cause: err });
  }
  return new CodedError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
}

/** The status object a grpc-js handler passes to its callback. */
export function toGrpcStatus(err: unknown): Partial<StatusObject> {
  const coded = asCodedError(err);
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, coded.code);
  metadata.set(ERROR_DETAILS_KEY, JSON.stringify(coded.details));
  const { leader_id: leaderId, leader_addr: leaderAddr } = coded.details as { leader_id?: unknown; leader_addr?: unknown };
  if (typeof leaderId === 'number' && leaderId > 0) metadata.set(LEADER_ID_KEY, String(leaderId));
  if (typeof leaderAddr === 'string' && leaderAddr !== '') metadata.set(LEADER_ADDRESS_KEY, leaderAddr);
  return { code: GrpcStatus[errorCatalogue[coded.code].grpc], details: coded.message, metadata };
}

function firstString(md: Metadata | undefined, key: string): string | undefined {
  const v = md?.get(key)[0];
  return typeof v === 'string' ? v : v === undefined ? undefined : v.toString('utf8');
}

/** A grpc-js client error as a CodedError; transport failures get JR_UNREACHABLE / JR_TIMEOUT. */
export function fromGrpcError(err: unknown): CodedError {
  if (isCodedError(err)) return err;
  const e = err as Partial<ServiceError>;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'number') return asCodedError(err);
  const code = firstString(e.metadata, ERROR_CODE_KEY);
  const text = e.details ?? e.message ?? 'journal request failed';
  if (code !== undefined && isErrorCode(code)) {
    let details: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(firstString(e.metadata, ERROR_DETAILS_KEY) ?? '{}');
      if (typeof parsed === 'object' && parsed !== null) details = parsed as Record<string, unknown>;
    } catch {
      details = {};
    }
    return new CodedError(code, text, { details, cause: err });
  }
  const byStatus: Partial<Record<number, ErrorCode>> = {
    [GrpcStatus.UNAVAILABLE]: 'JR_UNREACHABLE',
    [GrpcStatus.DEADLINE_EXCEEDED]: 'JR_TIMEOUT',
    [GrpcStatus.CANCELLED]: 'JR_UNREACHABLE',
  };
  // grpc-js reports a call that never left this process (no connection could be made) this way;
  // such a call had no effect, so even a write may be sent elsewhere. A deadline that passed while
  // the call still waited for a connection ("Waiting for LB pick": it was never assigned to one)
  // is the same case; JournalConnection waits for the connection first, so this is the rare case
  // of a connection lost between that wait and the call.
  const notSent =
    (e.code === GrpcStatus.UNAVAILABLE && /No connection established|ECONNREFUSED|Connection refused/i.test(text)) ||
    (e.code === GrpcStatus.DEADLINE_EXCEEDED && /Waiting for LB pick/.test(text));
  const mapped: ErrorCode = notSent ? 'JR_UNREACHABLE' : byStatus[e.code] ?? 'INTERNAL';
  return new CodedError(mapped, text, { details: { grpc_status: e.code, ...(notSent ? { not_sent: true } : {}) }, cause: err });
}
