import { generateKeyPairSync, createSign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Blacklist, validateBlacklistEntry } from '../blacklist.js';
import { FlappingDetector } from '../flapping.js';
import { hmacKey, rsaKey, signJwtHmac, verifyJwt } from '../jwt.js';
import { bindCommand, bindSql, compileCommand, compileSql, TemplateError } from '../placeholders.js';
import { TokenBucket } from '../rate-limit.js';
import { makeScramCredentials, ScramClient, ScramServerExchange } from '../scram.js';

describe('blacklist', () => {
  it('matches each type, ignores expired entries', () => {
    const b = new Blacklist();
    const at = 1000;
    b.put({ type: 'client_id', value: 'c1', createdAt: 0 });
    b.put({ type: 'username', value: 'u1', until: 2000, createdAt: 0 });
    b.put({ type: 'ip', value: '192.0.2.1', createdAt: 0 });
    b.put({ type: 'cidr', value: '198.51.100.0/24', createdAt: 0 });
    b.put({ type: 'client_id_regex', value: '^bot-', createdAt: 0 });
    b.put({ type: 'username_regex', value: 'admin$', createdAt: 0 });
    expect(b.match('c1', undefined, '::1', at)?.type).toBe('client_id');
    expect(b.match('x', 'u1', '::1', at)?.type).toBe('username');
    expect(b.match('x', 'u1', '::1', 2000)).toBeNull();
    expect(b.match('x', undefined, '::ffff:192.0.2.1', at)?.type).toBe('ip');
    expect(b.match('x', undefined, '198.51.100.77', at)?.type).toBe('cidr');
    expect(b.match('bot-7', undefined, '::1', at)?.type).toBe('client_id_regex');
    expect(b.match('x', 'superadmin', '::1', at)?.type).toBe('username_regex');
    expect(b.match('x', 'y', '::1', at)).toBeNull();
    expect(b.delete('cidr', '198.51.100.0/24')).toBe(true);
    expect(b.match('x', undefined, '198.51.100.77', at)).toBeNull();
    expect(b.expired(2000).map((e) => e.value)).toEqual(['u1']);
  });

  it('refuses bad entries with a typed error', () => {
    expect(() => validateBlacklistEntry('colour', 'x')).toThrow(/blacklist type must be one of/);
    expect(() => validateBlacklistEntry('client_id_regex', '(')).toThrow(/bad regular expression/);
    expect(() => validateBlacklistEntry('cidr', '10.0.0.0/40')).toThrow(/prefix length/);
    expect(() => validateBlacklistEntry('ip', 'not-an-ip')).toThrow(/not an IP/);
  });
});

describe('flapping detection', () => {
  it('bans on the connect after max_client_connections within the window, not outside it', () => {
    const f = new FlappingDetector({ windowMs: 1000, maxConnections: 3, banMs: 5000 });
    expect([0, 100, 200].map((t) => f.record('c', t))).toEqual([null, null, null]);
    expect(f.record('c', 300)).toMatchObject({ clientId: 'c', connections: 4, until: 5300 });
    expect([0, 600, 1200, 1800, 2400].map((t) => f.record('slow', t))).toEqual([null, null, null, null, null]);
    f.sweep(10_000);
    expect(f.tracked).toBe(0);
    expect(f.list(5299).map((e) => e.clientId)).toEqual(['c']);
  });
});

describe('token bucket', () => {
  it('allows the burst, then the rate', () => {
    const b = new TokenBucket(10, 2, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([true, true, false]);
    expect(b.take(50)).toBe(false);
    expect(b.take(100)).toBe(true);
  });
});

describe('placeholders', () => {
  it('SQL placeholders become bound parameters, quotes dropped', () => {
    const t = compileSql("SELECT 1 FROM t WHERE u = '${username}' AND c = ${clientid}");
    expect(t.sql).toBe('SELECT 1 FROM t WHERE u = ? AND c = ?');
    expect(bindSql(t, { username: "a' OR 1=1", clientid: 'c', peerhost: '', cert_common_name: '' })).toEqual(["a' OR 1=1", 'c']);
    expect(() => compileSql('SELECT ${password}')).toThrow(TemplateError);
  });

  it('Redis placeholders fill one argument each', () => {
    const t = compileCommand('hmget mqtt_user:${username} password_hash salt');
    expect(t.command).toBe('HMGET');
    expect(bindCommand(t, { username: 'a b', clientid: '', peerhost: '', cert_common_name: '' })).toEqual(['mqtt_user:a b', 'password_hash', 'salt']);
  });
});

describe('JWT', () => {
  it('HMAC: signature, exp, nbf, algorithm confusion', () => {
    const key = hmacKey('s');
    const now = 1_700_000_000_000;
    expect(verifyJwt(signJwtHmac({ sub: 'a', exp: now / 1000 + 10 }, 's'), key, now)).toMatchObject({ ok: true, expiresAt: now + 10_000 });
    expect(verifyJwt(signJwtHmac({ exp: now / 1000 - 1 }, 's'), key, now)).toMatchObject({ ok: false, reason: 'JWT has expired' });
    expect(verifyJwt(signJwtHmac({ nbf: now / 1000 + 100 }, 's'), key, now)).toMatchObject({ ok: false });
    expect(verifyJwt(signJwtHmac({}, 't'), key, now)).toMatchObject({ ok: false, reason: 'JWT signature does not verify' });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`;
    expect(verifyJwt(none, key, now)).toMatchObject({ ok: false });
  });

  it('RSA keys verify RS256 and refuse HS256 signed with the public key', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const h = Buffer.from('{"alg":"RS256"}').toString('base64url');
    const p = Buffer.from('{"sub":"x"}').toString('base64url');
    const s = createSign('sha256').update(`${h}.${p}`).sign(privateKey).toString('base64url');
    expect(verifyJwt(`${h}.${p}.${s}`, rsaKey(pem), Date.now())).toMatchObject({ ok: true });
    expect(verifyJwt(signJwtHmac({ sub: 'x' }, pem), rsaKey(pem), Date.now())).toMatchObject({ ok: false });
  });
});

describe('SCRAM-SHA-256 (RFC 7677 section 3 example)', () => {
  it('reproduces the RFC exchange', () => {
    // user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, i=4096
    const creds = makeScramCredentials('pencil', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    const ex = new ScramServerExchange((u) => (u === 'user' ? creds : undefined), 4096, () => '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0');
    const first = ex.start(Buffer.from('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'));
    expect(first.ok && first.message.toString()).toBe('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096');
    const final = ex.finish(Buffer.from('c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='));
    expect(final.ok && final.message.toString()).toBe('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('an unknown user gets a challenge and then fails', () => {
    const ex = new ScramServerExchange(() => undefined, 4096);
    const client = new ScramClient('ghost', 'pw');
    const first = ex.start(client.first());
    expect(first.ok).toBe(true);
    expect(ex.finish(client.final((first as { message: Buffer }).message)).ok).toBe(false);
  });
});
