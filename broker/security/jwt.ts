// JSON Web Tokens (RFC 7519) signed with HMAC (HS256/384/512, RFC 7518 section 3.2) or RSA
// PKCS#1 v1.5 (RS256/384/512, section 3.3), verified with node:crypto. `alg: none` and any
// algorithm that does not fit the configured key are refused, so an RSA public key can never be
// used as an HMAC secret (the classic key-confusion attack).

import { createHmac, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

export type JwtKey = { readonly kind: 'hmac'; readonly secret: Buffer } | { readonly kind: 'rsa'; readonly key: KeyObject };

export type JwtResult =
  | { readonly ok: true; readonly claims: Readonly<Record<string, unknown>>; /** ms epoch, from `exp` */ readonly expiresAt: number | undefined }
  | { readonly ok: false; readonly reason: string };

const HASH: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512', RS256: 'sha256', RS384: 'sha384', RS512: 'sha512' };

export function hmacKey(secret: string, base64 = false): JwtKey {
  return { kind: 'hmac', secret: base64 ? Buffer.from(secret, 'base64') : Buffer.from(secret, 'utf8') };
}

export function rsaKey(pem: string | Buffer): JwtKey {
  return { kind: 'rsa', key: createPublicKey(pem) };
}

/** Whether a string has the shape of a compact JWS (three base64url parts). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Signature, `exp` and `nbf` (with `leewaySec` of clock skew) checks. */
export function verifyJwt(token: string, key: JwtKey, nowMs: number, leewaySec = 0): JwtResult {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'not a JWT' };
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  const claims = decodeJson(p);
  if (header === null || claims === null) return { ok: false, reason: 'JWT header or payload is not a JSON object' };
  const alg = header['alg'];
  if (typeof alg !== 'string' || HASH[alg] === undefined) return { ok: false, reason: `JWT algorithm ${JSON.stringify(alg)} is not accepted` };
  const isHmac = alg.startsWith('HS');
  if (isHmac !== (key.kind === 'hmac')) return { ok: false, reason: `JWT algorithm ${alg} does not fit the configured ${key.kind === 'hmac' ? 'secret' : 'public key'}` };
  const signed = Buffer.from(`${h}.${p}`, 'ascii');
  const sig = Buffer.from(s, 'base64url');
  let valid: boolean;
  if (key.kind === 'hmac') {
    const want = createHmac(HASH[alg]!, key.secret).update(signed).digest();
    valid = want.length === sig.length && timingSafeEqual(want, sig);
  } else {
    try {
      valid = verify(HASH[alg]!, signed, key.key, sig);
    } catch {
      valid = false;
    }
  }
  if (!valid) return { ok: false, reason: 'JWT signature does not verify' };
  const now = nowMs / 1000;
  const exp = claims['exp'];
  if (exp !== undefined && (typeof exp !== 'number' || now >= exp + leewaySec)) return { ok: false, reason: 'JWT has expired' };
  const nbf = claims['nbf'];
  if (nbf !== undefined && (typeof nbf !== 'number' || now + leewaySec < nbf)) return { ok: false, reason: 'JWT is not valid yet (nbf)' };
  return { ok: true, claims, expiresAt: typeof exp === 'number' ? exp * 1000 : undefined };
}

/** Signs a token (tests and tools; the broker only verifies). */
export function signJwtHmac(claims: Record<string, unknown>, secret: Buffer | string, alg: 'HS256' | 'HS384' | 'HS512' = 'HS256'): string {
  const h = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const s = createHmac(HASH[alg]!, secret).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${s}`;
}
