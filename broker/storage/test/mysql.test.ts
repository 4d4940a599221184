// The mysql driver against a real MariaDB started for this file (bench/services/mariadb.ts): the
// conformance suite with a fresh database per driver, then what only this driver has (schema
// versioning, collation, key limits) and a server killed during a stream of applies.

import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, type MariaDbServer } from '../../../bench/services/mariadb.js';
import { storageConformanceSuite } from '../conformance.js';
import { StorageError, type SessionRecord, type StorageOp, type StoredMessage } from '../driver.js';
import { KEY_LIMITS, LATEST_SCHEMA_VERSION, MIGRATIONS } from '../mysql-schema.js';
import { parseMySqlUrl } from '../mysql-url.js';
import { MySqlStorage } from '../mysql.js';
import { processState, waitFor } from '../../test/helpers.js';
import { StorageOpError } from '../storage-op-error.js';

let server: MariaDbServer;

beforeAll(async () => {
  server = await startMariaDb();
}, 90_000);

afterAll(async () => {
  await server?.stop();
});

storageConformanceSuite(
  'mysql',
  async () => {
    const url = await server.createDatabase();
    let current = new MySqlStorage({ url });
    await current.open();
    return {
      driver: current,
      reopen: async () => {
        current = new MySqlStorage({ url });
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
const msg = (id: string, topic = 't'): StoredMessage => ({ id, topic, payload: Buffer.from(id), qos: 1, retain: false, createdAt: 1 });

async function withDriver(fn: (d: MySqlStorage, url: string) => Promise<void>): Promise<void> {
  const url = await server.createDatabase();
  const d = new MySqlStorage({ url });
  await d.open();
  try {
    await fn(d, url);
  } finally {
    await d.close();
  }
}

async function rawQuery(url: string, sql: string): Promise<unknown> {
  const u = parseMySqlUrl(url);
  const c = await createConnection({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database });
  try {
    return (await c.query(sql))[0];
  } finally {
    await c.end();
  }
}

describe('mysql driver: schema, keys and configuration', () => {
  it('creates the schema at the latest version; opening again migrates nothing', async () => {
    await withDriver(async (d, url) => {
      expect(await d.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
      await d.close();
      const again = new MySqlStorage({ url });
      await again.open();
      await again.close();
      const rows = (await rawQuery(url, 'SELECT version FROM schema_version ORDER BY version')) as Array<{ version: number }>;
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    });
  });

  it('refuses a database whose schema is newer than this build knows', async () => {
    await withDriver(async (d, url) => {
      await d.close();
      await rawQuery(url, `INSERT INTO schema_version (version, description) VALUES (${LATEST_SCHEMA_VERSION + 1}, 'from the future')`);
      const newer = new MySqlStorage({ url });
      const e = await newer.open().then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(StorageError);
      expect((e as Error).message).toMatch(/schema is at version \d+, newer than this broker knows/);
    });
  });

  it('keys are exact: case, trailing spaces and composed/decomposed forms are distinct', async () => {
    await withDriver(async (d) => {
      const ids = ['a', 'A', 'a ', ' a', '\u00e9', 'e\u0301', 'ß', 'ss'];
      await d.apply([
        ...ids.map((c): StorageOp => ({ op: 'session.put', session: session(c) })),
        ...ids.map((c): StorageOp => ({ op: 'sub.put', sub: { clientId: 'a', filter: `f/${c}`, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0 } })),
        ...ids.map((c): StorageOp => ({ op: 'retain.put', message: msg(`r${c}`, c) })),
      ]);
      expect((await d.listSessions()).map((s) => s.clientId).sort()).toEqual([...ids].sort());
      expect(await d.listSubscriptions()).toHaveLength(ids.length);
      expect((await d.listRetained()).map((m) => m.topic).sort()).toEqual([...ids].sort());
      await d.apply([{ op: 'session.delete', clientId: 'a ' }]);
      expect((await d.listSessions()).map((s) => s.clientId)).toContain('a');
      expect(await d.listSubscriptions()).toHaveLength(ids.length);
    });
  });

  it('keys longer than the schema allows are refused as the op they are, and nothing is applied', async () => {
    await withDriver(async (d) => {
      const longId = '😀'.repeat(KEY_LIMITS.clientId + 1);
      const okId = '😀'.repeat(KEY_LIMITS.clientId);
      await d.apply([{ op: 'session.put', session: session(okId) }]);
      const e = await d.apply([{ op: 'retain.put', message: msg('r') }, { op: 'session.put', session: session(longId) }]).then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(StorageOpError);
      expect((e as StorageOpError).opIndex).toBe(1);
      expect((e as Error).message).toContain(`longer than ${KEY_LIMITS.clientId} characters`);
      expect(await d.listRetained()).toEqual([]);
      expect((await d.listSessions()).map((s) => s.clientId)).toEqual([okId]);
      // Deleting one that cannot exist is allowed, as any delete of a missing key.
      await d.apply([{ op: 'session.delete', clientId: longId }, { op: 'sub.delete', clientId: okId, filter: 'f'.repeat(1000) }]);
      expect((await d.listSessions()).map((s) => s.clientId)).toEqual([okId]);
    });
  });

  it("large batches fit MariaDB's default 16 MB max_allowed_packet: 12 MB of bodies as text rows, 5 MB ones alone", async () => {
    await server.adminQuery('SET GLOBAL max_allowed_packet = 16777216');
    try {
      await withDriver(async (d) => {
        const ops: StorageOp[] = [{ op: 'session.put', session: session('c') }];
        for (let i = 0; i < 60; i++) {
          ops.push(
            { op: 'msg.put', message: { ...msg(`m${i}`), payload: Buffer.alloc(200 * 1024, i) } },
            { op: 'out.put', entry: { clientId: 'c', seq: i, messageId: `m${i}`, qos: 1, state: 'queued' } },
          );
        }
        for (let i = 60; i < 63; i++) {
          ops.push(
            { op: 'msg.put', message: { ...msg(`m${i}`), payload: Buffer.alloc(5 * 1024 * 1024, i) } },
            { op: 'out.put', entry: { clientId: 'c', seq: i, messageId: `m${i}`, qos: 1, state: 'queued' } },
          );
        }
        await d.apply(ops);
        const out = await d.listOutbound('c');
        expect(out).toHaveLength(63);
        expect(out.every((e, i) => e.message.payload.length === (i < 60 ? 200 * 1024 : 5 * 1024 * 1024) && e.message.payload[0] === i)).toBe(true);
      });
    } finally {
      await server.adminQuery('SET GLOBAL max_allowed_packet = 67108864');
    }
  }, 60_000);

  it('open() fails with StorageError naming the server (never the password) for a wrong password or a missing database', async () => {
    const u = new URL(server.url);
    u.password = 'wrong-password';
    const wrongPassword = new MySqlStorage({ url: u.toString(), timeoutMs: 5000 });
    const e1 = await wrongPassword.open().then(() => null, (err: unknown) => err);
    expect(e1).toBeInstanceOf(StorageError);
    expect((e1 as Error).message).toContain(`cannot open mysql storage at 127.0.0.1:${server.port}/`);
    expect((e1 as Error).message).toMatch(/Access denied/);
    expect((e1 as Error).message).not.toContain('wrong-password');
    const missing = new URL(server.url);
    missing.pathname = '/rmq_missing';
    const e2 = await new MySqlStorage({ url: missing.toString() }).open().then(() => null, (err: unknown) => err);
    expect(e2).toBeInstanceOf(StorageError);
    expect((e2 as Error).message).toMatch(/rmq_missing.*Unknown database/);
    expect(() => new MySqlStorage({ url: 'postgres://x@y/z' })).toThrow(/must start with mysql:\/\//);
    expect(() => new MySqlStorage({ url: 'mysql://x@y' })).toThrow(/must name one database/);
  });
});

describe('mysql driver: a server that goes away', () => {
  it('killed (SIGKILL) during a stream of applies: the pending and next applies reject with StorageError; resolved batches survive', async () => {
    const db = await startMariaDb();
    try {
      const d = new MySqlStorage({ url: db.url, timeoutMs: 3000 });
      await d.open();
      await d.apply([{ op: 'session.put', session: session('c') }]);
      const resolved: number[] = [];
      const rejected = new Map<number, unknown>();
      const settled: Array<Promise<void>> = [];
      // Keeps four applies in flight (the broker's persister pipelines as well) until the kill.
      let next = 1;
      let killed = false;
      const issue = (): void => {
        const seq = next++;
        settled.push(
          d
            .apply([{ op: 'msg.put', message: msg(`m${seq}`) }, { op: 'out.put', entry: { clientId: 'c', seq, messageId: `m${seq}`, qos: 1, state: 'queued' } }])
            .then(
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
      db.kill();
      killed = true;
      for (let i = 0; i < settled.length; i++) await settled[i];
      expect(resolved.length).toBeGreaterThanOrEqual(50);
      expect(rejected.size).toBeGreaterThan(0);
      for (const e of rejected.values()) {
        expect(e).toBeInstanceOf(StorageError);
        expect((e as Error).message).toContain(`mysql storage at 127.0.0.1:${db.port}/${db.database}: apply()`);
      }
      // The next call fails fast too (connection refused), well within the timeout.
      const t0 = Date.now();
      const e = await d.apply([{ op: 'session.put', session: session('d') }]).then(() => null, (err: unknown) => err);
      expect(e).toBeInstanceOf(StorageError);
      expect(Date.now() - t0).toBeLessThan(3000);
      expect((e as Error).message).toMatch(/could not connect, nothing applied.*ECONNREFUSED/);
      // Back up: the same driver works again, every resolved batch is there, and no batch that
      // was reported as "nothing applied" is.
      await db.restart();
      await d.apply([{ op: 'session.put', session: session('d') }]);
      const seqs = new Set((await d.listOutbound('c')).map((x) => x.seq));
      for (const seq of resolved) expect(seqs.has(seq)).toBe(true);
      for (const [seq, err] of rejected) if (/nothing applied/.test((err as Error).message)) expect(seqs.has(seq)).toBe(false);
      await d.close();
    } finally {
      await db.stop();
    }
  }, 90_000);

  it('stopped (SIGSTOP): apply() rejects with StorageError after timeoutMs instead of hanging', async () => {
    const db = await startMariaDb();
    try {
      const d = new MySqlStorage({ url: db.url, timeoutMs: 1000 });
      await d.open();
      await d.apply([{ op: 'session.put', session: session('c') }]);
      process.kill(db.pid, 'SIGSTOP');
      try {
        // The signal is asynchronous: wait until the kernel reports the server stopped.
        await waitFor(() => processState(db.pid) === 'T', 'the server to be stopped');
        const t0 = Date.now();
        const e = await d.apply([{ op: 'session.put', session: session('d') }]).then(() => null, (err: unknown) => err);
        expect(e).toBeInstanceOf(StorageError);
        // The deadline hits the query on a pooled connection, the handshake of a new one, or
        // (on a loaded machine) the COMMIT itself, whose outcome is then unknown. Either way the
        // message names the server and the timeout, and the call does not hang.
        expect((e as Error).message).toMatch(/^mysql storage at 127\.0\.0\.1:\d+\/\w+: apply\(\) .*(Query inactivity timeout|ETIMEDOUT|timed out)/);
        expect(Date.now() - t0).toBeLessThan(15_000);
      } finally {
        process.kill(db.pid, 'SIGCONT');
      }
      await d.apply([{ op: 'session.put', session: session('e') }]);
      expect((await d.listSessions()).map((s) => s.clientId).sort()).toEqual(['c', 'e']);
      await d.close();
    } finally {
      await db.stop();
    }
  }, 90_000);
});
