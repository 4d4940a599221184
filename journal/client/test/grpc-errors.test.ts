// Coded errors across the gRPC boundary, and the storage layer's codes in the shared catalogue.
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CodedError, errorCatalogue, isErrorCode } from '../../../common/errors.js';
import { JOURNAL_STORAGE_ERROR_CODES, JournalStorageError } from '../../storage/index.js';
import { asCodedError, fromGrpcError, toGrpcStatus } from '../grpc-errors.js';

describe('journal gRPC errors', () => {
  it('every storage error code is in the shared catalogue', () => {
    for (const code of JOURNAL_STORAGE_ERROR_CODES) expect(isErrorCode(code), code).toBe(true);
  });

  it('round-trips a coded error with its details and the leader in metadata', () => {
    const err = new CodedError('JR_NOT_SHARD_LEADER', 'node 2 does not lead s', { details: { shard: 's', leader_id: 3, leader_addr: '10.0.0.3:1778' } });
    const st = toGrpcStatus(err);
    expect(st.code).toBe(status.FAILED_PRECONDITION);
    expect(st.metadata!.get('jr-leader-address')).toEqual(['10.0.0.3:1778']);
    const back = fromGrpcError({ code: st.code, details: st.details, metadata: st.metadata, message: 'x' });
    expect(back).toMatchObject({ code: 'JR_NOT_SHARD_LEADER', message: 'node 2 does not lead s', details: { shard: 's', leader_id: 3, leader_addr: '10.0.0.3:1778' } });
  });

  it('keeps storage error codes and maps each to its catalogue status', () => {
    const st = toGrpcStatus(new JournalStorageError('JR_OFFSET_OUT_OF_RANGE', 'offset 9 outside [0, 3]', { offset: 9 }));
    expect(st.code).toBe(status.OUT_OF_RANGE);
    expect(asCodedError(new JournalStorageError('JR_CORRUPT_SEGMENT', 'bad crc')).code).toBe('JR_CORRUPT_SEGMENT');
    expect(errorCatalogue.JR_CORRUPT_SEGMENT.grpc).toBe('DATA_LOSS');
    expect(toGrpcStatus(new Error('boom')).code).toBe(status.INTERNAL);
  });

  it('names transport failures, and marks a call that never left as not sent', () => {
    const refused = fromGrpcError({ code: status.UNAVAILABLE, details: 'No connection established. Last error: connect ECONNREFUSED', metadata: new Metadata() });
    expect(refused).toMatchObject({ code: 'JR_UNREACHABLE', details: { not_sent: true } });
    const lost = fromGrpcError({ code: status.UNAVAILABLE, details: 'Connection dropped', metadata: new Metadata() });
    expect(lost.code).toBe('JR_UNREACHABLE');
    expect(lost.details.not_sent).toBeUndefined();
    const sent = fromGrpcError({ code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 2.001s,LB pick: 0.001s,remote_addr=127.0.0.1:5', metadata: new Metadata() });
    expect(sent.code).toBe('JR_TIMEOUT');
    expect(sent.details.not_sent).toBeUndefined();
    // grpc-js: the deadline passed while the call still waited for a connection.
    const queued = fromGrpcError({ code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 2.001s,name resolution: 0.001s,Waiting for LB pick', metadata: new Metadata() });
    expect(queued).toMatchObject({ code: 'JR_UNREACHABLE', details: { not_sent: true } });
  });
});
