import { createHash, pbkdf2Sync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bcryptDecode, bcryptEncode, bcryptHash, bcryptVerify } from '../bcrypt.js';
import { blowfishInitialWords } from '../blowfish-constants.js';
import { hashPassword, hashSpec, verifyPassword } from '../password-hash.js';

describe('Blowfish constants from π', () => {
  it('start and end with the published words', () => {
    const w = blowfishInitialWords();
    expect(w[0]!.toString(16)).toBe('243f6a88'); // P1
    expect(w[1]!.toString(16)).toBe('85a308d3'); // P2
    expect(w[17]!.toString(16)).toBe('8979fb1b'); // P18
    expect(w[18]!.toString(16)).toBe('d1310ba6'); // S1[0]
    expect(w[18 + 1023]!.toString(16)).toBe('3ac372e6'); // S4[255]
  });
});

describe('bcrypt', () => {
  // Known answers: the OpenWall crypt_blowfish test vectors, and hashes made by glibc/libxcrypt crypt(3).
  const vectors: Array<[string, string]> = [
    ['U*U', '$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW'],
    ['U*U', '$2b$04$abcdefghijklmnopqrstuuCFaEytnzrfaPZJKbS76hh9vqd9r8v2S'],
    ['U*U*', '$2b$04$abcdefghijklmnopqrstuuBtzXFXMcxIslxJptQaoJYuU.xP21coS'],
    ['U*U*U', '$2b$04$abcdefghijklmnopqrstuuMJG4SPxGpsI2PpmiVYJg7D.hA7CdQyO'],
    ['', '$2b$04$abcdefghijklmnopqrstuubyCG3zY1GIXMyxfivm.ClDiInHzxjiq'],
    ['0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored',
      '$2b$04$abcdefghijklmnopqrstuuRAip/W0RPQX4QKkqYqXE3GIXWH518Sm'],
    ['päss wörd', '$2b$04$abcdefghijklmnopqrstuug0dDbOpa5ZqsJa.0FXc9Cfct0Dpi9wq'],
    ['secret', '$2b$10$N9qo8uLOickgx2ZMRZoMyecBPBZPbMY9K9Iy/VaK.7YTHTLYF41De'],
  ];
  for (const [password, hash] of vectors) {
    it(`verifies ${JSON.stringify(password.slice(0, 12))} against ${hash.slice(0, 7)}`, () => {
      expect(bcryptVerify(password, hash)).toBe(true);
      expect(bcryptVerify(password + 'x', hash)).toBe(password.length >= 72);
      const salt = bcryptDecode(hash.slice(7, 29), 16);
      expect(bcryptHash(password, Number(hash.slice(4, 6)), salt).slice(7)).toBe(hash.slice(7));
    });
  }

  it('only the first 72 bytes of a password count', () => {
    const long = 'a'.repeat(72);
    expect(bcryptVerify(long + 'tail', bcryptHash(long, 4))).toBe(true);
  });

  it('refuses malformed hashes instead of throwing', () => {
    expect(bcryptVerify('x', '$2b$04$short')).toBe(false);
    expect(bcryptVerify('x', '$2b$99$abcdefghijklmnopqrstuuCFaEytnzrfaPZJKbS76hh9vqd9r8v2S')).toBe(false);
    expect(bcryptVerify('x', 'not a hash')).toBe(false);
  });

  it('base64 round-trips', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
      expect([...bcryptDecode(bcryptEncode(b, 16), 16)]).toEqual([...b]);
    }));
  });
});

describe('password hashes', () => {
  it('plain', async () => {
    const s = hashSpec({ name: 'plain' });
    const h = hashPassword(s, 'pw');
    expect(h).toEqual({ hash: 'pw', salt: '' });
    expect(await verifyPassword(s, 'pw', h)).toBe(true);
    expect(await verifyPassword(s, 'pw2', h)).toBe(false);
  });

  for (const alg of ['sha256', 'sha512'] as const) {
    it(`${alg} with the salt as prefix, suffix, or none, as lowercase hex`, async () => {
      const prefix = hashSpec({ name: alg, saltPosition: 'prefix' });
      const suffix = hashSpec({ name: alg, saltPosition: 'suffix' });
      const none = hashSpec({ name: alg, saltPosition: 'disable' });
      expect(hashPassword(prefix, 'pw', 'salt').hash).toBe(createHash(alg).update('saltpw').digest('hex'));
      expect(hashPassword(suffix, 'pw', 'salt').hash).toBe(createHash(alg).update('pwsalt').digest('hex'));
      expect(hashPassword(none, 'pw', 'salt')).toEqual({ hash: createHash(alg).update('pw').digest('hex'), salt: '' });
      const stored = { hash: createHash(alg).update('saltpw').digest('hex').toUpperCase(), salt: 'salt' };
      expect(await verifyPassword(prefix, 'pw', stored)).toBe(true);
      expect(await verifyPassword(suffix, 'pw', stored)).toBe(false);
      expect(await verifyPassword(prefix, 'wrong', stored)).toBe(false);
    });
  }

  it('pbkdf2 with sha256 and sha512', async () => {
    for (const macFun of ['sha256', 'sha512'] as const) {
      const s = hashSpec({ name: 'pbkdf2', iterations: 1000, macFun, dkLength: 0 });
      const h = hashPassword(s, 'pw', 'nacl');
      expect(h.hash).toBe(pbkdf2Sync('pw', 'nacl', 1000, macFun === 'sha256' ? 32 : 64, macFun).toString('hex'));
      expect(await verifyPassword(s, 'pw', h)).toBe(true);
      expect(await verifyPassword(s, 'px', h)).toBe(false);
    }
  });

  it('bcrypt keeps its own form and ignores the salt column', async () => {
    const s = hashSpec({ name: 'bcrypt', saltRounds: 4 });
    const h = hashPassword(s, 'pw');
    expect(h.hash).toMatch(/^\$2b\$04\$[./A-Za-z0-9]{53}$/);
    expect(await verifyPassword(s, 'pw', { hash: h.hash, salt: 'whatever' })).toBe(true);
    expect(await verifyPassword(s, 'pW', h)).toBe(false);
  });
});
