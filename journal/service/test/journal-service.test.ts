// The journal gRPC API on a standalone node (no placement): real gRPC on a free port, real shard
// logs in a temporary directory.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCodedError, type CodedError } from '../../../common/errors.js';
import { silentLogger } from '../../../common/log.js';
import { Acks, Isolation, JournalClient } from '../../client/index.js';
import { startJournal, type StartedJournal } from '../start-journal.js';
import { dec, enc, journalConfig, tempDir } from './helpers.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e: unknown) {
    if (isCodedError(e)) return e.code;
    throw e;
  }
  throw new Error('expected a failure');
}

describe('journal service, standalone', () => {
  let dir: string;
  let journal: StartedJournal;
  let client: JournalClient;

  beforeAll(async () => {
    dir = tempDir('journal-svc');
    journal = await startJournal(journalConfig({ data_dir: dir }), silentLogger);
    client = new JournalClient({ addrs: [journal.addr], retryForMs: 2000 });
  });
  afterAll(async () => {
    client.close();
    await journal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('listens on a free port and reports it', () => {
    expect(journal.listeners).toEqual([{ name: 'journal-grpc', host: '127.0.0.1', port: expect.any(Number) }]);
    expect(journal.addr).toBe(`127.0.0.1:${journal.listeners[0]!.port}`);
  });

  it('creates, lists, describes and deletes shards', async () => {
    const info = await client.createShard('orders', { replicas: 1 });
    expect(info).toMatchObject({ name: 'orders', replicas: 1, replicaNodes: [1], leaderId: 1, leaderEpoch: 1, isr: [1], leaderAddr: journal.addr });
    expect(await codeOf(client.createShard('orders'))).toBe('JR_SHARD_EXISTS');
    expect((await client.listShards()).map((s) => s.name)).toContain('orders');
    expect(fs.existsSync(path.join(dir, 'journal', 'orders'))).toBe(true);
    await client.deleteShard('orders');
    expect(await codeOf(client.describeShard('orders'))).toBe('JR_SHARD_NOT_FOUND');
    expect(await codeOf(client.deleteShard('orders'))).toBe('JR_SHARD_NOT_FOUND');
    await expect.poll(() => fs.existsSync(path.join(dir, 'journal', 'orders')), { timeout: 3000 }).toBe(false);
  });

  it('refuses bad names, too many replicas and empty writes with typed errors', async () => {
    expect(await codeOf(client.createShard('../etc'))).toBe('JR_INVALID_ARGUMENT');
    expect(await codeOf(client.createShard('.hidden'))).toBe('JR_INVALID_ARGUMENT');
    expect(await codeOf(client.createShard('r3', { replicas: 3 }))).toBe('JR_NOT_ENOUGH_REPLICAS');
    await client.createShard('e1');
    expect(await codeOf(client.write('e1', []))).toBe('JR_INVALID_ARGUMENT');
    expect(await codeOf(client.write('nope', [{ value: enc('x') }]))).toBe('JR_SHARD_NOT_FOUND');
  });

  it('writes batches with dense offsets and reads them back by offset, time and limits', async () => {
    await client.createShard('log1');
    const a = await client.write('log1', [{ value: enc('a0'), timestamp: 1000 }, { value: enc('a1'), timestamp: 2000 }], { acks: Acks.ALL });
    const b = await client.write('log1', [{ value: enc('b0'), key: enc('k'), headers: [['h', enc('v')]], timestamp: 3000 }], { acks: Acks.ONE });
    expect(a).toEqual({ baseOffset: 0, lastOffset: 1, leaderEpoch: 1 });
    expect(b).toEqual({ baseOffset: 2, lastOffset: 2, leaderEpoch: 1 });
    const all = await client.read('log1', { offset: 0 });
    expect(all.records.map((r) => [r.offset, dec(r.value), r.timestamp])).toEqual([[0, 'a0', 1000], [1, 'a1', 2000], [2, 'b0', 3000]]);
    expect(all.nextOffset).toBe(3);
    expect(all.highWatermark).toBe(3);
    expect(dec(all.records[2]!.key!)).toBe('k');
    expect(all.records[2]!.headers.map(([n, v]) => [n, dec(v)])).toEqual([['h', 'v']]);
    expect((await client.read('log1', { offset: 1 }, { maxRecords: 1 })).records.map((r) => r.offset)).toEqual([1]);
    expect((await client.read('log1', { timestamp: 1500 })).records.map((r) => r.offset)).toEqual([1, 2]);
    expect((await client.read('log1', { timestamp: 99_999 })).records).toEqual([]);
    expect((await client.read('log1', { offset: 3 })).records).toEqual([]);
    expect(await codeOf(client.read('log1', { offset: 4 }))).toBe('JR_OFFSET_OUT_OF_RANGE');
    expect(await client.getOffsets('log1')).toEqual({ earliest: 0, latest: 3, highWatermark: 3, leaderEpoch: 1 });
    const d = await client.describeShard('log1');
    expect(d).toMatchObject({ earliestOffset: 0, logEndOffset: 3, highWatermark: 3 });
  });

  it('reads the latest record of a key on a key-indexed shard, and says when the index is off', async () => {
    await client.createShard('retained', { keyIndex: true });
    await client.write('retained', [{ key: enc('t/1'), value: enc('one') }, { key: enc('t/2'), value: enc('two') }]);
    await client.write('retained', [{ key: enc('t/1'), value: enc('uno') }]);
    const r = await client.read('retained', { key: enc('t/1') });
    expect(r.records.map((x) => [x.offset, dec(x.value)])).toEqual([[2, 'uno']]);
    expect((await client.read('retained', { key: enc('none') })).records).toEqual([]);
    const e = await client.read('log1', { key: enc('k') }).catch((x: unknown) => x as CodedError);
    expect((e as CodedError).code).toBe('JR_KEY_INDEX_DISABLED');
  });

  it('keeps shards and records across a restart', async () => {
    await client.createShard('durable');
    await client.write('durable', [{ value: enc('x') }, { value: enc('y') }]);
    client.close();
    await journal.close();
    journal = await startJournal(journalConfig({ data_dir: dir }), silentLogger);
    client = new JournalClient({ addrs: [journal.addr], retryForMs: 2000 });
    const r = await client.read('durable', { offset: 0 }, { isolation: Isolation.COMMITTED });
    expect(r.records.map((x) => dec(x.value))).toEqual(['x', 'y']);
    expect((await client.write('durable', [{ value: enc('z') }])).baseOffset).toBe(2);
  });
});
