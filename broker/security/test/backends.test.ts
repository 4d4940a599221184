// MySQL (a real MariaDB) and Redis (a real redis-server) as authentication and ACL sources, and
// through a broker: right password accepted, wrong refused, unknown user refused, each hash
// algorithm, placeholders bound (no SQL injection), a backend that is down fails closed (0x88).

import { createHash, pbkdf2Sync } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, type MariaDbServer } from '../../../test/services/mariadb.js';
import { startRedis, type RedisServer } from '../../../test/services/redis.js';
import { freePort } from '../../../test/services/free-port.js';
import { AuthChain } from '../auth-chain.js';
import type { AuthRequest } from '../auth-source.js';
import { bcryptHash } from '../bcrypt.js';
import { hashSpec, type PasswordHashSpec } from '../password-hash.js';
import { MysqlAclSource, MysqlAuthSource } from '../sources/mysql.js';
import { RedisAclSource, RedisAuthSource } from '../sources/redis.js';
import { rawConnect, startTestBroker, type TestBroker } from '../../test/helpers.js';

let db: MariaDbServer;
let redis: RedisServer;
let rc: Redis;

const sha = (alg: string, s: string): string => createHash(alg).update(s).digest('hex');
const req = (username: string | undefined, password: string, clientId = 'c1'): AuthRequest =>
  ({ clientId, username, password: Buffer.from(password), peerhost: '127.0.0.1', certCommonName: undefined });

const users: Array<{ name: string; spec: PasswordHashSpec; hash: string; salt: string }> = [
  { name: 'plain', spec: hashSpec({ name: 'plain' }), hash: 'pw-plain', salt: '' },
  { name: 'sha256p', spec: hashSpec({ name: 'sha256', saltPosition: 'prefix' }), hash: sha('sha256', 's1pw-sha256p'), salt: 's1' },
  { name: 'sha256s', spec: hashSpec({ name: 'sha256', saltPosition: 'suffix' }), hash: sha('sha256', 'pw-sha256ss2'), salt: 's2' },
  { name: 'sha512p', spec: hashSpec({ name: 'sha512', saltPosition: 'prefix' }), hash: sha('sha512', 's3pw-sha512p'), salt: 's3' },
  { name: 'pbkdf2', spec: hashSpec({ name: 'pbkdf2', iterations: 1000, macFun: 'sha256', dkLength: 32 }), hash: pbkdf2Sync('pw-pbkdf2', 's4', 1000, 32, 'sha256').toString('hex'), salt: 's4' },
  { name: 'bcrypt', spec: hashSpec({ name: 'bcrypt' }), hash: bcryptHash('pw-bcrypt', 4), salt: '' },
];

beforeAll(async () => {
  [db, redis] = await Promise.all([startMariaDb(), startRedis()]);
  const c = await createConnection(db.url);
  await c.query('CREATE TABLE mqtt_user (id INT AUTO_INCREMENT PRIMARY KEY, username VARCHAR(100) UNIQUE, password_hash VARCHAR(200), salt VARCHAR(40), is_superuser TINYINT DEFAULT 0)');
  await c.query('CREATE TABLE mqtt_acl (id INT AUTO_INCREMENT PRIMARY KEY, username VARCHAR(100), action VARCHAR(10), permission VARCHAR(10), topic VARCHAR(200))');
  for (const u of users) await c.query('INSERT INTO mqtt_user (username, password_hash, salt, is_superuser) VALUES (?, ?, ?, ?)', [u.name, u.hash, u.salt, u.name === 'plain' ? 1 : 0]);
  await c.query("INSERT INTO mqtt_acl (username, action, permission, topic) VALUES ('sha256p', 'publish', 'allow', 'own/${username}/#'), ('sha256p', 'all', 'deny', '#')");
  await c.end();
  rc = new Redis(redis.url);
  await rc.hset('mqtt_user:ruser', { password_hash: sha('sha256', 'pw-redis' + 'rs'), salt: 'rs', is_superuser: '1' });
  await rc.hset('mqtt_acl:ruser', { 'r/${username}/+': 'subscribe', 'r/x': '{"action":"publish","permission":"deny"}' });
}, 120_000);

afterAll(async () => {
  rc?.disconnect();
  await Promise.all([db?.stop(), redis?.stop()]);
});

describe('MySQL authentication source (EMQX-compatible default query)', () => {
  for (const u of users) {
    it(`${u.spec.name}${u.spec.name.startsWith('sha') ? ` (${u.spec.saltPosition})` : ''}: right password accepted, wrong refused`, async () => {
      const chain = new AuthChain([new MysqlAuthSource({ url: db.url, query: '', timeoutMs: 5000 }, u.spec)], 0);
      try {
        expect(await chain.authenticate(req(u.name, `pw-${u.name}`))).toMatchObject({ ok: true, superuser: u.name === 'plain' });
        expect(await chain.authenticate(req(u.name, 'nope'))).toMatchObject({ ok: false, reasonCode: 0x86 });
      } finally {
        await chain.close();
      }
    });
  }

  it('unknown users and injection attempts are refused; ${clientid} is a bound parameter too', async () => {
    const src = new MysqlAuthSource({ url: db.url, query: "SELECT password_hash, salt, is_superuser FROM mqtt_user WHERE username = '${username}' AND '${clientid}' <> 'x' LIMIT 1", timeoutMs: 5000 }, hashSpec({ name: 'plain' }));
    const chain = new AuthChain([src], 0);
    try {
      expect(await chain.authenticate(req('nobody', 'pw'))).toMatchObject({ ok: false, reasonCode: 0x86, reason: 'unknown user' });
      expect(await chain.authenticate(req("x' OR '1'='1", 'pw-plain'))).toMatchObject({ ok: false, reason: 'unknown user' });
      expect(await chain.authenticate(req('plain', 'pw-plain', "x' OR 1=1 -- "))).toMatchObject({ ok: true });
      expect(await chain.authenticate(req('plain', 'pw-plain', 'x'))).toMatchObject({ ok: false, reason: 'unknown user' });
    } finally {
      await chain.close();
    }
  });

  it('a server that is down fails closed with 0x88, quickly', async () => {
    const port = await freePort();
    const chain = new AuthChain([new MysqlAuthSource({ url: `mysql://u:p@127.0.0.1:${port}/x`, query: '', timeoutMs: 2000 }, hashSpec({ name: 'plain' }))], 30_000);
    try {
      const t0 = Date.now();
      expect(await chain.authenticate(req('plain', 'pw-plain'))).toMatchObject({ ok: false, reasonCode: 0x88, backendDown: true });
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      await chain.close();
    }
  });

  it('ACL rows become rules for the user', async () => {
    const src = new MysqlAclSource({ url: db.url, query: '', timeoutMs: 5000 });
    try {
      const r = await src.rulesFor(req('sha256p', ''));
      expect(r).toEqual({ ok: true, rules: [
        { who: { kind: 'username', value: 'sha256p' }, action: 'publish', permission: 'allow', topic: 'own/${username}/#', qos: undefined, retain: undefined },
        { who: { kind: 'username', value: 'sha256p' }, action: 'all', permission: 'deny', topic: '#', qos: undefined, retain: undefined },
      ] });
    } finally {
      await src.close();
    }
  });
});

describe('Redis authentication source (HMGET default)', () => {
  it('right accepted, wrong refused, unknown ignored, ACL hash read', async () => {
    const chain = new AuthChain([new RedisAuthSource({ url: redis.url, cmd: '', timeoutMs: 5000 }, hashSpec({ name: 'sha256', saltPosition: 'suffix' }))], 0);
    const acl = new RedisAclSource({ url: redis.url, cmd: '', timeoutMs: 5000 });
    try {
      // The client connects lazily: the first request may race it, so wait until it answers.
      const deadline = Date.now() + 5000;
      let d = await chain.authenticate(req('ruser', 'pw-redis'));
      while (!d.ok && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        d = await chain.authenticate(req('ruser', 'pw-redis'));
      }
      expect(d).toMatchObject({ ok: true, superuser: true });
      expect(await chain.authenticate(req('ruser', 'bad'))).toMatchObject({ ok: false, reasonCode: 0x86 });
      expect(await chain.authenticate(req('ghost', 'x'))).toMatchObject({ ok: false, reason: 'unknown user' });
      const rules = await acl.rulesFor(req('ruser', ''));
      expect(rules.ok && rules.rules.map((r) => [r.topic, r.action, r.permission])).toEqual([['r/${username}/+', 'subscribe', 'allow'], ['r/x', 'publish', 'deny']]);
    } finally {
      await chain.close();
      await acl.close();
    }
  });
});

describe('through the broker', () => {
  let broker: TestBroker;
  afterAll(async () => broker?.stop());

  it('MySQL then Redis in the chain; ACL from MySQL; down backend refused with 0x88 and logged', async () => {
    broker = await startTestBroker([
      'auth.allow_anonymous=false', 'acl.no_match=deny', 'flapping_detect.enable=false',
      `auth.chain=[{ type = "mysql", url = "${db.url}", password_hash = { name = "sha256", salt_position = "prefix" } }, { type = "redis", url = "${redis.url}", password_hash = { name = "sha256", salt_position = "suffix" } }]`,
      `acl.chain=[{ type = "mysql", url = "${db.url}" }]`,
    ]);
    const port = broker.port('mqtt-tcp');
    const ok = await rawConnect(port, 5, { username: 'sha256p', password: Buffer.from('pw-sha256p') });
    expect(ok.ack.reasonCode).toBe(0);
    ok.c.send({ cmd: 'publish', topic: 'own/sha256p/x', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false } as never, 5);
    expect(((await ok.c.next('puback')) as { reasonCode?: number }).reasonCode ?? 0).toBe(0x10);
    ok.c.send({ cmd: 'publish', topic: 'own/other/x', payload: Buffer.from('1'), qos: 1, messageId: 2, retain: false, dup: false } as never, 5);
    expect(((await ok.c.next('puback')) as { reasonCode?: number }).reasonCode).toBe(0x87);
    ok.c.close();
    expect((await rawConnect(port, 5, { username: 'sha256p', password: Buffer.from('bad') })).ack.reasonCode).toBe(0x86);
    expect((await rawConnect(port, 4, { username: 'nobody', password: Buffer.from('x') })).ack.returnCode).toBe(4);
    expect((await rawConnect(port, 5, {})).ack.reasonCode).toBe(0x87);
    const viaRedis = await rawConnect(port, 5, { username: 'ruser', password: Buffer.from('pw-redis') });
    expect(viaRedis.ack.reasonCode).toBe(0);
    viaRedis.c.close();

    redis.kill();
    // A cached success stays valid for cache_ttl; a new password needs the backend, which is down.
    expect((await rawConnect(port, 5, { username: 'ruser', password: Buffer.from('other') })).ack.reasonCode).toBe(0x88);
    expect(broker.broker.security.stats.authBackendErrors).toBeGreaterThan(0);
  }, 60_000);
});
