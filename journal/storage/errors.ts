// Typed errors of the journal storage layer. Codes follow the project's catalogue style
// (`JR_*`); the gRPC service maps each code to a status once.

export const JOURNAL_STORAGE_ERROR_CODES = [
  /** A batch failed its CRC or structural checks; `details` names file and byte position. */
  'JR_CORRUPT_SEGMENT',
  /** Offset outside [earliestOffset, nextOffset]. */
  'JR_OFFSET_OUT_OF_RANGE',
  /** A record in an append is malformed (bad value/key/header/timestamp type or range). */
  'JR_INVALID_RECORD',
  /** A method argument is malformed (negative maxRecords, empty batch, ...). */
  'JR_INVALID_ARGUMENT',
  /** ShardLog.open received an unknown option or a bad value. */
  'JR_INVALID_OPTIONS',
  /** One append's encoded batch exceeds `max_batch_bytes`. */
  'JR_BATCH_TOO_LARGE',
  /** append() with `expectedBaseOffset` that is not the next offset (replication guard). */
  'JR_OFFSET_MISMATCH',
  /** The log was closed (or is closing). */
  'JR_CLOSED',
  /** A write or fsync failed; the log refuses further writes until reopened (which recovers). */
  'JR_IO_ERROR',
  /** Another live process (or ShardLog in this process) holds the shard directory. */
  'JR_SHARD_LOCKED',
  /** readByKey on a log opened without `key_index: true`. */
  'JR_KEY_INDEX_DISABLED',
] as const;

export type JournalStorageErrorCode = (typeof JOURNAL_STORAGE_ERROR_CODES)[number];

export interface CorruptionDetails {
  file: string;
  position: number;
  reason: string;
}

export class JournalStorageError extends Error {
  readonly code: JournalStorageErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: JournalStorageErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(`${code}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'JournalStorageError';
    this.code = code;
    this.details = details;
  }
}

export class CorruptSegmentError extends JournalStorageError {
  readonly file: string;
  readonly position: number;
  readonly reason: string;

  constructor(d: CorruptionDetails) {
    super('JR_CORRUPT_SEGMENT', `${d.file} at byte ${d.position}: ${d.reason}`, { ...d });
    this.name = 'CorruptSegmentError';
    this.file = d.file;
    this.position = d.position;
    this.reason = d.reason;
  }
}

export function isJournalStorageError(e: unknown, code?: JournalStorageErrorCode): e is JournalStorageError {
  return e instanceof JournalStorageError && (code === undefined || e.code === code);
}
