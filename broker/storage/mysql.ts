// The MySQL/MariaDB driver (mysql2 connection pool). The database is the only state: the driver
// keeps no cache, so it reads what it needs inside each transaction and several brokers may share
// one database. Each apply() is one transaction, run one after another in call order:
//   1. one round trip: START TRANSACTION plus the locking reads the batch needs (do its sessions
//      and referenced bodies exist, which bodies do the entries it replaces or deletes hold);
//   2. validation against what was read (a broken rule rolls back: StorageOpError);
//   3. the net writes of the batch (mysql-batch-plan.ts), several statements a round trip;
//   4. COMMIT. With InnoDB's default innodb_flush_log_at_trx_commit=1 a resolved apply() is on
//      disk on the database server.
// Any backend failure (connection refused or lost, timeout, SQL error) rejects with StorageError
// naming the server, the call and the cause; the connection is discarded, so the server rolls
// back whatever the transaction had done. Schema and migrations: mysql-schema.ts.

import { createPool, format, type Pool, type PoolConnection } from 'mysql2/promise';
import {
  StorageError,
  type DelayedRecord,
  type OutboundSummary,
  type OutboundWithMessage,
  type SessionRecord,
  type StorageDriver,
  type StorageOp,
  type StoredMessage,
  type SubscriptionRecord,
} from './driver.js';
import { planStatements, readNeeds, type SqlFormatter, type Statement } from './mysql-batch-plan.js';
import {
  DELAYED_COLUMNS,
  MESSAGE_COLUMNS,
  OUTBOUND_COLUMNS,
  RETAINED_COLUMNS,
  SESSION_COLUMNS,
  SUBSCRIPTION_COLUMNS,
  delayedFromRow,
  messageFromRow,
  outboundFromRow,
  retainedFromRow,
  sessionFromRow,
  subscriptionFromRow,
  type Row,
  type SqlValue,
} from './mysql-rows.js';
import {
  KEY_COLLATIONS,
  LATEST_SCHEMA_VERSION,
  MIGRATIONS,
  SCHEMA_VERSION_DDL,
  keyLimitProblem,
  migrationLockName,
} from './mysql-schema.js';
import { cloneMessage } from './clone-records.js';
import { parseMySqlUrl, type MySqlTarget } from './mysql-url.js';
import { StorageOpError } from './storage-op-error.js';
import { validateBatch } from './validate-batch.js';
import { DriverLifecycle } from './driver-lifecycle.js';

export interface MySqlStorageOptions {
  /** mysql://user:password@host:port/database; the database must exist. */
  url: string;
  /**
   * Deadline in ms for connecting and for each round trip (default 20,000). A server that stops
   * answering makes the call reject with StorageError after this long instead of hanging.
   */
  timeoutMs?: number;
  /** Pool size (default 4): one connection writes, the others serve concurrent reads. */
  connectionLimit?: number;
}

// Strict mode makes a value that does not fit an error, not a silent truncation; the escaping of
// mysql2's format() assumes backslash escapes, so NO_BACKSLASH_ESCAPES must be off.
// REPEATABLE READ (InnoDB's default, made explicit) gives listOutbound one snapshot for its reads.
const SESSION_SETUP =
  "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION';\n" +
  'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ';

/** Deadlocks and lock wait timeouts roll the transaction back whole: such a batch is retried. */
const RETRYABLE_ERRNOS = new Set([1213, 1205]);
const MAX_ATTEMPTS = 3;

/** Pool connections (mysql2's core objects) that have run SESSION_SETUP. */
const setUp = new WeakSet<object>();

const formatter: SqlFormatter = { format: (sql, values) => format(sql, values as SqlValue[]) };

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const code = (e as { code?: unknown }).code;
  let text = typeof code === 'string' ? `${e.message} [${code}]` : e.message;
  if (e.cause !== undefined) text += `: ${describe(e.cause)}`;
  return text;
}

function errno(e: unknown): number | undefined {
  const n = (e as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' ? n : undefined;
}

/** Rows of a SELECT result (mysql2 gives them as objects when rowsAsArray is off). */
function rowsOf(result: unknown): Row[] {
  if (!Array.isArray(result)) throw new Error('expected rows from a SELECT');
  return result as Row[];
}

export class MySqlStorage implements StorageDriver {
  readonly name = 'mysql';
  /** host:port/database, used in every error message (no password). */
  readonly label: string;
  private readonly target: MySqlTarget;
  private readonly timeoutMs: number;
  private readonly connectionLimit: number;
  private readonly life: DriverLifecycle<Pool>;

  constructor(opts: MySqlStorageOptions) {
    if (typeof opts?.url !== 'string' || opts.url === '') {
      throw new TypeError('MySqlStorage: opts.url must be a mysql:// URL (storage.mysql.url)');
    }
    this.target = parseMySqlUrl(opts.url);
    this.label = this.target.label;
    this.life = new DriverLifecycle(`mysql storage at ${this.label}`);
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.connectionLimit = opts.connectionLimit ?? 4;
    if (!Number.isInteger(this.timeoutMs) || this.timeoutMs <= 0) throw new TypeError('MySqlStorage: timeoutMs must be a positive integer');
    if (!Number.isInteger(this.connectionLimit) || this.connectionLimit < 1) {
      throw new TypeError('MySqlStorage: connectionLimit must be a positive integer');
    }
  }

  open(): Promise<void> {
    return this.life.open(() => this.connect());
  }

  private async connect(): Promise<Pool> {
    const t = this.target;
    const pool = createPool({
      host: t.host,
      port: t.port,
      user: t.user,
      password: t.password,
      database: t.database,
      charset: 'UTF8MB4_GENERAL_CI',
      multipleStatements: true,
      supportBigNumbers: true,
      bigNumberStrings: false,
      connectTimeout: this.timeoutMs,
      connectionLimit: this.connectionLimit,
      maxIdle: this.connectionLimit,
      enableKeepAlive: true,
    });
    try {
      await this.migrate(pool);
    } catch (e: unknown) {
      await pool.end().catch(() => undefined);
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot open mysql storage at ${this.label}: ${describe(e)}`, { cause: e });
    }
    return pool;
  }

  /** Waits for every apply() and read in progress, then closes the pool. Idempotent. */
  close(): Promise<void> {
    return this.life.close((pool) => pool.end(), describe);
  }

  apply(ops: readonly StorageOp[]): Promise<void> {
    return this.life.serial('apply', (pool) => this.applyWithRetry(pool, ops));
  }

  listSessions(): Promise<SessionRecord[]> {
    return this.select('listSessions', `SELECT ${SESSION_COLUMNS.join(', ')} FROM sessions`, [], sessionFromRow);
  }

  listSubscriptions(): Promise<SubscriptionRecord[]> {
    return this.select('listSubscriptions', `SELECT ${SUBSCRIPTION_COLUMNS.join(', ')} FROM subscriptions`, [], subscriptionFromRow);
  }

  listOutbound(clientId: string): Promise<OutboundWithMessage[]> {
    // Entries and bodies from one snapshot (an apply() in between cannot remove a body this read
    // needs), each body once however many entries share it.
    const sql = [
      'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY',
      format(`SELECT ${OUTBOUND_COLUMNS.join(', ')} FROM outbound WHERE client_id = ? ORDER BY seq`, [clientId]),
      format(
        `SELECT ${MESSAGE_COLUMNS.join(', ')} FROM messages WHERE message_id IN (SELECT message_id FROM outbound WHERE client_id = ?)`,
        [clientId],
      ),
      'COMMIT',
    ].join(';\n');
    return this.read('listOutbound', async (conn) => {
      const [results] = await conn.query({ sql, timeout: this.timeoutMs });
      const sets = results as unknown[];
      const entries = rowsOf(sets[1]).map(outboundFromRow);
      const bodies = new Map<string, StoredMessage>();
      for (const row of rowsOf(sets[2])) {
        const m = messageFromRow(row, '', 'messages');
        bodies.set(m.id, m);
      }
      const handedOut = new Set<string>();
      return entries.map((e) => {
        const message = bodies.get(e.messageId);
        if (message === undefined) {
          throw new StorageError(`mysql storage at ${this.label}: message ${JSON.stringify(e.messageId)} is referenced but missing`);
        }
        // Entries that share a body each get their own copy of it.
        if (handedOut.has(e.messageId)) return { ...e, message: cloneMessage(message) };
        handedOut.add(e.messageId);
        return { ...e, message };
      });
    });
  }

  async outboundSummary(): Promise<Map<string, OutboundSummary>> {
    const rows = await this.select(
      'outboundSummary',
      'SELECT client_id, COUNT(*) AS n, MAX(seq) AS max_seq FROM outbound GROUP BY client_id',
      [],
      (r) => r,
    );
    return new Map(rows.map((r) => [String(r['client_id']), { count: Number(r['n']), maxSeq: Number(r['max_seq']) }]));
  }

  listInboundQos2(clientId: string): Promise<number[]> {
    return this.select(
      'listInboundQos2',
      'SELECT packet_id FROM inbound_qos2 WHERE client_id = ? ORDER BY packet_id',
      [clientId],
      (r) => Number(r['packet_id']),
    );
  }

  listRetained(): Promise<StoredMessage[]> {
    return this.select('listRetained', `SELECT ${RETAINED_COLUMNS.join(', ')} FROM retained_messages`, [], retainedFromRow);
  }

  listDelayed(): Promise<DelayedRecord[]> {
    return this.select('listDelayed', `SELECT ${DELAYED_COLUMNS.join(', ')} FROM delayed_messages`, [], delayedFromRow);
  }

  /** Number of stored message bodies (introspection for the conformance suite and tests). */
  async messageBodyCount(): Promise<number> {
    const [n] = await this.select('messageBodyCount', 'SELECT COUNT(*) AS n FROM messages', [], (r) => Number(r['n']));
    return n ?? 0;
  }

  /** The schema version the database is at (after open(), the latest this build knows). */
  async schemaVersion(): Promise<number> {
    const [v] = await this.select('schemaVersion', 'SELECT MAX(version) AS v FROM schema_version', [], (r) => Number(r['v'] ?? 0));
    return v ?? 0;
  }

  // -------------------------------------------------------------------------------------------


  /** A pooled connection with this driver's session settings (applied once per connection). */
  private async connection(pool: Pool): Promise<PoolConnection> {
    const conn = await pool.getConnection();
    if (setUp.has(conn.connection)) return conn;
    try {
      await conn.query({ sql: SESSION_SETUP, timeout: this.timeoutMs });
    } catch (e: unknown) {
      conn.destroy();
      throw e;
    }
    setUp.add(conn.connection);
    return conn;
  }

  private fail(call: string, what: string, e: unknown): StorageError {
    return new StorageError(`mysql storage at ${this.label}: ${call}() ${what}: ${describe(e)}`, { cause: e });
  }

  /** Runs a read on one connection; a connection that failed is discarded, not reused. */
  private read<T>(call: string, body: (conn: PoolConnection) => Promise<T>): Promise<T> {
    return this.life.run(call, (pool) =>
      (async () => {
        let conn: PoolConnection;
        try {
          conn = await this.connection(pool);
        } catch (e: unknown) {
          throw this.fail(call, 'could not connect', e);
        }
        try {
          const out = await body(conn);
          conn.release();
          return out;
        } catch (e: unknown) {
          conn.destroy();
          if (e instanceof StorageError) throw e;
          throw this.fail(call, 'failed', e);
        }
      })(),
    );
  }

  private select<T>(call: string, sql: string, values: SqlValue[], map: (row: Row) => T): Promise<T[]> {
    return this.read(call, async (conn) => {
      const [rows] = await conn.query({ sql: values.length === 0 ? sql : format(sql, values), timeout: this.timeoutMs });
      return rowsOf(rows).map(map);
    });
  }

  private async migrate(pool: Pool): Promise<void> {
    const conn = await this.connection(pool);
    const q = async (sql: string, values: Array<SqlValue | SqlValue[]> = []): Promise<Row[]> => {
      const [rows] = await conn.query({ sql: values.length === 0 ? sql : format(sql, values), timeout: this.timeoutMs });
      return Array.isArray(rows) ? (rows as Row[]) : [];
    };
    const lock = migrationLockName(this.target.database);
    try {
      const [got] = await q('SELECT GET_LOCK(?, ?) AS got', [lock, Math.ceil(this.timeoutMs / 1000)]);
      if (Number(got?.['got']) !== 1) {
        throw new StorageError(`cannot open mysql storage at ${this.label}: another broker holds the schema migration lock ${lock}`);
      }
      try {
        await q(SCHEMA_VERSION_DDL);
        const [row] = await q('SELECT MAX(version) AS v FROM schema_version');
        const current = Number(row?.['v'] ?? 0);
        if (current > LATEST_SCHEMA_VERSION) {
          throw new StorageError(
            `cannot open mysql storage at ${this.label}: its schema is at version ${current}, newer than this broker knows ` +
              `(${LATEST_SCHEMA_VERSION}); run a broker release that knows it`,
          );
        }
        const pending = MIGRATIONS.filter((m) => m.version > current);
        if (pending.length === 0) return;
        const collation = await this.keyCollation(q);
        for (const m of pending) {
          for (const ddl of m.statements(collation)) await q(ddl);
          await q('INSERT INTO schema_version (version, description) VALUES (?, ?)', [m.version, m.description]);
        }
      } finally {
        await q('SELECT RELEASE_LOCK(?)', [lock]);
      }
    } finally {
      conn.release();
    }
  }

  private async keyCollation(q: (sql: string, values?: Array<SqlValue | SqlValue[]>) => Promise<Row[]>): Promise<string> {
    const rows = await q('SELECT COLLATION_NAME AS c FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (?)', [
      [...KEY_COLLATIONS],
    ]);
    const have = new Set(rows.map((r) => String(r['c'])));
    const pick = KEY_COLLATIONS.find((c) => have.has(c));
    if (pick === undefined) {
      throw new StorageError(
        `cannot open mysql storage at ${this.label}: the server has none of the collations ${KEY_COLLATIONS.join(', ')} ` +
          '(needs MariaDB >= 10.2 or MySQL >= 8.0.17)',
      );
    }
    return pick;
  }

  private async applyWithRetry(pool: Pool, ops: readonly StorageOp[]): Promise<void> {
    // Shapes and the schema's limits first: no I/O for a batch that can never be written.
    validateBatch(ops, { hasSession: () => true, hasMessage: () => true });
    ops.forEach((op, i) => {
      const problem = keyLimitProblem(op);
      if (problem !== null) throw new StorageOpError(i, op.op, problem);
    });
    if (ops.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.applyOnce(pool, ops);
        return;
      } catch (e: unknown) {
        const n = errno((e as { cause?: unknown }).cause);
        if (attempt >= MAX_ATTEMPTS || n === undefined || !RETRYABLE_ERRNOS.has(n)) throw e;
      }
    }
  }

  private async applyOnce(pool: Pool, ops: readonly StorageOp[]): Promise<void> {
    let conn: PoolConnection;
    try {
      conn = await this.connection(pool);
    } catch (e: unknown) {
      throw this.fail('apply', 'could not connect, nothing applied', e);
    }
    let phase: 'read' | 'write' | 'commit' = 'read';
    try {
      const needs = readNeeds(ops);
      const [results] = await conn.query({ sql: this.readSql(needs), timeout: this.timeoutMs });
      // One statement (START TRANSACTION alone) answers with a header, several with an array.
      const sets = Array.isArray(results) ? (results as unknown[]) : [];
      const { sessions, messages, released } = this.parseReads(needs, sets);
      try {
        validateBatch(ops, { hasSession: (c) => sessions.has(c), hasMessage: (id) => messages.has(id) });
      } catch (e: unknown) {
        await conn.query({ sql: 'ROLLBACK', timeout: this.timeoutMs });
        conn.release();
        throw e;
      }
      phase = 'write';
      const statements = planStatements(ops, { storedMessages: messages, releasedMessages: released }, formatter);
      for (const group of groupStatements(statements)) {
        if (group.kind === 'text') await conn.query({ sql: group.sql, timeout: this.timeoutMs });
        else await conn.execute({ sql: group.sql, values: group.values, timeout: this.timeoutMs });
      }
      phase = 'commit';
      await conn.query({ sql: 'COMMIT', timeout: this.timeoutMs });
    } catch (e: unknown) {
      if (e instanceof StorageOpError) throw e;
      // Dropping the connection makes the server roll back whatever was not committed.
      conn.destroy();
      throw phase === 'commit'
        ? this.fail('apply', 'lost the answer to COMMIT, so the batch may or may not be applied', e)
        : this.fail('apply', `failed while ${phase === 'read' ? 'reading' : 'writing'}, nothing applied`, e);
    }
    conn.release();
  }

  /** START TRANSACTION and the locking reads, as one multi-statement text. */
  private readSql(needs: ReturnType<typeof readNeeds>): string {
    const parts = ['START TRANSACTION'];
    if (needs.sessions.size > 0) {
      parts.push(format('SELECT client_id FROM sessions WHERE client_id IN (?) LOCK IN SHARE MODE', [[...needs.sessions]]));
    }
    if (needs.messages.size > 0) {
      parts.push(format('SELECT message_id FROM messages WHERE message_id IN (?) LOCK IN SHARE MODE', [[...needs.messages]]));
    }
    const where: string[] = [];
    for (const [c, seqs] of needs.outboundKeys) where.push(format('(client_id = ? AND seq IN (?))', [c, [...seqs]]));
    if (needs.cascades.size > 0) where.push(format('client_id IN (?)', [[...needs.cascades]]));
    if (where.length > 0) parts.push(`SELECT DISTINCT message_id FROM outbound WHERE ${where.join(' OR ')} FOR UPDATE`);
    return parts.join(';\n');
  }

  private parseReads(
    needs: ReturnType<typeof readNeeds>,
    sets: unknown[],
  ): { sessions: Set<string>; messages: Set<string>; released: Set<string> } {
    let i = 1;
    const column = (name: string): Set<string> => new Set(rowsOf(sets[i++]).map((r) => String(r[name])));
    const sessions = needs.sessions.size > 0 ? column('client_id') : new Set<string>();
    const messages = needs.messages.size > 0 ? column('message_id') : new Set<string>();
    const released = needs.outboundKeys.size > 0 || needs.cascades.size > 0 ? column('message_id') : new Set<string>();
    return { sessions, messages, released };
  }
}

/**
 * Joins consecutive text statements into multi-statement round trips of bounded size (a packet
 * stays under about 6 MB: 4 MB of joined text plus at most one statement of about 2 MB).
 */
function groupStatements(statements: Statement[]): Statement[] {
  const MAX_TEXT = 4 * 1024 * 1024;
  const out: Statement[] = [];
  let text: string[] = [];
  let size = 0;
  const flush = (): void => {
    if (text.length > 0) out.push({ kind: 'text', sql: text.join(';\n') });
    text = [];
    size = 0;
  };
  for (const s of statements) {
    if (s.kind === 'prepared') {
      flush();
      out.push(s);
      continue;
    }
    if (size + s.sql.length > MAX_TEXT) flush();
    text.push(s.sql);
    size += s.sql.length;
  }
  flush();
  return out;
}
