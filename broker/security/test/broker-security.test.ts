// The security layer through a real broker whose built-in users, ACL rules and blacklist live in
// an embedded placement center (the standalone set-up), managed with robust-ctl.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerSchema, loadConfig } from '../../../common/config/index.js';
import { createLogger } from '../../../common/log.js';
import { startEmbeddedPlacement, type EmbeddedPlacement } from '../../../placement/service/embedded.js';
import { runCtl } from '../../../cli/robust-ctl.js';
import { startBroker, type RunningBroker } from '../../server.js';
import { PlacementSecurityStore } from '../placement-security-store.js';
import { ScramClient, SCRAM_METHOD } from '../scram.js';
import { signJwtHmac } from '../jwt.js';
import { rawConnect, RawClient, uid, waitFor } from '../../test/helpers.js';
import type { IConnackPacket } from '../../mqtt/packets.js';

interface Env {
  placement: EmbeddedPlacement;
  store: PlacementSecurityStore;
  broker: RunningBroker;
  dir: string;
  port: number;
  admin: string;
}

async function start(sets: string[]): Promise<Env> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rmq-sec-'));
  const log = createLogger('error', 'test');
  const placement = await startEmbeddedPlacement({ dataDir: path.join(dir, 'placement'), log, tuning: { tickMs: 10 } });
  const store = new PlacementSecurityStore(placement.client);
  const config = loadConfig(brokerSchema, {
    sets: ['mqtt.host=127.0.0.1', 'admin.host=127.0.0.1', 'mqtt.tcp_port=0', 'mqtt.ws_port=-1', 'mqtt.tls_port=-1', 'mqtt.wss_port=-1',
      'admin.http_port=0', `data_dir=${dir}`, 'storage.driver=memory', 'log.level=error', ...sets],
  });
  const broker = await startBroker(config, log, { securityStore: store });
  const port = broker.listeners.find((l) => l.name === 'mqtt-tcp')!.port;
  const admin = `http://127.0.0.1:${broker.listeners.find((l) => l.name === 'admin-http')!.port}`;
  return { placement, store, broker, dir, port, admin };
}

async function stop(e: Env | undefined): Promise<void> {
  if (e === undefined) return;
  await e.broker.close();
  e.store.close();
  await e.placement.close();
  rmSync(e.dir, { recursive: true, force: true });
}

async function ctl(e: Env, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCtl([...args, '--server', e.admin], { out: (t) => (out += t + '\n'), err: (t) => (err += t + '\n') });
  return { code, out, err };
}

const codeOf = (ack: IConnackPacket): number | undefined => ack.reasonCode ?? ack.returnCode;
const connect5 = async (e: Env, fields: Record<string, unknown>) => codeOf((await rawConnect(e.port, 5, fields)).ack);

describe('built-in users, ACL and blacklist from placement (auth on)', () => {
  let e: Env;
  beforeAll(async () => {
    e = await start(['auth.allow_anonymous=false', 'acl.no_match=deny', 'flapping_detect.max_client_connections=10',
      'auth.chain=[{ type = "built_in", password_hash = { name = "pbkdf2", iterations = 1000 } }, { type = "scram" }]']);
    expect((await ctl(e, 'mqtt', 'user', 'create', '--username', 'alice', '--password', 'pa55')).code).toBe(0);
    expect((await ctl(e, 'mqtt', 'user', 'create', '--username', 'root', '--password', 'r00t', '--superuser')).code).toBe(0);
    for (const [who, action, topic, permission] of [
      ['--username=alice', 'publish', 'alice/secret', 'deny'],
      ['--username=alice', 'all', 'alice/#', 'allow'],
      ['--all', 'subscribe', 'public/+', 'allow'],
    ]) {
      const r = await ctl(e, 'mqtt', 'acl', 'create', who!, '--action', action!, '--topic', topic!, '--permission', permission!);
      expect(r.code, r.err).toBe(0);
    }
  }, 60_000);
  afterAll(() => stop(e));

  it('robust-ctl lists what it created; the records are in placement', async () => {
    const users = await ctl(e, 'mqtt', 'user', 'list', '--output', 'json');
    expect(JSON.parse(users.out).map((u: { username: string; is_superuser: boolean }) => [u.username, u.is_superuser])).toEqual([['alice', false], ['root', true]]);
    const acl = JSON.parse((await ctl(e, 'mqtt', 'acl', 'list', '--output', 'json')).out) as Array<{ id: number; topic: string }>;
    expect(acl.map((r) => r.topic)).toEqual(['alice/secret', 'alice/#', 'public/+']);
    expect(acl[0]!.id).toBeLessThan(acl[1]!.id);
    expect((await e.placement.client.kvList('mqtt/security/user/')).entries.length).toBe(2);
    expect((await ctl(e, 'mqtt', 'acl', 'create', '--all', '--action', 'publish', '--topic', 'a/#/b', '--permission', 'allow')).code).toBe(1);
    expect((await ctl(e, 'mqtt', 'user', 'create', '--username', 'x')).code).toBe(2);
  });

  it('right password accepted, wrong and unknown refused (0x86 / 4), anonymous refused', async () => {
    expect(await connect5(e, { username: 'alice', password: Buffer.from('pa55') })).toBe(0);
    expect(await connect5(e, { username: 'alice', password: Buffer.from('nope') })).toBe(0x86);
    expect(await connect5(e, { username: 'mallory', password: Buffer.from('x') })).toBe(0x86);
    expect(codeOf((await rawConnect(e.port, 4, { username: 'alice', password: Buffer.from('nope') })).ack)).toBe(4);
    expect(await connect5(e, {})).toBe(0x87);
  });

  it('ACL: denied PUBLISH gets 0x87 (v5) or is acknowledged and dropped (v3); denied SUBSCRIBE 0x87 / 0x80', async () => {
    const watcher = await rawConnect(e.port, 5, { username: 'root', password: Buffer.from('r00t'), clientId: `w-${uid()}` });
    watcher.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'alice/#', qos: 1 }] } as never, 5);
    await watcher.c.next('suback');

    const a5 = (await rawConnect(e.port, 5, { username: 'alice', password: Buffer.from('pa55'), clientId: `a5-${uid()}` })).c;
    a5.send({ cmd: 'publish', topic: 'alice/secret', payload: Buffer.from('s'), qos: 1, messageId: 7, retain: false, dup: false } as never, 5);
    expect(((await a5.next('puback')) as { reasonCode?: number }).reasonCode).toBe(0x87);
    a5.send({ cmd: 'publish', topic: 'alice/ok', payload: Buffer.from('ok5'), qos: 1, messageId: 8, retain: false, dup: false } as never, 5);
    expect(((await a5.next('puback')) as { reasonCode?: number }).reasonCode ?? 0).toBe(0);
    a5.send({ cmd: 'subscribe', messageId: 9, subscriptions: [{ topic: 'bob/#', qos: 0 }, { topic: 'public/x', qos: 0 }, { topic: 'public/#', qos: 0 }] } as never, 5);
    expect(((await a5.next('suback')) as { granted: number[] }).granted).toEqual([0x87, 0, 0x87]);

    const a3 = (await rawConnect(e.port, 4, { username: 'alice', password: Buffer.from('pa55'), clientId: `a3-${uid()}` })).c;
    a3.send({ cmd: 'publish', topic: 'alice/secret', payload: Buffer.from('s3'), qos: 1, messageId: 3, retain: false, dup: false } as never, 4);
    expect(((await a3.next('puback')) as { messageId: number }).messageId).toBe(3);
    a3.send({ cmd: 'publish', topic: 'alice/ok', payload: Buffer.from('ok3'), qos: 1, messageId: 4, retain: false, dup: false } as never, 4);
    await a3.next('puback');
    a3.send({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'bob/#', qos: 0 }] } as never, 4);
    expect(((await a3.next('suback')) as { granted: number[] }).granted).toEqual([0x80]);

    const got: string[] = [];
    await waitFor(async () => {
      for (;;) {
        const i = watcher.c.packets.findIndex((p) => p.cmd === 'publish');
        if (i < 0) break;
        got.push(String((watcher.c.packets.splice(i, 1)[0] as { payload: Buffer }).payload));
      }
      return got.includes('ok5') && got.includes('ok3');
    }, 'allowed messages');
    expect(got.filter((g) => g.startsWith('s'))).toEqual([]);
    expect(e.broker.broker.security.stats.aclDeniedPublish).toBeGreaterThanOrEqual(2);
    for (const c of [watcher.c, a5, a3]) c.close();
  });

  it('a rule change applies to connected clients (caches invalidated)', async () => {
    const c = (await rawConnect(e.port, 5, { username: 'alice', password: Buffer.from('pa55'), clientId: `rc-${uid()}` })).c;
    c.send({ cmd: 'publish', topic: 'alice/later', payload: Buffer.from('1'), qos: 1, messageId: 1, retain: false, dup: false } as never, 5);
    expect(((await c.next('puback')) as { reasonCode?: number }).reasonCode ?? 0).not.toBe(0x87);
    const r = await ctl(e, 'mqtt', 'acl', 'create', '--client-id', 'nobody', '--action', 'publish', '--topic', 'x', '--permission', 'deny');
    expect(r.code).toBe(0);
    const first = JSON.parse((await ctl(e, 'mqtt', 'acl', 'list', '--output', 'json')).out)[1].id as number;
    expect((await ctl(e, 'mqtt', 'acl', 'delete', '--id', String(first))).code).toBe(0);
    // alice/# allow is gone: alice/later now falls to no_match = deny.
    c.send({ cmd: 'publish', topic: 'alice/later', payload: Buffer.from('2'), qos: 1, messageId: 2, retain: false, dup: false } as never, 5);
    expect(((await c.next('puback')) as { reasonCode?: number }).reasonCode).toBe(0x87);
    c.close();
  });

  it('blacklist by client id, username and regex: 0x8A (v5) / 5 (v3); expiry honoured', async () => {
    expect((await ctl(e, 'mqtt', 'blacklist', 'create', '--type', 'client_id', '--value', 'evil')).code).toBe(0);
    expect((await ctl(e, 'mqtt', 'blacklist', 'create', '--type', 'username_regex', '--value', '^bad')).code).toBe(0);
    const past = new Date(Date.now() - 1000).toISOString();
    expect((await ctl(e, 'mqtt', 'blacklist', 'create', '--type', 'client_id', '--value', 'old', '--until', past)).code).toBe(0);
    expect(await connect5(e, { clientId: 'evil', username: 'alice', password: Buffer.from('pa55') })).toBe(0x8a);
    expect(codeOf((await rawConnect(e.port, 4, { clientId: 'evil', username: 'alice', password: Buffer.from('pa55') })).ack)).toBe(5);
    expect(await connect5(e, { username: 'badguy', password: Buffer.from('x') })).toBe(0x8a);
    expect(await connect5(e, { clientId: 'old', username: 'alice', password: Buffer.from('pa55') })).toBe(0);
    const listed = JSON.parse((await ctl(e, 'mqtt', 'blacklist', 'list', '--output', 'json')).out) as Array<{ value: string }>;
    expect(listed.map((l) => l.value).sort()).toEqual(['^bad', 'evil']);
    expect((await ctl(e, 'mqtt', 'blacklist', 'delete', '--type', 'client_id', '--value', 'evil')).code).toBe(0);
    expect(await connect5(e, { clientId: 'evil', username: 'alice', password: Buffer.from('pa55') })).toBe(0);
    expect((await ctl(e, 'mqtt', 'blacklist', 'create', '--type', 'cidr', '--value', '10.0.0.0/33')).code).toBe(1);
  });

  it('brute force: many wrong passwords from one client id end banned, visible in flapping-detect', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 14; i++) codes.push((await connect5(e, { clientId: 'guesser', username: 'alice', password: Buffer.from(`guess-${i}`) }))!);
    expect(codes.slice(0, 10).every((c) => c === 0x86)).toBe(true);
    expect(codes.slice(10).every((c) => c === 0x8a)).toBe(true);
    // The right password no longer helps while the ban lasts.
    expect(await connect5(e, { clientId: 'guesser', username: 'alice', password: Buffer.from('pa55') })).toBe(0x8a);
    const flapping = JSON.parse((await ctl(e, 'mqtt', 'flapping-detect', '--output', 'json')).out) as Array<{ client_id: string }>;
    expect(flapping.map((f) => f.client_id)).toContain('guesser');
    const banned = JSON.parse((await ctl(e, 'mqtt', 'blacklist', 'list', '--output', 'json')).out) as Array<{ value: string }>;
    expect(banned.map((b) => b.value)).toContain('guesser');
  });

  it('SCRAM-SHA-256 over AUTH packets: right password in, wrong out, server proves itself', async () => {
    const scram = async (password: string): Promise<{ ack: IConnackPacket; client: ScramClient; c: RawClient }> => {
      const client = new ScramClient('alice', password);
      const c = await RawClient.connect(e.port, 5);
      c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: `s-${uid()}`,
        properties: { authenticationMethod: SCRAM_METHOD, authenticationData: client.first() } } as never, 5);
      const challenge = (await c.next('auth')) as { reasonCode: number; properties: { authenticationData: Buffer } };
      expect(challenge.reasonCode).toBe(0x18);
      c.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: SCRAM_METHOD, authenticationData: client.final(challenge.properties.authenticationData) } } as never, 5);
      return { ack: (await c.next('connack')) as IConnackPacket, client, c };
    };
    const ok = await scram('pa55');
    expect(ok.ack.reasonCode).toBe(0);
    expect(ok.client.verifyServer(ok.ack.properties!.authenticationData!)).toBe(true);
    ok.c.close();
    const bad = await scram('wrong');
    expect(bad.ack.reasonCode).toBe(0x86);
    bad.c.close();
    expect(await connect5(e, { properties: { authenticationMethod: 'KERBEROS' } })).toBe(0x8c);
  });
});

describe('quick-start defaults, JWT, rate limits', () => {
  let e: Env;
  const secret = 'jwt-test-secret';
  beforeAll(async () => {
    e = await start(['rate_limit.client_message_rate=2', 'rate_limit.client_message_burst=2', 'rate_limit.listener_connection_rate=1000',
      `auth.chain=[{ type = "jwt", secret = "${secret}", verify_claims = ["sub=\${username}"] }]`]);
  }, 60_000);
  afterAll(() => stop(e));

  it('anonymous clients are let in by the quick-start config', async () => {
    expect(await connect5(e, {})).toBe(0);
  });

  it('JWT: valid token in, bad signature / wrong sub out, expiry closes the connection with 0xA0', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = signJwtHmac({ sub: 'dev1', exp: now + 2 }, secret);
    expect(await connect5(e, { username: 'dev1', password: Buffer.from(signJwtHmac({ sub: 'dev1', exp: now + 60 }, 'other')) })).toBe(0x86);
    expect(await connect5(e, { username: 'dev2', password: Buffer.from(token) })).toBe(0x86);
    expect(await connect5(e, { username: 'dev1', password: Buffer.from(signJwtHmac({ sub: 'dev1', exp: now - 10 }, secret)) })).toBe(0x86);
    const { c, ack } = await rawConnect(e.port, 5, { username: 'dev1', password: Buffer.from(token) });
    expect(ack.reasonCode).toBe(0);
    const d = (await c.next('disconnect', 5000)) as { reasonCode: number };
    expect(d.reasonCode).toBe(0xa0);
  });

  it('message rate limit per client: over the bucket, PUBACK 0x97', async () => {
    const { c } = await rawConnect(e.port, 5, { clientId: `rl-${uid()}` });
    const codes: number[] = [];
    for (let i = 1; i <= 4; i++) {
      c.send({ cmd: 'publish', topic: 'rl', payload: Buffer.from('x'), qos: 1, messageId: i, retain: false, dup: false } as never, 5);
      codes.push(((await c.next('puback')) as { reasonCode?: number }).reasonCode ?? 0);
    }
    expect(codes.filter((x) => x === 0x97).length).toBeGreaterThanOrEqual(1);
    expect(codes[0]).not.toBe(0x97);
    c.close();
  });

  it('flapping: more than max_client_connections connects in the window ban the client id', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 17; i++) {
      const { c, ack } = await rawConnect(e.port, 4, { clientId: 'flappy' });
      codes.push(codeOf(ack)!);
      c.close();
    }
    expect(codes.slice(0, 15).every((x) => x === 0)).toBe(true);
    expect(codes[15]).toBe(5);
  });
});
