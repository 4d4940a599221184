// The leader-epoch history: lookups a leader answers divergence with, persistence, fencing.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../service/test/helpers.js';
import { betterLog } from '../election.js';
import { EPOCH_FILE, EpochHistory } from '../epoch-history.js';

const dirs: string[] = [];
const fresh = (): string => {
  const d = tempDir('epoch-history');
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('EpochHistory', () => {
  it('answers epochAt, endOf and endOffsetFor from (epoch, start) entries', async () => {
    const h = await EpochHistory.open(fresh(), 'u1', 0);
    await h.assign(1, 0);
    await h.assign(3, 10);
    await h.assign(4, 10); // an epoch with no records yet
    await h.assign(6, 25);
    expect(h.lastEpoch()).toBe(6);
    expect([0, 9, 10, 24, 25, 30].map((o) => h.epochAt(o))).toEqual([1, 1, 4, 4, 6, 6]);
    expect(h.endOf(1, 30)).toEqual({ epoch: 1, endOffset: 10 });
    expect(h.endOf(2, 30)).toEqual({ epoch: 1, endOffset: 10 });
    expect(h.endOf(4, 30)).toEqual({ epoch: 4, endOffset: 25 });
    expect(h.endOf(5, 30)).toEqual({ epoch: 4, endOffset: 25 });
    expect(h.endOf(9, 30)).toEqual({ epoch: 6, endOffset: 30 });
    expect(h.endOf(0, 30)).toEqual({ epoch: 0, endOffset: 0 });
    expect(h.endOffsetFor(3, 30)).toBe(10);
    expect(h.endOffsetFor(5, 30)).toBe(25);
    expect(h.endOffsetFor(6, 30)).toBe(30);
    await expect(h.assign(5, 40)).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('persists entries and the fence; drops entries past the log end on open; truncates', async () => {
    const dir = fresh();
    const h = await EpochHistory.open(dir, 'u1', 0);
    await h.assign(1, 0);
    await h.assign(2, 5);
    await h.assign(3, 9);
    expect(await h.fence(7)).toBe(7);
    expect(await h.fence(4)).toBe(7);
    const again = await EpochHistory.open(dir, 'u1', 8);
    expect(again.entries).toEqual([{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 5 }]);
    expect(again.fencedEpoch).toBe(7);
    expect(await EpochHistory.recordedUid(dir)).toBe('u1');
    await again.truncate(5, 1);
    expect(again.entries).toEqual([{ epoch: 1, startOffset: 0 }]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, EPOCH_FILE), 'utf8'))).toMatchObject({ shardUid: 'u1', fencedEpoch: 7, entries: [[1, 0]] });
  });
});

describe('election order', () => {
  const pos = (nodeId: number, lastEpoch: number, logEndOffset: number) => ({ nodeId, lastEpoch, logEndOffset, fencedEpoch: 9 });
  it('prefers the higher last epoch, then the longer log, then the in-sync set, then the lower id', () => {
    expect(betterLog(pos(1, 3, 5), pos(2, 2, 50), [])).toBe(true);
    expect(betterLog(pos(1, 3, 5), pos(2, 3, 6), [])).toBe(false);
    expect(betterLog(pos(2, 3, 6), pos(1, 3, 6), [2])).toBe(true);
    expect(betterLog(pos(1, 3, 6), pos(2, 3, 6), [])).toBe(true);
  });
});
