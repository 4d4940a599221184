// The s3 driver against a real S3-protocol server started for this file (s3rver in a child
// process, bench/services/s3.ts): the conformance suite with a fresh prefix per driver and a small
// compaction interval (so snapshots, collection and replay after them are exercised too), then
// group commit, compaction and its interruption, damaged or missing objects, the single-writer
// check, and a server that is killed or stops answering.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3Server } from '../../../bench/services/s3.js';
import { storageConformanceSuite } from '../conformance.js';
import { StorageError, type SessionRecord, type StorageOp, type StoredMessage } from '../driver.js';
import { batchKey, batchesDir, snapshotsDir } from '../s3-keys.js';
import { minioObjectStore, type ObjectStore } from '../s3-object-store.js';
import { S3Storage, type S3StorageOptions } from '../s3.js';
import { processState, waitFor } from '../../test/helpers.js';

let server: S3Server;
let prefixes = 0;

beforeAll(async () => {
  server = await startS3Server();
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

function endpointOf(s: S3Server): Pick<S3StorageOptions, 'endpoint' | 'bucket' | 'accessKey' | 'secretKey'> {
  return { endpoint: s.endpoint, bucket: s.bucket, accessKey: s.accessKey, secretKey: s.secretKey };
}

const freshPrefix = (): string => `broker-${++prefixes}/`;

storageConformanceSuite(
  's3',
  async () => {
    const opts: S3StorageOptions = { ...endpointOf(server), prefix: freshPrefix(), compactAfterBatches: 5 };
    let current = new S3Storage(opts);
    await current.open();
    return {
      driver: current,
      reopen: async () => {
        current = new S3Storage(opts);
        await current.open();
        return current;
      },
      cleanup: async () => {
        await current.close();
      },
    };
  },
  { modelRuns: 25 },
);

const session = (clientId: string): SessionRecord => ({ clientId, protocolVersion: 5, expiryInterval: 60, disconnectedAt: null });
const msg = (id: string): StoredMessage => ({ id, topic: 't', payload: Buffer.from(id), qos: 1, retain: false, createdAt: 1 });
const enqueue = (seq: number): StorageOp[] => [
  { op: 'msg.put', message: msg(`m${seq}`) },
  { op: 'out.put', entry: { clientId: 'c', seq, messageId: `m${seq}`, qos: 1, state: 'queued' } },
];

function rawStore(s: S3Server = server): ObjectStore {
  return minioObjectStore(endpointOf(s) as Required<ReturnType<typeof endpointOf>>);
}

async function open(opts: S3StorageOptions): Promise<S3Storage> {
  const d = new S3Storage(opts);
  await d.open();
  return d;
}

describe('s3 driver: object layout', () => {
  it('queued apply() calls share one object (group commit), in call order', async () => {
    const prefix = freshPrefix();
    const d = await open({ ...endpointOf(server), prefix });
    await d.apply([{ op: 'session.put', session: session('c') }]);
    const calls: Array<Promise<void>> = [];
    for (let seq = 1; seq <= 200; seq++) calls.push(d.apply(enqueue(seq)));
    await Promise.all(calls);
    const store = rawStore();
    const objects = await store.list(batchesDir(prefix));
    store.close();
    // 201 calls, far fewer objects: each PUT carries every call queued while the previous one ran.
    expect(objects.length).toBeLessThan(20);
    expect(d.position().seq).toBe(objects.length);
    expect((await d.listOutbound('c')).map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await d.close();
  });

  it('compaction writes a snapshot, deletes the objects it covers, and a reopen reads snapshot + later batches', async () => {
    const prefix = freshPrefix();
    const opts = { ...endpointOf(server), prefix, compactAfterBatches: 10 };
    const d = await open(opts);
    await d.apply([{ op: 'session.put', session: session('c') }]);
    for (let seq = 1; seq <= 24; seq++) {
      await d.apply(enqueue(seq));
      await d.compacted();
    }
    await d.apply([{ op: 'out.delete', clientId: 'c', seq: 1 }]);
    await d.compacted();
    const store = rawStore();
    const snapshots = await store.list(snapshotsDir(prefix));
    const batches = await store.list(batchesDir(prefix));
    store.close();
    // 26 objects: snapshots after 10 and 20, the older one deleted; objects 20..26 remain (the
    // newest one a snapshot covers is kept, see S3Storage.collect).
    expect(snapshots).toHaveLength(1);
    expect(d.position()).toEqual({ seq: 26, snapshotSeq: 20 });
    expect(batches).toEqual([20, 21, 22, 23, 24, 25, 26].map((s) => batchKey(prefix, s)));
    const before = await d.listOutbound('c');
    await d.close();
    const again = await open(opts);
    expect(await again.listOutbound('c')).toEqual(before);
    expect(before.map((e) => e.seq)).toEqual(Array.from({ length: 23 }, (_, i) => i + 2));
    expect(await again.messageBodyCount()).toBe(23);
    await again.close();
  });

  it('an interrupted compaction loses nothing: snapshot not written, or written with the old objects still there', async () => {
    for (const failAt of ['snapshot put', 'deletes'] as const) {
      const prefix = freshPrefix();
      const real = rawStore();
      // The store fails where a crash would have stopped the compaction.
      const faulty: ObjectStore = {
        label: real.label,
        put: (name, body) =>
          failAt === 'snapshot put' && name.startsWith(snapshotsDir(prefix)) ? Promise.reject(new Error('injected')) : real.put(name, body),
        get: (name) => real.get(name),
        list: (p, after) => real.list(p, after),
        remove: (names) => (failAt === 'deletes' ? Promise.reject(new Error('injected')) : real.remove(names)),
        close: () => real.close(),
      };
      const d = await open({ store: faulty, prefix, compactAfterBatches: 4 });
      await d.apply([{ op: 'session.put', session: session('c') }]);
      for (let seq = 1; seq <= 9; seq++) {
        await d.apply(enqueue(seq));
        await d.compacted();
      }
      const want = await d.listOutbound('c');
      await d.close();
      const store = rawStore();
      const leftover = await store.list(batchesDir(prefix));
      expect(leftover.length).toBe(10);
      expect(await store.list(snapshotsDir(prefix))).toHaveLength(failAt === 'deletes' ? 2 : 0);
      const again = await open({ ...endpointOf(server), prefix });
      expect(await again.listOutbound('c'), failAt).toEqual(want);
      await again.compacted();
      // The reopened driver collects what the interrupted compaction left behind.
      const after = await store.list(batchesDir(prefix));
      expect(after.length).toBe(failAt === 'deletes' ? 3 : 10);
      await again.close();
      store.close();
    }
  });

  it('open() refuses a prefix with a missing or damaged batch object, naming it', async () => {
    const prefix = freshPrefix();
    const d = await open({ ...endpointOf(server), prefix });
    for (let seq = 1; seq <= 3; seq++) await d.apply([{ op: 'session.put', session: session(`s${seq}`) }]);
    await d.close();
    const store = rawStore();
    const second = batchKey(prefix, 2);
    const body = (await store.get(second))!;
    await store.put(second, body.subarray(0, body.length - 1));
    const e1 = await open({ ...endpointOf(server), prefix }).then(() => null, (err: unknown) => err);
    expect(e1).toBeInstanceOf(StorageError);
    expect((e1 as Error).message).toContain(`corrupt object ${second}: checksum mismatch`);
    await store.remove([second]);
    const e2 = await open({ ...endpointOf(server), prefix }).then(() => null, (err: unknown) => err);
    expect(e2).toBeInstanceOf(StorageError);
    expect((e2 as Error).message).toContain('batch object 2 is missing (the next one is 3)');
    store.close();
  });

  it('prefixes keep brokers that share a bucket apart', async () => {
    const a = await open({ ...endpointOf(server), prefix: freshPrefix() });
    const b = await open({ ...endpointOf(server), prefix: freshPrefix() });
    await a.apply([{ op: 'session.put', session: session('only-a') }]);
    await b.apply([{ op: 'session.put', session: session('only-b') }]);
    expect((await a.listSessions()).map((s) => s.clientId)).toEqual(['only-a']);
    expect((await b.listSessions()).map((s) => s.clientId)).toEqual(['only-b']);
    await a.close();
    await b.close();
  });

  it('a second driver opening the same prefix fences the first at its next compaction', async () => {
    const prefix = freshPrefix();
    const first = await open({ ...endpointOf(server), prefix, compactAfterBatches: 2 });
    await first.apply([{ op: 'session.put', session: session('c') }]);
    const second = await open({ ...endpointOf(server), prefix });
    await first.apply([{ op: 'session.put', session: session('d') }]);
    await first.compacted();
    const e = await first.apply([{ op: 'session.put', session: session('e') }]).then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as Error).message).toMatch(/another driver opened the prefix after this one/);
    await first.close();
    await second.close();
  });
});

describe('s3 driver: a server that goes away', () => {
  it('killed (SIGKILL) during a stream of applies: the pending and next applies reject with StorageError; resolved batches survive', async () => {
    const s3 = await startS3Server();
    try {
      const prefix = 'kill/';
      const d = await open({ ...endpointOf(s3), prefix, timeoutMs: 3000 });
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
      s3.kill();
      killed = true;
      for (let i = 0; i < settled.length; i++) await settled[i];
      expect(resolved.length).toBeGreaterThanOrEqual(50);
      expect(rejected.size).toBeGreaterThan(0);
      for (const e of rejected.values()) {
        expect(e).toBeInstanceOf(StorageError);
        expect((e as Error).message).toMatch(new RegExp(`^s3 storage at 127\\.0\\.0\\.1:\\d+/${s3.bucket}/kill/: apply\\(\\) could not write`));
      }
      const t0 = Date.now();
      const e = await d.apply([{ op: 'session.put', session: session('d') }]).then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as Error).message).toMatch(/ECONNREFUSED/);
      expect(Date.now() - t0).toBeLessThan(3000);
      // Back up: the same driver writes again, and a new one sees every resolved batch.
      await s3.restart();
      await d.apply([{ op: 'session.put', session: session('d') }]);
      const seqs = new Set((await d.listOutbound('c')).map((x) => x.seq));
      await d.close();
      const again = await open({ ...endpointOf(s3), prefix });
      const reread = new Set((await again.listOutbound('c')).map((x) => x.seq));
      expect(reread).toEqual(seqs);
      for (const seq of resolved) expect(reread.has(seq)).toBe(true);
      for (const seq of rejected.keys()) expect(reread.has(seq)).toBe(false);
      expect((await again.listSessions()).map((s) => s.clientId).sort()).toEqual(['c', 'd']);
      await again.close();
    } finally {
      await s3.stop();
    }
  }, 60_000);

  it('stopped (SIGSTOP): apply() rejects with StorageError after timeoutMs instead of hanging', async () => {
    const s3 = await startS3Server();
    try {
      const d = await open({ ...endpointOf(s3), prefix: 'stop/', timeoutMs: 1000 });
      await d.apply([{ op: 'session.put', session: session('c') }]);
      process.kill(s3.pid, 'SIGSTOP');
      try {
        // The signal is asynchronous: wait until the kernel reports the server stopped.
        await waitFor(() => processState(s3.pid) === 'T', 'the server to be stopped');
        const t0 = Date.now();
        const e = await d.apply([{ op: 'session.put', session: session('d') }]).then(() => null, (err: unknown) => err);
        expect(e).toBeInstanceOf(StorageError);
        expect((e as Error).message).toMatch(/could not write .*no answer from the S3 endpoint in 1000 ms/);
        expect(Date.now() - t0).toBeLessThan(5000);
      } finally {
        process.kill(s3.pid, 'SIGCONT');
      }
      await d.apply([{ op: 'session.put', session: session('e') }]);
      expect((await d.listSessions()).map((s) => s.clientId).sort()).toEqual(['c', 'e']);
      await d.close();
    } finally {
      await s3.stop();
    }
  }, 60_000);
});
