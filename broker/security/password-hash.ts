// Password hashing as the auth sources store it (EMQX-compatible): plain, sha256 / sha512 with the
// salt as prefix or suffix (or none), pbkdf2, bcrypt. A hashed password is lowercase hex; bcrypt
// keeps its own `$2b$` form (its salt lives inside the hash). Comparison is constant-time.

import { createHash, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { bcryptHash, bcryptVerify } from './bcrypt.js';

export type HashName = 'plain' | 'sha256' | 'sha512' | 'pbkdf2' | 'bcrypt';
export const hashNames: readonly HashName[] = ['plain', 'sha256', 'sha512', 'pbkdf2', 'bcrypt'];
export type SaltPosition = 'prefix' | 'suffix' | 'disable';
export type MacFun = 'sha256' | 'sha512';

export interface PasswordHashSpec {
  readonly name: HashName;
  /** sha256 / sha512: where the salt goes, `salt + password` (prefix) or `password + salt` (suffix). */
  readonly saltPosition: SaltPosition;
  /** pbkdf2 iterations. */
  readonly iterations: number;
  /** pbkdf2 pseudo-random function. */
  readonly macFun: MacFun;
  /** pbkdf2 derived key length in bytes (0 = the digest size of macFun). */
  readonly dkLength: number;
  /** bcrypt cost (log2 of the rounds). */
  readonly saltRounds: number;
}

export const defaultHashSpec: PasswordHashSpec = Object.freeze({
  name: 'pbkdf2', saltPosition: 'prefix', iterations: 100_000, macFun: 'sha256', dkLength: 32, saltRounds: 10,
});

export function hashSpec(partial: Partial<PasswordHashSpec> & { name: HashName }): PasswordHashSpec {
  return { ...defaultHashSpec, ...partial };
}

/** A stored password: the hash and the salt it was made with ('' for plain, bcrypt, or no salt). */
export interface HashedPassword {
  readonly hash: string;
  readonly salt: string;
}

/** Hashes a password for storage. The salt is random hex unless given. */
export function hashPassword(spec: PasswordHashSpec, password: string, salt?: string): HashedPassword {
  switch (spec.name) {
    case 'plain':
      return { hash: password, salt: '' };
    case 'sha256':
    case 'sha512': {
      const s = spec.saltPosition === 'disable' ? '' : (salt ?? randomBytes(16).toString('hex'));
      return { hash: digest(spec.name, salted(spec.saltPosition, password, s)), salt: s };
    }
    case 'pbkdf2': {
      const s = salt ?? randomBytes(16).toString('hex');
      return { hash: pbkdf2Sync(password, s, spec.iterations, dkLen(spec), spec.macFun).toString('hex'), salt: s };
    }
    case 'bcrypt':
      return { hash: bcryptHash(password, spec.saltRounds), salt: '' };
  }
}

/**
 * Whether `password` matches a stored hash. pbkdf2 runs on the libuv thread pool (100 000
 * iterations would hold the event loop for tens of milliseconds); the others are synchronous.
 */
export async function verifyPassword(spec: PasswordHashSpec, password: string, stored: HashedPassword): Promise<boolean> {
  switch (spec.name) {
    case 'plain':
      return safeEqualText(password, stored.hash);
    case 'sha256':
    case 'sha512':
      return safeEqualHex(digest(spec.name, salted(spec.saltPosition, password, stored.salt)), stored.hash);
    case 'pbkdf2': {
      const key = await new Promise<Buffer>((resolve, reject) => {
        pbkdf2(password, stored.salt, spec.iterations, dkLen(spec), spec.macFun, (err, k) => (err ? reject(err) : resolve(k)));
      });
      return safeEqualHex(key.toString('hex'), stored.hash);
    }
    case 'bcrypt':
      return bcryptVerify(password, stored.hash);
  }
}

function dkLen(spec: PasswordHashSpec): number {
  if (spec.dkLength > 0) return spec.dkLength;
  return spec.macFun === 'sha512' ? 64 : 32;
}

function salted(position: SaltPosition, password: string, salt: string): string {
  if (position === 'prefix') return salt + password;
  if (position === 'suffix') return password + salt;
  return password;
}

function digest(alg: 'sha256' | 'sha512', text: string): string {
  return createHash(alg).update(text, 'utf8').digest('hex');
}

function safeEqualHex(computedHex: string, storedHex: string): boolean {
  // Stored hashes written in uppercase hex by other tools still match.
  return safeEqualText(computedHex, storedHex.toLowerCase());
}

/** Constant-time for equal lengths; the length itself is not secret (a hash has a fixed size). */
function safeEqualText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}
