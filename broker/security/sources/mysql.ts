// MySQL / MariaDB authentication and ACL sources (mysql2), EMQX-compatible by default:
//   auth: SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1
//   acl:  SELECT action, permission, topic FROM mqtt_acl WHERE username = ${username}
// Placeholders become bound `?` parameters. A pool keeps a few connections; a down server makes
// every request fail fast (an error outcome: the chain refuses with 0x88).

import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';
import { ruleFromRow } from '../acl-rows.js';
import type { AclFetch, AclSource, AuthOutcome, AuthRequest, AuthSource } from '../auth-source.js';
import { errorText, placeholderValues, text, truthy, withTimeout } from '../auth-source.js';
import { verifyPassword, type PasswordHashSpec } from '../password-hash.js';
import { bindSql, compileSql, usesClientDetails, type SqlTemplate } from '../placeholders.js';
import type { AclRuleInput } from '../security-store.js';

export const DEFAULT_MYSQL_AUTH_QUERY = 'SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = ${username} LIMIT 1';
export const DEFAULT_MYSQL_ACL_QUERY = 'SELECT action, permission, topic FROM mqtt_acl WHERE username = ${username}';

export interface MysqlSourceOptions {
  readonly url: string;
  readonly query: string;
  readonly timeoutMs: number;
}

function openPool(url: string, timeoutMs: number): Pool {
  const pool = createPool({ uri: url, connectionLimit: 4, connectTimeout: timeoutMs, enableKeepAlive: true, supportBigNumbers: true });
  // A server that goes away is reported per query; an idle connection's error must not crash us.
  pool.on('connection', (c) => c.on('error', () => undefined));
  return pool;
}

async function select(pool: Pool, t: SqlTemplate, req: AuthRequest, timeoutMs: number): Promise<RowDataPacket[]> {
  const [rows] = await withTimeout(pool.query<RowDataPacket[]>({ sql: t.sql, timeout: timeoutMs }, bindSql(t, placeholderValues(req))), timeoutMs, 'MySQL');
  return rows;
}

export class MysqlAuthSource implements AuthSource {
  readonly name = 'mysql';
  readonly perClient: boolean;
  readonly cacheable = true;
  private readonly pool: Pool;
  private readonly template: SqlTemplate;

  constructor(private readonly options: MysqlSourceOptions, private readonly hash: PasswordHashSpec) {
    const query = options.query === '' ? DEFAULT_MYSQL_AUTH_QUERY : options.query;
    this.template = compileSql(query);
    this.perClient = usesClientDetails(query);
    this.pool = openPool(options.url, options.timeoutMs);
  }

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (req.username === undefined) return { kind: 'ignore' };
    let rows: RowDataPacket[];
    try {
      rows = await select(this.pool, this.template, req, this.options.timeoutMs);
    } catch (err: unknown) {
      return { kind: 'error', reason: `MySQL: ${errorText(err)}` };
    }
    const row = rows[0];
    if (row === undefined) return { kind: 'ignore' };
    const hash = text(row['password_hash'] ?? row['password']);
    if (hash === '') return { kind: 'deny', reason: 'no password_hash column in the row' };
    const ok = await verifyPassword(this.hash, req.password?.toString('utf8') ?? '', { hash, salt: text(row['salt']) });
    return ok ? { kind: 'allow', superuser: truthy(row['is_superuser']) } : { kind: 'deny', reason: 'wrong password' };
  }

  close(): Promise<void> {
    return this.pool.end().catch(() => undefined);
  }
}

export class MysqlAclSource implements AclSource {
  readonly name = 'mysql';
  readonly perClient: boolean;
  private readonly pool: Pool;
  private readonly template: SqlTemplate;

  constructor(private readonly options: MysqlSourceOptions) {
    const query = options.query === '' ? DEFAULT_MYSQL_ACL_QUERY : options.query;
    this.template = compileSql(query);
    this.perClient = usesClientDetails(query);
    this.pool = openPool(options.url, options.timeoutMs);
  }

  async rulesFor(req: AuthRequest): Promise<AclFetch> {
    let rows: RowDataPacket[];
    try {
      rows = await select(this.pool, this.template, req, this.options.timeoutMs);
    } catch (err: unknown) {
      return { ok: false, reason: `MySQL: ${errorText(err)}` };
    }
    const rules: AclRuleInput[] = [];
    for (const row of rows) {
      const r = ruleFromRow(row, req.username, req.clientId);
      if (r !== null) rules.push(r);
    }
    return { ok: true, rules };
  }

  close(): Promise<void> {
    return this.pool.end().catch(() => undefined);
  }
}
