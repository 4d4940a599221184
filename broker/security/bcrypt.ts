// bcrypt (Provos & Mazières, 1999): EksBlowfish with a cost parameter, in the OpenBSD `$2b$` form
// `$2b$<cost>$<22 chars salt><31 chars hash>` with bcrypt's own base64 alphabet. `$2a$` and `$2y$`
// hashes are verified too (for passwords shorter than 256 bytes they compute the same as `$2b$`).
//
// Cost 10 takes ~60 ms of CPU; verification runs on the event loop, so the auth chain caches
// successful checks (see auth-cache.ts) and the built-in store uses pbkdf2 by default.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { blowfishInitialWords } from './blowfish-constants.js';

const ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

const MAGIC = Buffer.from('OrpheanBeholderScryDoubt', 'latin1');
const HASH_RE = /^\$(2[aby])\$(\d{2})\$([./A-Za-z0-9]{22})([./A-Za-z0-9]{31})$/;

export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;

export class BcryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BcryptError';
  }
}

export function bcryptEncode(bytes: Uint8Array, length: number): string {
  let out = '';
  let i = 0;
  while (i < length) {
    const c1 = bytes[i++]!;
    out += ALPHABET[c1 >> 2];
    let c = (c1 & 0x03) << 4;
    if (i >= length) {
      out += ALPHABET[c];
      break;
    }
    const c2 = bytes[i++]!;
    out += ALPHABET[c | (c2 >> 4)];
    c = (c2 & 0x0f) << 2;
    if (i >= length) {
      out += ALPHABET[c];
      break;
    }
    const c3 = bytes[i++]!;
    out += ALPHABET[c | (c3 >> 6)] + ALPHABET[c3 & 0x3f];
  }
  return out;
}

export function bcryptDecode(text: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  let o = 0;
  const val = (k: number): number => {
    const code = text.charCodeAt(k);
    const v = code < 128 ? DECODE[code]! : -1;
    if (v < 0) throw new BcryptError(`invalid bcrypt base64 character ${JSON.stringify(text[k])}`);
    return v;
  };
  for (let k = 0; o < length && k + 1 < text.length; k += 4) {
    const a = val(k), b = val(k + 1);
    out[o++] = (a << 2) | (b >> 4);
    if (o >= length || k + 2 >= text.length) break;
    const c = val(k + 2);
    out[o++] = ((b & 0x0f) << 4) | (c >> 2);
    if (o >= length || k + 3 >= text.length) break;
    const d = val(k + 3);
    out[o++] = ((c & 0x03) << 6) | d;
  }
  return out;
}

class EksBlowfish {
  readonly p = new Uint32Array(18);
  readonly s = new Uint32Array(1024);

  constructor() {
    const init = blowfishInitialWords();
    this.p.set(init.subarray(0, 18));
    this.s.set(init.subarray(18));
  }

  /** Encrypts the 64-bit block lr[off], lr[off+1] in place (16 Feistel rounds). */
  encipher(lr: Uint32Array, off: number): void {
    const p = this.p, s = this.s;
    let l = lr[off]!, r = lr[off + 1]!;
    l ^= p[0]!;
    for (let i = 1; i <= 16; i += 2) {
      r ^= (((s[l >>> 24]! + s[256 | ((l >>> 16) & 0xff)]!) ^ s[512 | ((l >>> 8) & 0xff)]!) + s[768 | (l & 0xff)]!) ^ p[i]!;
      l ^= (((s[r >>> 24]! + s[256 | ((r >>> 16) & 0xff)]!) ^ s[512 | ((r >>> 8) & 0xff)]!) + s[768 | (r & 0xff)]!) ^ p[i + 1]!;
    }
    lr[off] = r ^ p[17]!;
    lr[off + 1] = l;
  }

  /** ExpandKey(state, salt, key); `salt` null is the plain Blowfish key schedule. */
  expand(key: Uint8Array, salt: Uint8Array | null): void {
    const p = this.p, s = this.s;
    const kpos = { at: 0 };
    for (let i = 0; i < 18; i++) p[i] = p[i]! ^ streamWord(key, kpos);
    const lr = new Uint32Array(2);
    const spos = { at: 0 };
    for (let i = 0; i < 18; i += 2) {
      if (salt !== null) {
        lr[0] ^= streamWord(salt, spos);
        lr[1] ^= streamWord(salt, spos);
      }
      this.encipher(lr, 0);
      p[i] = lr[0]!;
      p[i + 1] = lr[1]!;
    }
    for (let i = 0; i < 1024; i += 2) {
      if (salt !== null) {
        lr[0] ^= streamWord(salt, spos);
        lr[1] ^= streamWord(salt, spos);
      }
      this.encipher(lr, 0);
      s[i] = lr[0]!;
      s[i + 1] = lr[1]!;
    }
  }
}

/** The next 4 bytes of `data` as a big-endian word, wrapping around its end. */
function streamWord(data: Uint8Array, pos: { at: number }): number {
  let w = 0;
  for (let i = 0; i < 4; i++) {
    w = (w << 8) | data[pos.at]!;
    pos.at = (pos.at + 1) % data.length;
  }
  return w >>> 0;
}

/** The 23 raw hash bytes for a password, a 16-byte salt and a cost (log2 of the rounds). */
export function bcryptRaw(password: Uint8Array, salt: Uint8Array, cost: number): Buffer {
  if (!Number.isInteger(cost) || cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) {
    throw new BcryptError(`bcrypt cost must be an integer ${BCRYPT_MIN_COST}..${BCRYPT_MAX_COST}, got ${cost}`);
  }
  if (salt.length !== 16) throw new BcryptError(`bcrypt salt must be 16 bytes, got ${salt.length}`);
  // $2b$: at most 72 bytes of the password count, followed by a NUL terminator.
  const len = Math.min(password.length, 72);
  const key = new Uint8Array(len + 1);
  key.set(password.subarray(0, len));
  const state = new EksBlowfish();
  state.expand(key, salt);
  const rounds = 2 ** cost;
  for (let i = 0; i < rounds; i++) {
    state.expand(key, null);
    state.expand(salt, null);
  }
  const cdata = new Uint32Array(6);
  for (let i = 0; i < 6; i++) cdata[i] = MAGIC.readUInt32BE(i * 4);
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 6; j += 2) state.encipher(cdata, j);
  }
  const out = Buffer.alloc(24);
  for (let i = 0; i < 6; i++) out.writeUInt32BE(cdata[i]!, i * 4);
  return out.subarray(0, 23);
}

/** A `$2b$` hash of `password` with a fresh random salt (or the given 16-byte salt). */
export function bcryptHash(password: string | Uint8Array, cost = 10, salt: Uint8Array = randomBytes(16)): string {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const raw = bcryptRaw(pw, salt, cost);
  return `$2b$${String(cost).padStart(2, '0')}$${bcryptEncode(salt, 16)}${bcryptEncode(raw, 23)}`;
}

export function isBcryptHash(text: string): boolean {
  return HASH_RE.test(text);
}

/** Constant-time check of `password` against a `$2a$` / `$2b$` / `$2y$` hash. False for a malformed hash. */
export function bcryptVerify(password: string | Uint8Array, hash: string): boolean {
  const m = HASH_RE.exec(hash);
  if (m === null) return false;
  const cost = Number(m[2]);
  if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST) return false;
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  let salt: Buffer;
  try {
    salt = bcryptDecode(m[3]!, 16);
  } catch {
    return false;
  }
  const want = Buffer.from(bcryptEncode(bcryptRaw(pw, salt, cost), 23));
  const got = Buffer.from(m[4]!);
  return timingSafeEqual(want, got);
}
