// The error a driver rejects with when a batch holds an op that breaks the interface's rules
// (a malformed record, or a reference to something that does not exist). It is a StorageError,
// so a broker that refuses to acknowledge on any StorageError keeps doing the safe thing; the
// batch was not applied at all.

import { StorageError } from './driver.js';

export class StorageOpError extends StorageError {
  /** Position of the offending op in the batch passed to apply(). */
  readonly opIndex: number;
  /** The op kind (`out.put`, ...), or `batch` when the batch itself is malformed. */
  readonly opKind: string;

  constructor(opIndex: number, opKind: string, reason: string) {
    super(`invalid storage op #${opIndex} (${opKind}): ${reason}; the batch was not applied`);
    this.name = 'StorageOpError';
    this.opIndex = opIndex;
    this.opKind = opKind;
  }
}
