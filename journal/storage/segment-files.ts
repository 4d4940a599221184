// Names of the files in a shard directory.

export const LOG_EXT = 'log';
export const INDEX_EXT = 'index';
export const TIME_INDEX_EXT = 'timeindex';
/** Written last by a clean close; its presence lets open() trust the index files. */
export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown';
/** Holds the pid of the process that has the shard open. */
export const LOCK_FILE = 'shard.lock';
/** Segments that followed a corrupt point found by recovery are moved here, never served. */
export const QUARANTINE_DIR = 'quarantine';
export const TMP_SUFFIX = '.tmp';
/** `<base>.log.truncate`: redo record of a truncation that splits a batch (see segment.ts). */
export const TRUNCATE_INTENT_SUFFIX = '.truncate';

const NAME = /^(\d{20})\.(log|index|timeindex)$/;

export function segmentFileName(baseOffset: number, ext: string): string {
  return `${String(baseOffset).padStart(20, '0')}.${ext}`;
}

export function parseSegmentFileName(name: string): { baseOffset: number; ext: string } | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const baseOffset = Number(m[1]);
  if (!Number.isSafeInteger(baseOffset)) return null;
  return { baseOffset, ext: m[2]! };
}
