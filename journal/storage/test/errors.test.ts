import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CorruptSegmentError, JOURNAL_STORAGE_ERROR_CODES, JournalStorageError, isJournalStorageError } from '../index.js';

describe('error catalogue', () => {
  it('README lists exactly the codes errors.ts defines', () => {
    const readme = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'README.md'), 'utf8');
    const documented = new Set(readme.match(/JR_[A-Z_]+/g));
    expect([...documented].sort()).toEqual([...JOURNAL_STORAGE_ERROR_CODES].sort());
  });

  it('errors carry code, details and a narrowable type', () => {
    const e = new CorruptSegmentError({ file: '/x/00000000000000000000.log', position: 40, reason: 'CRC mismatch' });
    expect(e).toBeInstanceOf(JournalStorageError);
    expect(e.code).toBe('JR_CORRUPT_SEGMENT');
    expect(e.message).toContain('/x/00000000000000000000.log at byte 40');
    expect(isJournalStorageError(e, 'JR_CORRUPT_SEGMENT')).toBe(true);
    expect(isJournalStorageError(e, 'JR_CLOSED')).toBe(false);
  });
});
