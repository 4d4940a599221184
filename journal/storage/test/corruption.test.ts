// Garbage written at a random position of a segment or index file, then reopen (with or
// without the clean-shutdown marker): the valid prefix survives and no invalid record is served.
// Replay a failure with JOURNAL_FC_SEED=<seed>.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ShardLog, isJournalStorageError, type StoredRecord } from '../index.js';
import { segmentFileName } from '../segment-files.js';

const BATCH_HEADER_BYTES = 40;
const RECORD_FIXED_BYTES = 16;

interface Batch {
  base: number;
  values: string[];
  length: number;
}

const seed = process.env.JOURNAL_FC_SEED ? Number(process.env.JOURNAL_FC_SEED) : undefined;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-corrupt-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function valueOf(offset: number, size: number): string {
  return `v${offset}-`.padEnd(size, String.fromCharCode(97 + (offset % 26)));
}

/** Where each batch landed: segment base and byte range, derived from the append sizes. */
function layout(batches: Batch[], segmentBases: number[]): Map<number, { seg: number; start: number; end: number }> {
  const out = new Map<number, { seg: number; start: number; end: number }>();
  const pos = new Map<number, number>();
  for (const b of batches) {
    const seg = segmentBases.filter((s) => s <= b.base).at(-1)!;
    const start = pos.get(seg) ?? 0;
    out.set(b.base, { seg, start, end: start + b.length });
    pos.set(seg, start + b.length);
  }
  return out;
}

async function readOne(log: ShardLog, offset: number): Promise<StoredRecord | 'corrupt'> {
  try {
    const r = await log.read({ offset, maxRecords: 1 });
    expect(r.length).toBe(1);
    return r[0]!;
  } catch (e: unknown) {
    if (isJournalStorageError(e, 'JR_CORRUPT_SEGMENT')) {
      expect(typeof e.details.file).toBe('string');
      expect(typeof e.details.position).toBe('number');
      return 'corrupt';
    }
    throw e;
  }
}

describe('recovery from corrupted files', () => {
  it('keeps the valid prefix and never serves invalid data', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 4 }), { minLength: 3, maxLength: 25 }),
        fc.constantFrom('log', 'index', 'timeindex'),
        fc.nat(),
        fc.nat(),
        fc.uint8Array({ minLength: 1, maxLength: 48 }),
        fc.boolean(),
        fc.boolean(),
        async (batchSizes, ext, fileSeed, posSeed, garbage, keepMarker, truncateInstead) => {
          const dir = path.join(root, String(run++));
          const opts = { segment_bytes: 900, index_interval_bytes: 60, fsync: 'never' as const };
          let log = await ShardLog.open(dir, opts);
          const batches: Batch[] = [];
          for (const sizes of batchSizes) {
            const base = log.nextOffset();
            const values = sizes.map((s, i) => valueOf(base + i, s));
            await log.append(values.map((v, i) => ({ value: Buffer.from(v), timestamp: base + i })));
            batches.push({ base, values, length: BATCH_HEADER_BYTES + values.reduce((a, v) => a + RECORD_FIXED_BYTES + v.length, 0) });
          }
          const next = log.nextOffset();
          const bases = log.segmentInfo().map((s) => s.baseOffset);
          await log.close();
          if (!keepMarker) {
            // What a crash leaves: no marker, and no index files for the active segment.
            fs.rmSync(path.join(dir, 'clean-shutdown'));
            fs.rmSync(path.join(dir, segmentFileName(bases.at(-1)!, 'index')));
            fs.rmSync(path.join(dir, segmentFileName(bases.at(-1)!, 'timeindex')));
          }
          const candidates = bases.filter((b) => fs.existsSync(path.join(dir, segmentFileName(b, ext))) && fs.statSync(path.join(dir, segmentFileName(b, ext))).size > 0);
          if (candidates.length === 0) return;
          const segBase = candidates[fileSeed % candidates.length]!;
          const file = path.join(dir, segmentFileName(segBase, ext));
          const size = fs.statSync(file).size;
          const at = posSeed % size;
          const original = fs.readFileSync(file);
          if (truncateInstead) fs.truncateSync(file, at);
          else {
            const fd = fs.openSync(file, 'r+');
            fs.writeSync(fd, garbage, 0, garbage.length, at);
            fs.closeSync(fd);
          }
          const changed = !fs.readFileSync(file).equals(original);

          log = await ShardLog.open(dir, opts);
          try {
            const where = layout(batches, bases);
            const expected = new Map<number, string>();
            for (const b of batches) b.values.forEach((v, i) => expected.set(b.base + i, v));
            // Records whose batch lies wholly before the damage (or anywhere, if an index was damaged).
            const mustSurvive = (offset: number): boolean => {
              if (ext !== 'log' || !changed) return true;
              const b = batches.filter((x) => x.base <= offset).at(-1)!;
              const w = where.get(b.base)!;
              return w.seg < segBase || (w.seg === segBase && w.end <= at);
            };
            expect(log.earliestOffset()).toBe(0);
            const end = log.nextOffset();
            expect(end).toBeLessThanOrEqual(next);
            for (let o = 0; o < next; o++) {
              if (o >= end) {
                expect(mustSurvive(o)).toBe(false);
                continue;
              }
              const r = await readOne(log, o);
              if (r === 'corrupt') {
                expect(mustSurvive(o)).toBe(false);
                continue;
              }
              expect(r.offset).toBe(o);
              expect(r.value.toString()).toBe(expected.get(o));
              expect(r.timestamp).toBe(o);
            }
            if (ext !== 'log' || !changed) expect(end).toBe(next);
            // The log stays writable and dense after recovery.
            expect(await log.append([{ value: Buffer.from('after') }])).toEqual({ baseOffset: end, lastOffset: end });
            expect((await log.read({ offset: end }))[0]!.value.toString()).toBe('after');
          } finally {
            await log.close();
            fs.rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 200, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true, ...(seed !== undefined ? { seed } : {}) },
    );
  }, 90_000);
});
