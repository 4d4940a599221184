// SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, for MQTT 5 enhanced authentication
// (section 4.12): CONNECT carries client-first-message, AUTH 0x18 the server-first-message, AUTH
// 0x18 the client-final-message, and CONNACK the server-final-message (`v=`). Channel binding is
// not offered (gs2 header "n" or "y"). The stored credentials never include the password.
// Usernames and passwords are used as their UTF-8 bytes (no SASLprep normalization).

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredentials } from './security-store.js';

export const SCRAM_METHOD = 'SCRAM-SHA-256';
const NONCE_BYTES = 18;

export function makeScramCredentials(password: string, iterations: number, salt: Buffer = randomBytes(16)): ScramCredentials {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: createHash('sha256').update(clientKey).digest('base64'),
    serverKey: hmac(salted, 'Server Key').toString('base64'),
  };
}

function hmac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Parses `a=1,b=2` attribute lists (values may contain "="). */
function attributes(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    if (part.length < 2 || part[1] !== '=') return null;
    out.set(part[0]!, part.slice(2));
  }
  return out;
}

/** saslname: "=2C" is ",", "=3D" is "=", any other "=" is malformed (RFC 5802 section 5.1). */
function decodeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

export type ScramStep =
  | { readonly ok: true; readonly message: Buffer }
  | { readonly ok: false; readonly reason: string };

/** One exchange. `lookup` gives the stored credentials, or undefined for an unknown user. */
export class ScramServerExchange {
  username = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';
  private creds: ScramCredentials | undefined;
  private known = false;

  constructor(
    private readonly lookup: (username: string) => ScramCredentials | undefined,
    private readonly fakeIterations = 4096,
    private readonly serverNonce: () => string = () => randomBytes(NONCE_BYTES).toString('base64'),
  ) {}

  /** client-first-message -> server-first-message. */
  start(clientFirst: Buffer): ScramStep {
    const text = clientFirst.toString('utf8');
    const m = /^([ny]|p=[^,]*),([^,]*),(.*)$/.exec(text);
    if (m === null) return { ok: false, reason: 'malformed SCRAM client-first-message' };
    if (m[1]!.startsWith('p=')) return { ok: false, reason: 'SCRAM channel binding is not supported' };
    this.gs2Header = `${m[1]},${m[2]},`;
    this.clientFirstBare = m[3]!;
    const attrs = attributes(this.clientFirstBare);
    const name = attrs?.get('n');
    const cnonce = attrs?.get('r');
    if (attrs === null || name === undefined || cnonce === undefined || cnonce === '' || attrs.has('m')) {
      return { ok: false, reason: 'malformed SCRAM client-first-message' };
    }
    const username = decodeSaslName(name);
    if (username === null) return { ok: false, reason: 'malformed SCRAM username' };
    this.username = username;
    this.creds = this.lookup(username);
    this.known = this.creds !== undefined;
    // An unknown user still gets a plausible challenge, so usernames cannot be probed.
    const creds = this.creds ?? makeScramCredentials(randomBytes(16).toString('hex'), this.fakeIterations, createHash('sha256').update(`scram-fake:${username}`).digest().subarray(0, 16));
    this.creds = creds;
    this.nonce = cnonce + this.serverNonce();
    this.serverFirst = `r=${this.nonce},s=${creds.salt},i=${creds.iterations}`;
    return { ok: true, message: Buffer.from(this.serverFirst, 'utf8') };
  }

  /** client-final-message -> server-final-message (the client checks it to authenticate us). */
  finish(clientFinal: Buffer): ScramStep {
    const text = clientFinal.toString('utf8');
    const at = text.lastIndexOf(',p=');
    if (at < 0 || this.creds === undefined) return { ok: false, reason: 'malformed SCRAM client-final-message' };
    const withoutProof = text.slice(0, at);
    const attrs = attributes(withoutProof);
    if (attrs === null) return { ok: false, reason: 'malformed SCRAM client-final-message' };
    if (attrs.get('c') !== Buffer.from(this.gs2Header, 'utf8').toString('base64')) return { ok: false, reason: 'SCRAM channel binding data does not match' };
    if (attrs.get('r') !== this.nonce) return { ok: false, reason: 'SCRAM nonce does not match' };
    const proof = Buffer.from(text.slice(at + 3), 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(this.creds.storedKey, 'base64');
    const clientSignature = createHmac('sha256', storedKey).update(authMessage, 'utf8').digest();
    if (proof.length !== clientSignature.length) return { ok: false, reason: 'SCRAM proof has the wrong length' };
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const matches = timingSafeEqual(createHash('sha256').update(clientKey).digest(), storedKey);
    if (!matches || !this.known) return { ok: false, reason: 'SCRAM authentication failed' };
    const serverSignature = createHmac('sha256', Buffer.from(this.creds.serverKey, 'base64')).update(authMessage, 'utf8').digest();
    return { ok: true, message: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
  }
}

/** The client side, for tests and tools: the three messages a SCRAM-SHA-256 client sends. */
export class ScramClient {
  private readonly cnonce = randomBytes(NONCE_BYTES).toString('base64');
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | null = null;

  constructor(private readonly username: string, private readonly password: string) {}

  first(): Buffer {
    const name = this.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${name},r=${this.cnonce}`;
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  final(serverFirst: Buffer): Buffer {
    const sf = serverFirst.toString('utf8');
    const attrs = attributes(sf);
    const nonce = attrs?.get('r');
    const salt = attrs?.get('s');
    const iterations = Number(attrs?.get('i'));
    if (nonce === undefined || salt === undefined || !nonce.startsWith(this.cnonce) || !(iterations > 0)) throw new Error('bad server-first-message');
    const salted = pbkdf2Sync(Buffer.from(this.password, 'utf8'), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${sf},${withoutProof}`;
    const sig = createHmac('sha256', storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ sig[i]!;
    this.expectedServerSignature = createHmac('sha256', hmac(salted, 'Server Key')).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Whether the server-final-message proves the server knows the credentials. */
  verifyServer(serverFinal: Buffer): boolean {
    return this.expectedServerSignature !== null && serverFinal.toString('utf8') === `v=${this.expectedServerSignature.toString('base64')}`;
  }
}
