// Deterministic recovery scenarios (the property-based ones live in corruption.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CorruptSegmentError, ShardLog } from '../index.js';
import { encodeBatch, sealBatch } from '../record-batch.js';
import { encodeTruncateIntent } from '../segment.js';
import { segmentFileName } from '../segment-files.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-recovery-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const opts = { segment_bytes: 300, index_interval_bytes: 50, fsync: 'never' as const };

/** 30 one-record batches of 60-byte values: 116 bytes each, two batches per segment. */
async function filled(dir: string): Promise<number[]> {
  const log = await ShardLog.open(dir, opts);
  for (let i = 0; i < 30; i++) await log.append([{ value: Buffer.alloc(60, i), timestamp: i }]);
  const bases = log.segmentInfo().map((s) => s.baseOffset);
  await log.close();
  return bases;
}

function crash(dir: string, activeBase: number): void {
  fs.rmSync(path.join(dir, 'clean-shutdown'));
  fs.rmSync(path.join(dir, segmentFileName(activeBase, 'index')));
  fs.rmSync(path.join(dir, segmentFileName(activeBase, 'timeindex')));
}

function scribble(file: string, position: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, bytes, 0, bytes.length, position);
  fs.closeSync(fd);
}

describe('recovery', () => {
  it('trusts indexes after a clean close and rebuilds them after a crash', async () => {
    const dir = tmpDir();
    const bases = await filled(dir);
    let log = await ShardLog.open(dir, opts);
    expect(log.recovery).toMatchObject({ clean: true, rebuiltSegments: [], corruption: null });
    await log.close();
    crash(dir, bases.at(-1)!);
    log = await ShardLog.open(dir, opts);
    expect(log.recovery.clean).toBe(false);
    expect(log.recovery.rebuiltSegments).toEqual(bases);
    // Only the active segment needs every CRC: sealed ones were fsynced and indexed when they rolled.
    expect(log.recovery.crcVerifiedSegments).toEqual([bases.at(-1)]);
    expect(log.nextOffset()).toBe(30);
    expect(await log.offsetForTime(17)).toBe(17);
    await log.close();
  });

  it('truncates a torn tail to the last whole batch', async () => {
    const dir = tmpDir();
    const bases = await filled(dir);
    const active = path.join(dir, segmentFileName(bases.at(-1)!, 'log'));
    crash(dir, bases.at(-1)!);
    const size = fs.statSync(active).size;
    fs.truncateSync(active, size - 7);
    const log = await ShardLog.open(dir, opts);
    expect(log.recovery.corruption).toMatchObject({ file: active, position: size - 116 });
    expect(log.recovery.truncatedBytes).toBe(116 - 7);
    expect(log.nextOffset()).toBe(29);
    expect(await log.append([{ value: Buffer.from('x') }])).toEqual({ baseOffset: 29, lastOffset: 29 });
    await log.close();
  });

  it('removes temp files of an interrupted swap and orphan indexes', async () => {
    const dir = tmpDir();
    const bases = await filled(dir);
    crash(dir, bases.at(-1)!);
    fs.writeFileSync(path.join(dir, `${segmentFileName(bases[1]!, 'index')}.tmp`), 'half-written');
    fs.writeFileSync(path.join(dir, segmentFileName(999, 'timeindex')), 'orphan');
    const log = await ShardLog.open(dir, opts);
    expect(log.recovery.removedFiles.sort()).toEqual([`${segmentFileName(bases[1]!, 'index')}.tmp`, segmentFileName(999, 'timeindex')].sort());
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect((await log.read({ offset: 0, maxRecords: 100 })).length).toBe(30);
    await log.close();
  });

  it('reports a corrupt batch in the middle of a sealed segment with a typed error and serves around it', async () => {
    const dir = tmpDir();
    const bases = await filled(dir);
    const file = path.join(dir, segmentFileName(bases[2]!, 'log'));
    scribble(file, 116 + 60, Buffer.from('garbage'));
    const log = await ShardLog.open(dir, opts);
    expect(log.recovery.clean).toBe(true);
    const err = await log.read({ offset: bases[2]!, maxRecords: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptSegmentError);
    expect(err).toMatchObject({ code: 'JR_CORRUPT_SEGMENT', file, position: 116, details: { file, position: 116, reason: 'CRC mismatch' } });
    // The batch before the damage and every later segment are still served.
    expect((await log.read({ offset: bases[2]!, maxRecords: 1 }))[0]!.value[0]).toBe(bases[2]);
    expect((await log.read({ offset: bases[3]!, maxRecords: 100 })).length).toBe(30 - bases[3]!);
    await log.close();
  });

  it('after a crash, cuts the log at a broken sealed segment and quarantines the segments after it', async () => {
    const dir = tmpDir();
    const bases = await filled(dir);
    crash(dir, bases.at(-1)!);
    const file = path.join(dir, segmentFileName(bases[3]!, 'log'));
    scribble(file, 116, Buffer.from([0xff, 0xff, 0xff, 0x7f])); // a batch length no batch can have
    const log = await ShardLog.open(dir, opts);
    expect(log.recovery.corruption).toMatchObject({ file, position: 116 });
    expect(log.nextOffset()).toBe(bases[3]! + 1);
    expect(log.segmentInfo().map((s) => s.baseOffset)).toEqual(bases.slice(0, 4));
    expect(log.recovery.quarantined.length).toBeGreaterThan(0);
    for (const q of log.recovery.quarantined) expect(fs.existsSync(path.join(dir, q))).toBe(true);
    expect((await log.read({ offset: 0, maxRecords: 100 })).map((r) => r.offset)).toEqual(Array.from({ length: bases[3]! + 1 }, (_, i) => i));
    expect(await log.append([{ value: Buffer.from('y') }])).toEqual({ baseOffset: bases[3]! + 1, lastOffset: bases[3]! + 1 });
    await log.close();
  });

  it('rebuilds an index whose file was damaged even when the marker is present', async () => {
    const dir = tmpDir();
    const bases = await filled(dir);
    scribble(path.join(dir, segmentFileName(bases[1]!, 'index')), 3, Buffer.from('zz'));
    const log = await ShardLog.open(dir, opts);
    expect(log.recovery.clean).toBe(true);
    expect(log.recovery.rebuiltSegments).toEqual([bases[1]]);
    expect((await log.read({ offset: 0, maxRecords: 100 })).length).toBe(30);
    await log.close();
  });

  it('redoes a split-batch truncation that a crash interrupted', async () => {
    const dir = tmpDir();
    let log = await ShardLog.open(dir, opts);
    await log.append([{ value: Buffer.from('a') }, { value: Buffer.from('b') }]);
    await log.append(['c', 'd', 'e', 'f'].map((v) => ({ value: Buffer.from(v), timestamp: 7 })));
    await log.close();
    // What truncateTo(4) writes before touching the log, then a crash halfway through the rewrite.
    const prefix = encodeBatch(['c', 'd'].map((v) => ({ value: Buffer.from(v), timestamp: 7 })), 0, 1 << 20);
    sealBatch(prefix, 2);
    const logFile = path.join(dir, segmentFileName(0, 'log'));
    const cut = 40 + 2 * 17;
    fs.writeFileSync(`${logFile}.truncate`, encodeTruncateIntent(cut, prefix.buf));
    fs.truncateSync(logFile, cut);
    scribble(logFile, cut, prefix.buf.subarray(0, 30));
    crash(dir, 0);
    log = await ShardLog.open(dir, opts);
    expect(log.recovery.redoneTruncations).toEqual([segmentFileName(0, 'log')]);
    expect(log.recovery.corruption).toBeNull();
    expect((await log.read({ offset: 0 })).map((r) => r.value.toString())).toEqual(['a', 'b', 'c', 'd']);
    expect(fs.existsSync(`${logFile}.truncate`)).toBe(false);
    await log.close();
  });

  it('takes over the lock of a dead owner', async () => {
    const dir = tmpDir();
    await filled(dir);
    fs.writeFileSync(path.join(dir, 'shard.lock'), '2147483646');
    const log = await ShardLog.open(dir, opts);
    expect(log.nextOffset()).toBe(30);
    await log.close();
  });
});
