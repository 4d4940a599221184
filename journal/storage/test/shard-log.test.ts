import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShardLog, isJournalStorageError } from '../index.js';
import { crc32c } from '../crc32c.js';

const dirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-log-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const v = (s: string): Buffer => Buffer.from(s);

describe('crc32c', () => {
  it('matches the RFC 3720 check value and is chainable', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const b = Buffer.from('hello, journal world');
    expect(crc32c(b, 7, b.length, crc32c(b, 0, 7))).toBe(crc32c(b));
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
  });
});

describe('ShardLog basics', () => {
  it('assigns dense offsets per batch and reads them back with keys, headers, timestamps', async () => {
    const log = await ShardLog.open(tmpDir(), { clock: () => 1000 });
    expect(await log.append([{ value: v('a') }, { value: v('b'), key: v('k'), headers: [['h', v('x')]] }])).toEqual({ baseOffset: 0, lastOffset: 1 });
    expect(await log.append([{ value: v('c'), timestamp: 5 }])).toEqual({ baseOffset: 2, lastOffset: 2 });
    const recs = await log.read({ offset: 0 });
    expect(recs.map((r) => [r.offset, r.timestamp, r.value.toString(), r.key?.toString(), r.headers?.map(([n, b]) => [n, b.toString()])])).toEqual([
      [0, 1000, 'a', undefined, undefined],
      [1, 1000, 'b', 'k', [['h', 'x']]],
      [2, 5, 'c', undefined, undefined],
    ]);
    expect((await log.read({ offset: 1, maxRecords: 1 })).map((r) => r.offset)).toEqual([1]);
    expect(await log.read({ offset: 3 })).toEqual([]);
    expect(log.nextOffset()).toBe(3);
    expect(log.durableOffset()).toBe(3);
    await log.close();
  });

  it('groups concurrent appends into one write and keeps call order', async () => {
    const log = await ShardLog.open(tmpDir());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append([{ value: v(`m${i}`) }, { value: v(`n${i}`) }])));
    results.forEach((r, i) => expect(r).toEqual({ baseOffset: 2 * i, lastOffset: 2 * i + 1 }));
    const recs = await log.read({ offset: 0, maxRecords: 1000 });
    expect(recs.length).toBe(400);
    expect(recs[399]!.value.toString()).toBe('n199');
    await log.close();
  });

  it('appends arriving during an fsync share the next one', async () => {
    const log = await ShardLog.open(tmpDir());
    const first = log.append([{ value: v('first') }]);
    // These queue while the first batch is being fsynced.
    const rest = Array.from({ length: 300 }, (_, i) => log.append([{ value: v(`r${i}`) }]));
    await Promise.all([first, ...rest]);
    const s = log.stats();
    expect(s.appends).toBe(301);
    expect(s.fsyncs).toBeLessThanOrEqual(3);
    expect(s.writes).toBe(s.fsyncs);
    await log.close();
  });

  it('runs mutations in call order even when nobody awaits in between', async () => {
    const log = await ShardLog.open(tmpDir(), { segment_bytes: 100, retention_bytes: 0, retention_ms: -1 });
    const a1 = log.append([{ value: Buffer.alloc(70) }, { value: v('b') }]);
    const a2 = log.append([{ value: Buffer.alloc(70) }]);
    const t = log.truncateTo(1);
    const a3 = log.append([{ value: v('c') }]);
    const r = log.applyRetention();
    const a4 = log.append([{ value: v('d') }]);
    const read = log.read({ offset: 0, maxRecords: 10 });
    expect(await a1).toEqual({ baseOffset: 0, lastOffset: 1 });
    expect(await a2).toEqual({ baseOffset: 2, lastOffset: 2 });
    await t;
    expect(await a3).toEqual({ baseOffset: 1, lastOffset: 1 });
    expect(await r).toEqual({ deletedSegments: [0], earliestOffset: 1 });
    expect(await a4).toEqual({ baseOffset: 2, lastOffset: 2 });
    // The read ran against the log as it was when it started: some prefix of a1's records.
    const seen = (await read).map((x) => [x.offset, x.value.length]);
    expect([[0, 70], [1, 1]].slice(0, seen.length)).toEqual(seen);
    expect((await log.read({ offset: 1 })).map((x) => x.value.toString())).toEqual(['c', 'd']);
    await log.close();
  });

  it('reports durability per policy and flush() makes it durable', async () => {
    const log = await ShardLog.open(tmpDir(), { fsync: 'never' });
    await log.append([{ value: v('x') }]);
    expect(log.nextOffset()).toBe(1);
    expect(log.durableOffset()).toBe(0);
    await log.flush();
    expect(log.durableOffset()).toBe(1);
    await log.close();
    const iv = await ShardLog.open(tmpDir(), { fsync: 'interval', fsync_interval_ms: 5 });
    await iv.append([{ value: v('y') }]);
    const deadline = Date.now() + 5000;
    while (iv.durableOffset() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(iv.durableOffset()).toBe(1);
    await iv.close();
  });

  it('rejects bad input with typed errors', async () => {
    const log = await ShardLog.open(tmpDir());
    await expect(log.append([])).rejects.toMatchObject({ code: 'JR_INVALID_ARGUMENT' });
    await expect(log.append([{ value: 'x' as unknown as Buffer }])).rejects.toMatchObject({ code: 'JR_INVALID_RECORD' });
    await expect(log.append([{ value: v('x'), timestamp: 1.5 }])).rejects.toMatchObject({ code: 'JR_INVALID_RECORD' });
    await expect(log.read({ offset: 1 })).rejects.toMatchObject({ code: 'JR_OFFSET_OUT_OF_RANGE' });
    await expect(log.read({ offset: -1 })).rejects.toMatchObject({ code: 'JR_INVALID_ARGUMENT' });
    await expect(log.readByKey(v('k'))).rejects.toMatchObject({ code: 'JR_KEY_INDEX_DISABLED' });
    await expect(log.append([{ value: Buffer.alloc(100) }], { expectedBaseOffset: 5 })).rejects.toMatchObject({ code: 'JR_OFFSET_MISMATCH' });
    await expect(ShardLog.open(log.dir)).rejects.toMatchObject({ code: 'JR_SHARD_LOCKED' });
    await log.close();
    await expect(log.append([{ value: v('x') }])).rejects.toMatchObject({ code: 'JR_CLOSED' });
    await expect(ShardLog.open(tmpDir(), { segment_bytes: 'big' as unknown as number })).rejects.toMatchObject({ code: 'JR_INVALID_OPTIONS' });
    await expect(ShardLog.open(tmpDir(), { nope: 1 } as never)).rejects.toMatchObject({ code: 'JR_INVALID_OPTIONS' });
    expect(isJournalStorageError(new Error('x'))).toBe(false);
  });

  it('handles batches larger than the read and scan chunks', async () => {
    const dir = tmpDir();
    let log = await ShardLog.open(dir);
    const big = Array.from({ length: 300 }, (_, i) => ({ value: Buffer.alloc(5000, i) }));
    await log.append([{ value: v('first') }]);
    await log.append(big);
    await log.append(big);
    expect((await log.read({ offset: 0, maxRecords: 1000, maxBytes: 10_000_000 })).length).toBe(601);
    expect((await log.read({ offset: 450, maxRecords: 1 }))[0]!.value[0]).toBe(149);
    await log.close();
    fs.rmSync(path.join(dir, 'clean-shutdown'));
    log = await ShardLog.open(dir);
    expect(log.nextOffset()).toBe(601);
    await log.close();
  });

  it('caps reads by maxBytes but always returns one record', async () => {
    const log = await ShardLog.open(tmpDir());
    await log.append([{ value: Buffer.alloc(100) }, { value: Buffer.alloc(100) }, { value: Buffer.alloc(100) }]);
    expect((await log.read({ offset: 0, maxBytes: 1 })).length).toBe(1);
    expect((await log.read({ offset: 0, maxBytes: 250 })).length).toBe(2);
    expect((await log.read({ offset: 0, maxOffset: 2 })).length).toBe(2);
    await log.close();
  });

  it('rolls by size and age, finds offsets by time, applies retention, survives reopen', async () => {
    let now = 10_000;
    const dir = tmpDir();
    const opts = { segment_bytes: 300, segment_ms: 1000, retention_ms: 5000, index_interval_bytes: 64, clock: () => now };
    let log = await ShardLog.open(dir, opts);
    for (let i = 0; i < 20; i++) {
      await log.append([{ value: Buffer.alloc(50, i) }]);
      now += 100;
    }
    const segs = log.segmentInfo();
    expect(segs.length).toBeGreaterThan(3);
    expect(segs[1]!.baseOffset).toBe(segs[0]!.nextOffset);
    expect(await log.offsetForTime(10_000)).toBe(0);
    expect(await log.offsetForTime(10_450)).toBe(5);
    expect(await log.offsetForTime(99_999)).toBeNull();
    now += 1000; // the active segment is now older than segment_ms
    await log.append([{ value: v('late') }]);
    expect(log.segmentInfo().at(-1)!.baseOffset).toBe(20);
    await log.close();

    log = await ShardLog.open(dir, opts);
    expect(log.recovery.clean).toBe(true);
    expect(log.recovery.rebuiltSegments).toEqual([]);
    expect(await log.offsetForTime(10_450)).toBe(5);
    const r = await log.applyRetention(now + 4000);
    expect(r.deletedSegments.length).toBeGreaterThan(0);
    expect(log.earliestOffset()).toBe(r.earliestOffset);
    await expect(log.read({ offset: 0 })).rejects.toMatchObject({ code: 'JR_OFFSET_OUT_OF_RANGE' });
    expect((await log.read({ offset: r.earliestOffset, maxRecords: 1 }))[0]!.offset).toBe(r.earliestOffset);
    await log.close();
  });

  it('retention by size keeps at least retention_bytes and never the active segment', async () => {
    const log = await ShardLog.open(tmpDir(), { segment_bytes: 200, retention_bytes: 400, retention_ms: -1 });
    for (let i = 0; i < 30; i++) await log.append([{ value: Buffer.alloc(60) }]);
    await log.applyRetention();
    const size = log.sizeBytes();
    expect(size).toBeGreaterThanOrEqual(400);
    expect(size - log.segmentInfo()[0]!.sizeBytes).toBeLessThan(400);
    const one = await ShardLog.open(tmpDir(), { retention_bytes: 0 });
    await one.append([{ value: v('x') }]);
    expect((await one.applyRetention()).deletedSegments).toEqual([]);
    await one.close();
    await log.close();
  });

  it('readByKey returns the latest value, follows truncation and is rebuilt on open', async () => {
    const dir = tmpDir();
    let log = await ShardLog.open(dir, { key_index: true });
    await log.append([{ key: v('a'), value: v('1') }, { key: v('b'), value: v('2') }]);
    await log.append([{ key: v('a'), value: v('3') }]);
    expect((await log.readByKey(v('a')))!.value.toString()).toBe('3');
    await log.truncateTo(2);
    expect((await log.readByKey(v('a')))!.value.toString()).toBe('1');
    expect(await log.readByKey(v('zz'))).toBeNull();
    await log.append([{ key: v('b'), value: v('4') }]);
    await log.close();
    log = await ShardLog.open(dir, { key_index: true });
    expect((await log.readByKey(v('b')))!.value.toString()).toBe('4');
    await log.close();
  });

  it('truncateTo splits a batch, drops later segments, and appends continue densely', async () => {
    const log = await ShardLog.open(tmpDir(), { segment_bytes: 200 });
    for (let i = 0; i < 10; i++) await log.append([{ value: v(`a${i}`) }, { value: v(`b${i}`) }, { value: v(`c${i}`) }]);
    expect(log.segmentInfo().length).toBeGreaterThan(2);
    await log.truncateTo(7);
    expect(log.nextOffset()).toBe(7);
    expect(await log.append([{ value: v('new') }])).toEqual({ baseOffset: 7, lastOffset: 7 });
    const recs = await log.read({ offset: 0, maxRecords: 100 });
    expect(recs.map((r) => r.value.toString())).toEqual(['a0', 'b0', 'c0', 'a1', 'b1', 'c1', 'a2', 'new']);
    await expect(log.truncateTo(9)).rejects.toMatchObject({ code: 'JR_OFFSET_OUT_OF_RANGE' });
    await log.truncateTo(0);
    expect(log.nextOffset()).toBe(0);
    await log.close();
  });
});
