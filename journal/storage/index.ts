// Public surface of the journal storage layer.
export { ShardLog, type AppendOptions, type AppendResult, type ReadQuery, type RetentionResult, type SegmentInfo, type ShardLogStats } from './shard-log.js';
export { DEFAULT_SHARD_LOG_OPTIONS, resolveShardLogOptions, type FsyncPolicy, type ShardLogOptions } from './options.js';
export { type AppendRecord, type StoredRecord } from './record-batch.js';
export { type RecoveryReport } from './recovery.js';
export { CorruptSegmentError, JournalStorageError, JOURNAL_STORAGE_ERROR_CODES, isJournalStorageError, type JournalStorageErrorCode } from './errors.js';
export { crc32c } from './crc32c.js';
