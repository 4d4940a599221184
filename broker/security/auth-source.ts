// The contract between the auth chain and its sources.

import type { AclRuleInput } from './security-store.js';
import type { PlaceholderValues } from './placeholders.js';

export interface AuthRequest {
  readonly clientId: string;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  readonly peerhost: string;
  readonly certCommonName: string | undefined;
}

export type AuthOutcome =
  /** The source does not know this user: the next source decides. */
  | { readonly kind: 'ignore' }
  | { readonly kind: 'allow'; readonly superuser: boolean; /** ms epoch: the credential's own expiry (JWT `exp`). */ readonly expiresAt?: number }
  | { readonly kind: 'deny'; readonly reason: string }
  /** The backend could not answer: fail closed. */
  | { readonly kind: 'error'; readonly reason: string };

export interface AuthSource {
  /** For log lines: `mysql`, `redis`, `built_in`, `jwt`. */
  readonly name: string;
  /** Whether results depend on more than username + password (cache keys then include the client). */
  readonly perClient: boolean;
  /** Whether successful results may be cached (false for JWT: each token is checked, and cheap). */
  readonly cacheable: boolean;
  authenticate(req: AuthRequest): Promise<AuthOutcome>;
  close(): Promise<void>;
}

export type AclFetch = { readonly ok: true; readonly rules: readonly AclRuleInput[] } | { readonly ok: false; readonly reason: string };

/** An ACL source read at CONNECT (MySQL, Redis): the rules for this client. */
export interface AclSource {
  readonly name: string;
  readonly perClient: boolean;
  rulesFor(req: AuthRequest): Promise<AclFetch>;
  close(): Promise<void>;
}

export function placeholderValues(req: AuthRequest): PlaceholderValues {
  return {
    username: req.username ?? '',
    clientid: req.clientId,
    peerhost: req.peerhost,
    cert_common_name: req.certCommonName ?? '',
  };
}

/** Rows and hashes from backends give is_superuser as 1/0, "true"/"false", or a boolean. */
export function truthy(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return Number(v) !== 0;
  if (typeof v === 'string') return v === '1' || v.toLowerCase() === 'true';
  if (Buffer.isBuffer(v)) return v.length > 0 && (v[0] === 1 || v.toString() === '1' || v.toString().toLowerCase() === 'true');
  return false;
}

/** Turns a string-ish column value into text ('' for null). */
export function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/** Runs `p` with a deadline; rejects with a timeout error. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    t.unref();
    p.then((v) => { clearTimeout(t); resolve(v); }, (e: unknown) => { clearTimeout(t); reject(e); });
  });
}

export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${code}: ${err.message}` : err.message || String(code ?? 'error');
  }
  return String(err);
}
