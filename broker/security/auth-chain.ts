// The authentication chain: sources tried in the configured order; the first that knows the user
// decides (allow or deny); one that cannot answer refuses the client (fail closed, 0x88) rather
// than letting a later source decide. Successful results are cached for `cacheTtlMs`, keyed by a
// digest of the password, so a reconnect storm costs one hash check per user, not one per connect.

import { createHash } from 'node:crypto';
import type { AuthOutcome, AuthRequest, AuthSource } from './auth-source.js';
import { RC } from '../mqtt/reason-codes.js';

export type AuthDecision =
  | { readonly ok: true; readonly superuser: boolean; readonly expiresAt?: number; readonly source: string }
  | { readonly ok: false; readonly reasonCode: number; readonly reason: string; readonly backendDown?: boolean };

interface CacheEntry {
  readonly superuser: boolean;
  readonly source: string;
  readonly until: number;
}

const MAX_CACHE_ENTRIES = 100_000;

export class AuthChain {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<AuthDecision>>();
  private readonly perClient: boolean;

  constructor(
    readonly sources: readonly AuthSource[],
    private readonly cacheTtlMs: number,
  ) {
    this.perClient = sources.some((s) => s.perClient && s.cacheable);
  }

  private key(req: AuthRequest): string {
    const digest = createHash('sha256').update(req.password ?? Buffer.alloc(0)).digest('base64');
    const who = this.perClient ? `${req.clientId}\u0000${req.peerhost}\u0000${req.certCommonName ?? ''}` : '';
    return `${req.username ?? ''}\u0000${who}\u0000${digest}`;
  }

  /** A cached success, answered without a promise; undefined on a miss. */
  cached(req: AuthRequest, now: number): AuthDecision | undefined {
    if (this.cacheTtlMs <= 0 || this.cache.size === 0) return undefined;
    const k = this.key(req);
    const e = this.cache.get(k);
    if (e === undefined) return undefined;
    if (e.until <= now) {
      this.cache.delete(k);
      return undefined;
    }
    return { ok: true, superuser: e.superuser, source: e.source };
  }

  /**
   * Identical credentials checked at the same moment share one check: a reconnect storm of
   * clients with the same user and password before the cache is warm costs one hash, not one
   * per connect (pbkdf2 at 100,000 iterations is ~20 ms of CPU).
   */
  authenticate(req: AuthRequest, now: () => number = Date.now): Promise<AuthDecision> {
    const k = this.key(req);
    const running = this.inflight.get(k);
    if (running !== undefined) return running;
    const check = this.runChain(req, now).finally(() => this.inflight.delete(k));
    this.inflight.set(k, check);
    return check;
  }

  private async runChain(req: AuthRequest, now: () => number): Promise<AuthDecision> {
    for (const source of this.sources) {
      let outcome: AuthOutcome;
      try {
        outcome = await source.authenticate(req);
      } catch (err: unknown) {
        outcome = { kind: 'error', reason: err instanceof Error ? err.message : String(err) };
      }
      switch (outcome.kind) {
        case 'ignore':
          continue;
        case 'allow':
          if (source.cacheable && this.cacheTtlMs > 0 && outcome.expiresAt === undefined) {
            if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
            this.cache.set(this.key(req), { superuser: outcome.superuser, source: source.name, until: now() + this.cacheTtlMs });
          }
          return { ok: true, superuser: outcome.superuser, expiresAt: outcome.expiresAt, source: source.name };
        case 'deny':
          return { ok: false, reasonCode: RC.BAD_USERNAME_OR_PASSWORD, reason: `${source.name}: ${outcome.reason}` };
        case 'error':
          return { ok: false, reasonCode: RC.SERVER_UNAVAILABLE, reason: `${source.name} authentication backend unavailable: ${outcome.reason}`, backendDown: true };
      }
    }
    return { ok: false, reasonCode: RC.BAD_USERNAME_OR_PASSWORD, reason: 'unknown user' };
  }

  /** Drops cached results (a built-in user changed: its old password must stop working). */
  invalidate(username?: string): void {
    if (username === undefined) {
      this.cache.clear();
      return;
    }
    const prefix = `${username}\u0000`;
    for (const k of this.cache.keys()) if (k.startsWith(prefix)) this.cache.delete(k);
  }

  async close(): Promise<void> {
    await Promise.all(this.sources.map((s) => s.close().catch(() => undefined)));
  }
}
