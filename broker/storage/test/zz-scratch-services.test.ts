import { it, expect } from 'vitest';
import { startMariaDb } from '../../../test/services/mariadb.js';
import { startS3Server } from '../../../test/services/s3.js';
import { createConnection } from 'mysql2/promise';
import { Client } from 'minio';

it('mariadb', async () => {
  const t0 = Date.now();
  const db = await startMariaDb();
  console.log('mariadb up in', Date.now() - t0, db.url);
  const u = new URL(db.url);
  const c = await createConnection({ host: u.hostname, port: Number(u.port), user: u.username, password: u.password, database: u.pathname.slice(1) });
  console.log(await c.query('select 1 as x, @@max_allowed_packet as p'));
  const t1 = Date.now();
  await c.query('create table t (id int primary key, v int)');
  for (let i = 0; i < 50; i++) { await c.query('start transaction'); await c.query('insert into t values (?, 1)', [i]); await c.query('commit'); }
  console.log('50 commits ms', Date.now() - t1);
  await c.end();
  await db.stop();
}, 60000);

it('s3', async () => {
  const t0 = Date.now();
  const s = await startS3Server();
  console.log('s3 up in', Date.now() - t0, s.endpoint);
  const u = new URL(s.endpoint);
  const mc = new Client({ endPoint: u.hostname, port: Number(u.port), useSSL: false, accessKey: s.accessKey, secretKey: s.secretKey, pathStyle: true, region: 'us-east-1' });
  await mc.putObject(s.bucket, 'a/b', Buffer.from('hello'));
  const t1 = Date.now();
  for (let i = 0; i < 50; i++) await mc.putObject(s.bucket, `x/${i}`, Buffer.alloc(2000));
  console.log('50 puts ms', Date.now() - t1);
  const st = await mc.getObject(s.bucket, 'a/b');
  const chunks: Buffer[] = []; for await (const ch of st) chunks.push(ch as Buffer);
  expect(Buffer.concat(chunks).toString()).toBe('hello');
  await s.stop();
});
