// The journal driver against a real `journal start` process (standalone, started for this file
// on a free port): the conformance suite with a fresh shard prefix per driver, small records and
// a small rotation threshold (so split groups, snapshots, rotation and replay after it are all
// exercised), then rotation and its interruption, the reused sequence number after a write
// without a definite answer, the single-writer check, the embedded journal, and a journal
// process killed with SIGKILL during a stream of applies.

import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalClient } from '../../../journal/client/index.js';
import { ensureBuilt, spawnService, type SpawnedService } from '../../../journal/service/test/journal-process.js';
import { storageConformanceSuite } from '../conformance.js';
import { StorageError, type SessionRecord, type StorageOp, type StoredMessage } from '../driver.js';
import { grpcJournalApi, type JournalApi } from '../journal-api.js';
import { encodeRecords } from '../journal-records.js';
import { JournalStorage, type JournalStorageOptions } from '../journal.js';
import { encodeSnapshot } from '../s3-codec.js';
import { StorageState } from '../s3-state.js';

interface Journal {
  proc: SpawnedService;
  dir: string;
  addr: string;
}

const dirs: string[] = [];
const procs: SpawnedService[] = [];
let journal: Journal;
let admin: JournalClient;
let prefixes = 0;

async function startJournalProcess(dir: string, port = 0): Promise<Journal> {
  const proc = await spawnService('journal', 'journal-grpc', { 'placement.addrs': '[]', grpc_port: String(port), data_dir: dir, 'log.level': 'warn' });
  procs.push(proc);
  return { proc, dir, addr: `127.0.0.1:${proc.port}` };
}

async function stopJournalProcess(j: Journal): Promise<void> {
  if (j.proc.child.exitCode === null && j.proc.child.signalCode === null) j.proc.child.kill('SIGTERM');
  await j.proc.exited;
}

beforeAll(async () => {
  ensureBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), 'rmq-journal-storage-'));
  dirs.push(dir);
  journal = await startJournalProcess(dir);
  admin = new JournalClient({ addrs: [journal.addr] });
}, 120_000);

afterAll(async () => {
  admin?.close();
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const freshPrefix = (): string => `t${++prefixes}`;

async function shardsOf(prefix: string, client = admin): Promise<string[]> {
  return (await client.listShards()).map((s) => s.name).filter((n) => n.startsWith(`${prefix}.`)).sort();
}

async function dropPrefix(prefix: string): Promise<void> {
  for (const s of await shardsOf(prefix)) await admin.deleteShard(s).catch(() => undefined);
}

async function open(opts: JournalStorageOptions): Promise<JournalStorage> {
  const d = new JournalStorage(opts);
  await d.open();
  return d;
}

storageConformanceSuite(
  'journal',
  async () => {
    const opts: JournalStorageOptions = { addrs: [journal.addr], shardPrefix: freshPrefix(), compactAfterBytes: 32 * 1024, maxRecordBytes: 1024 * 1024 };
    let current = await open(opts);
    return {
      driver: current,
      reopen: async () => {
        current = await open(opts);
        return current;
      },
      cleanup: async () => {
        await current.close();
        await dropPrefix(opts.shardPrefix!);
      },
    };
  },
  { modelRuns: 25 },
);

const session = (clientId: string): SessionRecord => ({ clientId, protocolVersion: 5, expiryInterval: 60, disconnectedAt: null });
const msg = (id: string, payload: Buffer = Buffer.from(id)): StoredMessage => ({ id, topic: 't', payload, qos: 1, retain: false, createdAt: 1 });
const enqueue = (seq: number, payload?: Buffer): StorageOp[] => [
  { op: 'msg.put', message: msg(`m${seq}`, payload) },
  { op: 'out.put', entry: { clientId: 'c', seq, messageId: `m${seq}`, qos: 1, state: 'queued' } },
];
const seqsOf = async (d: JournalStorage): Promise<number[]> => (await d.listOutbound('c')).map((e) => e.seq);

describe('journal driver: generations', () => {
  it('rotates to a new generation shard while writes go on, deletes the old one, and reopens from it', async () => {
    const prefix = freshPrefix();
    const opts: JournalStorageOptions = { addrs: [journal.addr], shardPrefix: prefix, compactAfterBytes: 16 * 1024 };
    const d = await open(opts);
    expect(d.position().gen).toBe(1);
    await d.apply([{ op: 'session.put', session: session('c') }]);
    const calls: Array<Promise<void>> = [];
    for (let seq = 1; seq <= 300; seq++) calls.push(d.apply(enqueue(seq, Buffer.alloc(200, seq & 0xff))));
    await Promise.all(calls);
    for (let seq = 1; seq <= 300; seq += 2) await d.apply([{ op: 'out.delete', clientId: 'c', seq }]);
    await d.settled();
    const gen = d.position().gen;
    expect(gen).toBeGreaterThan(1);
    const want = await seqsOf(d);
    expect(want).toHaveLength(150);
    await d.close();
    // Only the live generation is left (old ones are deleted once the switch is done).
    const deadline = Date.now() + 5000;
    while ((await shardsOf(prefix)).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await shardsOf(prefix)).toEqual([`${prefix}.${String(gen).padStart(10, '0')}`]);
    const again = await open(opts);
    expect(await seqsOf(again)).toEqual(want);
    expect(await again.messageBodyCount()).toBe(150);
    await again.close();
    await dropPrefix(prefix);
  });

  it('open() ignores and deletes an interrupted rotation (no live marker) and a superseded generation', async () => {
    const prefix = freshPrefix();
    const opts: JournalStorageOptions = { addrs: [journal.addr], shardPrefix: prefix };
    const d = await open(opts);
    await d.apply([{ op: 'session.put', session: session('c') }, ...enqueue(1)]);
    await d.close();
    // Generation 2: a snapshot of some other state and no live marker (the writer died mid-rotation).
    const other = new StorageState();
    other.apply([{ op: 'session.put', session: session('ghost') }]);
    await admin.createShard(`${prefix}.0000000002`);
    await admin.write(`${prefix}.0000000002`, encodeRecords('snapshot', 1, encodeSnapshot(1, other), 1 << 20).map((value) => ({ value })));
    // Generation 0: older than the live one (a rotation whose old shard was not deleted).
    await admin.createShard(`${prefix}.0000000000`);
    const again = await open(opts);
    expect(again.position().gen).toBe(1);
    expect((await again.listSessions()).map((s) => s.clientId)).toEqual(['c']);
    expect(await seqsOf(again)).toEqual([1]);
    expect(await shardsOf(prefix)).toEqual([`${prefix}.0000000001`]);
    await again.close();
    await dropPrefix(prefix);
  });

  it('a generation older than rotateAfterMs is rewritten by open() before anything is appended to it', async () => {
    const prefix = freshPrefix();
    const d = await open({ addrs: [journal.addr], shardPrefix: prefix });
    await d.apply([{ op: 'session.put', session: session('c') }, ...enqueue(1)]);
    await d.close();
    await new Promise((r) => setTimeout(r, 30));
    const again = await open({ addrs: [journal.addr], shardPrefix: prefix, rotateAfterMs: 20 });
    expect(again.position().gen).toBe(2);
    expect(await seqsOf(again)).toEqual([1]);
    await again.close();
    expect(await shardsOf(prefix)).toEqual([`${prefix}.0000000002`]);
    await dropPrefix(prefix);
  });

  it('a group larger than a record is split, and a group whose last part never came is ignored', async () => {
    const prefix = freshPrefix();
    const opts: JournalStorageOptions = { addrs: [journal.addr], shardPrefix: prefix, maxRecordBytes: 64 * 1024 };
    const d = await open(opts);
    const big = Buffer.alloc(300 * 1024, 7);
    await d.apply([{ op: 'session.put', session: session('c') }, ...enqueue(1, big)]);
    await d.close();
    const shard = `${prefix}.0000000001`;
    const before = await admin.getOffsets(shard);
    // The first two parts of group 2 (what a writer killed between its writes leaves behind).
    const parts = encodeRecords('batch', 2, Buffer.alloc(200 * 1024, 1), 64 * 1024);
    await admin.write(shard, parts.slice(0, 2).map((value) => ({ value })));
    const again = await open(opts);
    const out = await again.listOutbound('c');
    expect(out.map((e) => e.seq)).toEqual([1]);
    expect(out[0]!.message.payload.equals(big)).toBe(true);
    expect(before.latest).toBeGreaterThan(3);
    // The next group reuses number 2; its first part starts afresh.
    await again.apply(enqueue(2, big));
    await again.close();
    const third = await open(opts);
    expect(await seqsOf(third)).toEqual([1, 2]);
    await third.close();
    await dropPrefix(prefix);
  });
});

describe('journal driver: failures', () => {
  it('a write without a definite answer rejects as "may or may not be applied"; the next group reuses its number and replaces it', async () => {
    const prefix = freshPrefix();
    const real = grpcJournalApi({ addrs: [journal.addr], acks: 'quorum', timeoutMs: 5000 });
    let lose = false;
    const api: JournalApi = {
      ...real,
      write: async (shard, values) => {
        const r = await real.write(shard, values);
        if (!lose) return r;
        lose = false;
        // Appended, but the answer is lost on the way back.
        const { CodedError } = await import('../../../common/errors.js');
        throw new CodedError('JR_TIMEOUT', 'deadline exceeded');
      },
    };
    try {
      const d = await open({ addrs: [], api, shardPrefix: prefix });
      await d.apply([{ op: 'session.put', session: session('c') }, ...enqueue(1)]);
      lose = true;
      const e = await d.apply(enqueue(2)).then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as Error).message).toMatch(/could not write group 2 .* may or may not be applied/);
      expect(await seqsOf(d)).toEqual([1]);
      await d.apply(enqueue(3));
      expect(await seqsOf(d)).toEqual([1, 3]);
      await d.close();
      const again = await open({ addrs: [journal.addr], shardPrefix: prefix });
      expect(await seqsOf(again)).toEqual([1, 3]);
      await again.close();
    } finally {
      await real.close();
      await dropPrefix(prefix);
    }
  });

  it('a second writer on the same prefix is detected: the first refuses every later apply()', async () => {
    const prefix = freshPrefix();
    const a = await open({ addrs: [journal.addr], shardPrefix: prefix });
    await a.apply([{ op: 'session.put', session: session('c') }]);
    const b = await open({ addrs: [journal.addr], shardPrefix: prefix });
    await b.apply([{ op: 'session.put', session: session('b') }]);
    const e = await a.apply([{ op: 'session.put', session: session('a') }]).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as Error).message).toMatch(/another writer appended to .*one writer per shard prefix/);
    await expect(a.apply([{ op: 'session.put', session: session('a2') }])).rejects.toThrow(/apply\(\) refused/);
    await a.close();
    await b.close();
    await dropPrefix(prefix);
  });

  it('killed (SIGKILL) during a stream of applies: pending applies reject; after a restart every resolved batch is there', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rmq-journal-kill-'));
    dirs.push(dir);
    let j = await startJournalProcess(dir);
    const port = j.proc.port;
    const opts: JournalStorageOptions = { addrs: [j.addr], shardPrefix: 'kill', timeoutMs: 2000 };
    const d = await open(opts);
    await d.apply([{ op: 'session.put', session: session('c') }]);
    const resolved: number[] = [];
    const rejected = new Map<number, unknown>();
    const settled: Array<Promise<void>> = [];
    let next = 1;
    let killed = false;
    const issue = (): void => {
      const seq = next++;
      settled.push(
        d.apply(enqueue(seq)).then(
          () => {
            resolved.push(seq);
            if (!killed) issue();
          },
          (e: unknown) => {
            rejected.set(seq, e);
          },
        ),
      );
    };
    for (let i = 0; i < 4; i++) issue();
    const deadline = Date.now() + 20_000;
    while (resolved.length < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    j.proc.child.kill('SIGKILL');
    killed = true;
    await j.proc.exited;
    // Calls made while it is down (those in flight may all have been answered before it died).
    issue();
    issue();
    for (let i = 0; i < settled.length; i++) await settled[i];
    expect(resolved.length).toBeGreaterThanOrEqual(50);
    expect(rejected.size).toBeGreaterThan(0);
    const definitelyNot: number[] = [];
    for (const [seq, e] of rejected) {
      expect(e).toBeInstanceOf(StorageError);
      expect((e as Error).message).toMatch(/^journal storage at journal 127\.0\.0\.1:\d+ prefix kill: apply\(\) could not write group/);
      if (/nothing applied/.test((e as Error).message)) definitelyNot.push(seq);
    }
    // Down: a new apply rejects within the deadline instead of hanging.
    const t0 = Date.now();
    await expect(d.apply([{ op: 'session.put', session: session('d') }])).rejects.toBeInstanceOf(StorageError);
    expect(Date.now() - t0).toBeLessThan(8000);
    await d.close();
    j = await startJournalProcess(dir, port);
    const again = await open(opts);
    const reread = new Set(await seqsOf(again));
    for (const seq of resolved) expect(reread.has(seq)).toBe(true);
    for (const seq of definitelyNot) expect(reread.has(seq)).toBe(false);
    await again.apply([{ op: 'session.put', session: session('d') }]);
    await again.close();
    await stopJournalProcess(j);
  }, 60_000);
});

describe('journal driver: embedded journal', () => {
  it('with no addrs it runs a journal in this process under <dataDir>/journal, and reopens from it', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'rmq-journal-embedded-'));
    dirs.push(dataDir);
    const d = await open({ addrs: [], dataDir, shardPrefix: 'broker-1' });
    await d.apply([{ op: 'session.put', session: session('c') }, ...enqueue(1), ...enqueue(2)]);
    await d.close();
    expect(existsSync(path.join(dataDir, 'journal', 'broker-1.0000000001'))).toBe(true);
    const again = await open({ addrs: [], dataDir, shardPrefix: 'broker-1' });
    expect(await seqsOf(again)).toEqual([1, 2]);
    await again.close();
  });
});
