// The broker's security layer as the packet handlers see it: admit() at CONNECT (rate limit,
// flapping, blacklist, authentication, ACL rules for the client), the AUTH exchange of MQTT 5
// enhanced authentication, and checkPublish() / checkSubscribe() per packet. Per-packet checks
// are one map read on a per-connection cache; nothing on that path does I/O or makes a promise.

import type { Logger } from '../../common/log.js';
import type { Connection } from '../mqtt/connection.js';
import type { IAuthPacket, IConnectPacket } from '../mqtt/packets.js';
import { RC } from '../mqtt/reason-codes.js';
import { compileRules, decidePublish, decideSubscribe, hasConditions, type ClientIdentity, type CompiledRule } from './acl.js';
import { AuthChain, type AuthDecision } from './auth-chain.js';
import type { AclFetch, AclSource, AuthRequest } from './auth-source.js';
import { buildAclSources, buildAuthSources } from './build-sources.js';
import { FlappingDetector } from './flapping.js';
import { normalizeAddress } from './ip-match.js';
import { bucketFor, type TokenBucket } from './rate-limit.js';
import { ScramServerExchange, SCRAM_METHOD } from './scram.js';
import { SecurityCache } from './security-cache.js';
import type { SecurityOptions } from './security-options.js';
import type { AclRuleInput, SecurityStore } from './security-store.js';

/** MQTT 5 reason code 0xA0 Maximum connect time: the credential (JWT) expired. */
export const RC_MAXIMUM_CONNECT_TIME = 0xa0;
const CONTINUE_AUTHENTICATION = 0x18;
const RE_AUTHENTICATE = 0x19;
const DECISION_CACHE_MAX = 1024;
const SWEEP_MS = 5000;

export interface SecurityStats {
  authFailures: number;
  authBackendErrors: number;
  anonymousRefused: number;
  banned: number;
  flappingBans: number;
  aclDeniedPublish: number;
  aclDeniedSubscribe: number;
  rateLimitedConnections: number;
  rateLimitedMessages: number;
}

/** Extra CONNACK properties the security layer adds (enhanced authentication). */
export interface ConnackAuthProperties {
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export type Proceed = (extra?: ConnackAuthProperties) => void;
export type Refuse = (reasonCode: number, message: string) => void;

interface ConnSecurity {
  readonly identity: ClientIdentity;
  superuser: boolean;
  /** Rules from CONNECT-time sources (MySQL/Redis), by ACL chain position. */
  readonly external: ReadonlyMap<number, readonly AclRuleInput[]>;
  gen: number;
  rules: CompiledRule[];
  keyed: boolean;
  readonly pub: Map<string, boolean>;
  readonly bucket: TokenBucket | null;
  readonly listenerBucket: TokenBucket | null;
}

interface Exchange {
  readonly scram: ScramServerExchange;
  readonly reauth: boolean;
  readonly req: AuthRequest;
  readonly proceed: Proceed;
  readonly refuse: Refuse;
}

interface ExternalCacheEntry {
  readonly rules: readonly AclRuleInput[];
  readonly until: number;
}

export class SecurityManager {
  readonly cache = new SecurityCache();
  readonly stats: SecurityStats = {
    authFailures: 0, authBackendErrors: 0, anonymousRefused: 0, banned: 0, flappingBans: 0,
    aclDeniedPublish: 0, aclDeniedSubscribe: 0, rateLimitedConnections: 0, rateLimitedMessages: 0,
  };
  readonly flapping: FlappingDetector | null;
  readonly chain: AuthChain;
  private readonly aclChain: Array<'built_in' | AclSource>;
  private readonly scramEnabled: boolean;
  private readonly scramIterations: number;
  private readonly contexts = new WeakMap<Connection, ConnSecurity>();
  private readonly exchanges = new WeakMap<Connection, Exchange>();
  private readonly externalCache = new Map<string, ExternalCacheEntry>();
  private readonly connBuckets = new Map<string, TokenBucket | null>();
  private readonly msgBuckets = new Map<string, TokenBucket | null>();
  private readonly hasExternalAcl: boolean;
  private aclActive = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  store: SecurityStore | null = null;

  constructor(
    readonly options: SecurityOptions,
    readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.chain = new AuthChain(buildAuthSources(options.auth.chain, this.cache), options.auth.cache_ttl);
    this.aclChain = buildAclSources(options.acl.chain);
    this.hasExternalAcl = this.aclChain.some((s) => s !== 'built_in');
    const scram = options.auth.chain.find((c) => c.type === 'scram' && c.enable);
    this.scramEnabled = scram !== undefined;
    this.scramIterations = scram?.iterations ?? 4096;
    const f = options.flapping_detect;
    this.flapping = f.enable ? new FlappingDetector({ windowMs: f.window_time, maxConnections: f.max_client_connections, banMs: f.ban_time }) : null;
    this.cache.onChange = (change) => {
      if (change.kind === 'user') this.chain.invalidate(change.op === 'put' ? change.user.username : change.username);
      if (change.kind === 'reset') this.chain.invalidate();
      this.updateActive();
    };
    this.updateActive();
  }

  get scramIterationsForNewUsers(): number {
    return this.scramIterations;
  }

  get disconnectOnDeny(): boolean {
    return this.options.acl.deny_action === 'disconnect';
  }

  /** Loads built-in users, rules and blacklist from the store (null: none configured yet). */
  async open(store: SecurityStore | null): Promise<void> {
    this.store = store;
    if (store !== null) await this.cache.open(store);
    this.updateActive();
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.cache.close();
    await this.chain.close();
    await Promise.all(this.aclChain.map((s) => (s === 'built_in' ? undefined : s.close().catch(() => undefined))));
  }

  private updateActive(): void {
    this.aclActive = this.options.acl.no_match === 'deny' || this.hasExternalAcl || this.cache.aclRules.length > 0;
  }

  private sweep(): void {
    const now = this.now();
    this.flapping?.sweep(now);
    for (const [k, e] of this.externalCache) if (e.until <= now) this.externalCache.delete(k);
    for (const e of this.cache.blacklist.expired(now)) {
      this.cache.apply({ kind: 'blacklist', op: 'delete', type: e.type, value: e.value });
      this.store?.deleteBlacklist(e.type, e.value).catch(() => undefined);
    }
  }

  // ---- CONNECT ----

  /**
   * Decides whether a CONNECT may go on. Calls `proceed` (perhaps synchronously) or `refuse`
   * exactly once. While an asynchronous check runs, the connection holds its incoming packets.
   */
  admit(conn: Connection, p: IConnectPacket, proceed: Proceed, refuse: Refuse): void {
    const now = this.now();
    const o = this.options;
    const transport = conn.info.transport;
    const ip = normalizeAddress(conn.info.remoteAddress);

    let connBucket = this.connBuckets.get(transport);
    if (connBucket === undefined) {
      connBucket = bucketFor(o.rate_limit.listener_connection_rate, o.rate_limit.listener_connection_burst, now);
      this.connBuckets.set(transport, connBucket);
    }
    if (connBucket !== null && !connBucket.take(now)) {
      this.stats.rateLimitedConnections++;
      return refuse(RC.QUOTA_EXCEEDED, `listener ${transport} connection rate limit exceeded`);
    }

    if (this.flapping !== null) {
      const ban = this.flapping.record(conn.clientId, now);
      if (ban !== null) {
        this.stats.flappingBans++;
        const entry = { type: 'client_id' as const, value: conn.clientId, until: ban.until, reason: `flapping: ${ban.connections} connects within ${o.flapping_detect.window_time} ms`, createdAt: now };
        this.cache.apply({ kind: 'blacklist', op: 'put', entry });
        this.store?.putBlacklist(entry).catch((err: unknown) => this.log.warn('could not store a flapping ban', { clientId: conn.clientId, error: String(err) }));
        this.log.warn('client banned for flapping', { clientId: conn.clientId, connects: ban.connections, until: new Date(ban.until).toISOString() });
      }
    }

    const cn = conn.info.certCommonName;
    if (o.auth.use_cert_cn_as_username && cn !== undefined) conn.username = cn;
    const username = conn.username;

    const banned = this.cache.blacklist.match(conn.clientId, username, ip, now);
    if (banned !== null) {
      this.stats.banned++;
      return refuse(RC.BANNED, `banned (${banned.type} ${banned.value}${banned.reason ? `: ${banned.reason}` : ''})`);
    }

    const req: AuthRequest = { clientId: conn.clientId, username, password: p.password, peerhost: ip, certCommonName: cn };
    const method = conn.protocolVersion === 5 ? p.properties?.authenticationMethod : undefined;
    if (method !== undefined) {
      if (method !== SCRAM_METHOD || !this.scramEnabled) {
        // [MQTT-4.12.0-1] an authentication method the server does not offer.
        return refuse(RC.BAD_AUTHENTICATION_METHOD, `authentication method "${method}" is not supported`);
      }
      return this.startScram(conn, req, p.properties?.authenticationData ?? Buffer.alloc(0), false, proceed, refuse);
    }

    const certified = o.auth.use_cert_cn_as_username && cn !== undefined && p.password === undefined;
    if (certified || (username === undefined && p.password === undefined)) {
      if (!certified && !o.auth.allow_anonymous) {
        this.stats.anonymousRefused++;
        return refuse(RC.NOT_AUTHORIZED, 'anonymous access is disabled (auth.allow_anonymous = false)');
      }
      const superuser = certified ? (this.cache.getUser(cn!)?.superuser ?? false) : false;
      return this.authorized(conn, req, { ok: true, superuser, source: certified ? 'certificate' : 'anonymous' }, proceed, refuse);
    }

    const hit = this.chain.cached(req, now);
    if (hit !== undefined) return this.authorized(conn, req, hit, proceed, refuse);
    conn.hold();
    this.chain.authenticate(req, this.now).then(
      (d) => { if (!conn.closed) this.authorized(conn, req, d, proceed, refuse); },
      (err: unknown) => { if (!conn.closed) refuse(RC.SERVER_UNAVAILABLE, `authentication failed: ${String(err)}`); },
    );
  }

  private authorized(conn: Connection, req: AuthRequest, d: AuthDecision, proceed: Proceed, refuse: Refuse, extra?: ConnackAuthProperties): void {
    if (!d.ok) {
      if (d.backendDown) {
        this.stats.authBackendErrors++;
        this.log.error('authentication backend down; client refused', { clientId: req.clientId, username: req.username, reason: d.reason });
      } else {
        this.stats.authFailures++;
      }
      return refuse(d.reasonCode, d.reason);
    }
    if (d.expiresAt !== undefined && d.expiresAt <= this.now()) return refuse(RC.BAD_USERNAME_OR_PASSWORD, 'credential expired');
    const fetched = this.externalRules(req);
    if (fetched instanceof Promise) {
      conn.hold();
      fetched.then(
        (rules) => {
          if (conn.closed) return;
          if (rules === null) return refuse(RC.SERVER_UNAVAILABLE, 'ACL backend unavailable');
          this.finish(conn, req, d.superuser, d.expiresAt, rules, proceed, extra);
        },
        () => { if (!conn.closed) refuse(RC.SERVER_UNAVAILABLE, 'ACL backend unavailable'); },
      );
      return;
    }
    if (fetched === null) return refuse(RC.SERVER_UNAVAILABLE, 'ACL backend unavailable');
    this.finish(conn, req, d.superuser, d.expiresAt, fetched, proceed, extra);
  }

  /** Rules of the CONNECT-time ACL sources: from the TTL cache, else fetched; null when one is down. */
  private externalRules(req: AuthRequest): Map<number, readonly AclRuleInput[]> | null | Promise<Map<number, readonly AclRuleInput[]> | null> {
    const out = new Map<number, readonly AclRuleInput[]>();
    if (!this.hasExternalAcl) return out;
    const now = this.now();
    const missing: Array<[number, AclSource, string]> = [];
    this.aclChain.forEach((s, i) => {
      if (s === 'built_in') return;
      const key = `${i}\u0000${req.username ?? ''}\u0000${s.perClient ? `${req.clientId}\u0000${req.peerhost}` : ''}`;
      const hit = this.externalCache.get(key);
      if (hit !== undefined && hit.until > now) out.set(i, hit.rules);
      else missing.push([i, s, key]);
    });
    if (missing.length === 0) return out;
    return Promise.all(missing.map(([, s]) => s.rulesFor(req))).then((results: AclFetch[]) => {
      for (let j = 0; j < results.length; j++) {
        const r = results[j]!;
        const [i, s, key] = missing[j]!;
        if (!r.ok) {
          this.stats.authBackendErrors++;
          this.log.error('ACL backend down; client refused', { clientId: req.clientId, source: s.name, reason: r.reason });
          return null;
        }
        out.set(i, r.rules);
        if (this.options.auth.cache_ttl > 0) this.externalCache.set(key, { rules: r.rules, until: this.now() + this.options.auth.cache_ttl });
      }
      return out;
    });
  }

  private finish(
    conn: Connection, req: AuthRequest, superuser: boolean, expiresAt: number | undefined,
    external: ReadonlyMap<number, readonly AclRuleInput[]>, proceed: Proceed, extra?: ConnackAuthProperties,
  ): void {
    const now = this.now();
    const rl = this.options.rate_limit;
    let listenerBucket = this.msgBuckets.get(conn.info.transport);
    if (listenerBucket === undefined) {
      listenerBucket = bucketFor(rl.listener_message_rate, rl.listener_message_burst, now);
      this.msgBuckets.set(conn.info.transport, listenerBucket);
    }
    const ctx: ConnSecurity = {
      identity: { username: conn.username, clientId: conn.clientId, ip: req.peerhost },
      superuser, external, gen: -1, rules: [], keyed: false, pub: new Map(),
      bucket: bucketFor(rl.client_message_rate, rl.client_message_burst, now), listenerBucket,
    };
    this.contexts.set(conn, ctx);
    const will = conn.will;
    if (will !== null && !this.publishAllowed(ctx, will.message.topic, will.message.qos, will.message.retain)) {
      // The will would be a publish the client may not make: it is dropped.
      this.log.info('will dropped: not authorized to publish', { clientId: conn.clientId, topic: will.message.topic });
      this.stats.aclDeniedPublish++;
      conn.will = null;
    }
    if (expiresAt !== undefined) {
      const t = setTimeout(() => {
        if (!conn.closed) conn.disconnect(RC_MAXIMUM_CONNECT_TIME, 'credential (JWT) expired');
      }, Math.min(expiresAt - now, 2 ** 31 - 1));
      t.unref();
    }
    proceed(extra);
  }

  // ---- enhanced authentication (AUTH packets) ----

  private startScram(conn: Connection, req: AuthRequest, clientFirst: Buffer, reauth: boolean, proceed: Proceed, refuse: Refuse): void {
    const scram = new ScramServerExchange((u) => this.cache.getUser(u)?.scram, this.scramIterations);
    const step = scram.start(clientFirst);
    if (!step.ok) {
      this.stats.authFailures++;
      return refuse(RC.BAD_USERNAME_OR_PASSWORD, step.reason);
    }
    this.exchanges.set(conn, { scram, reauth, req, proceed, refuse });
    conn.writePacket({
      cmd: 'auth', reasonCode: CONTINUE_AUTHENTICATION,
      properties: { authenticationMethod: SCRAM_METHOD, authenticationData: step.message },
    });
  }

  /** Whether a SCRAM exchange is waiting for the client's AUTH (only AUTH may come now). */
  inExchange(conn: Connection): boolean {
    return this.exchanges.has(conn);
  }

  /** AUTH from the client; false when no exchange wants it (the caller treats it as a protocol error). */
  onAuthPacket(conn: Connection, packet: IAuthPacket): boolean {
    const method = packet.properties?.authenticationMethod;
    const data = packet.properties?.authenticationData ?? Buffer.alloc(0);
    const ex = this.exchanges.get(conn);
    if (ex === undefined) {
      // Re-authentication [MQTT-4.12.1-1]: same method as at CONNECT, on a connected client.
      if (conn.state !== 'connected' || packet.reasonCode !== RE_AUTHENTICATE || method !== SCRAM_METHOD || !this.scramEnabled) return false;
      const req: AuthRequest = { clientId: conn.clientId, username: conn.username, password: undefined, peerhost: normalizeAddress(conn.info.remoteAddress), certCommonName: conn.info.certCommonName };
      this.startScram(conn, req, data, true,
        (extra) => conn.writePacket({ cmd: 'auth', reasonCode: RC.SUCCESS, properties: { authenticationMethod: SCRAM_METHOD, ...extra } }),
        (code, message) => conn.disconnect(code, message));
      return true;
    }
    if (packet.reasonCode !== CONTINUE_AUTHENTICATION || method !== SCRAM_METHOD) return false;
    this.exchanges.delete(conn);
    const step = ex.scram.finish(data);
    if (!step.ok) {
      this.stats.authFailures++;
      ex.refuse(RC.BAD_USERNAME_OR_PASSWORD, step.reason);
      return true;
    }
    const extra = { authenticationMethod: SCRAM_METHOD, authenticationData: step.message };
    if (ex.reauth) {
      ex.proceed(extra);
      return true;
    }
    // The SCRAM username is the client's identity, whatever the CONNECT's username field said.
    conn.username = ex.scram.username;
    const req = { ...ex.req, username: ex.scram.username };
    const superuser = this.cache.getUser(ex.scram.username)?.superuser ?? false;
    this.authorized(conn, req, { ok: true, superuser, source: 'scram' }, ex.proceed, ex.refuse, extra);
    return true;
  }

  // ---- per packet ----

  private recompile(ctx: ConnSecurity): void {
    const rules: AclRuleInput[] = [];
    this.aclChain.forEach((s, i) => {
      if (s === 'built_in') rules.push(...this.cache.aclRules);
      else rules.push(...(ctx.external.get(i) ?? []));
    });
    ctx.rules = compileRules(rules, ctx.identity);
    ctx.keyed = hasConditions(ctx.rules);
    ctx.pub.clear();
    const u = ctx.identity.username;
    if (u !== undefined && this.cache.users.has(u)) ctx.superuser = this.cache.users.get(u)!.superuser;
    ctx.gen = this.cache.generation;
  }

  private publishAllowed(ctx: ConnSecurity, topic: string, qos: number, retain: boolean): boolean {
    if (ctx.gen !== this.cache.generation) this.recompile(ctx);
    if (ctx.superuser || !this.aclActive) return true;
    const key = ctx.keyed ? `${qos}${retain ? 'r' : '-'}${topic}` : topic;
    let allowed = ctx.pub.get(key);
    if (allowed === undefined) {
      allowed = (decidePublish(ctx.rules, topic, qos, retain) ?? this.options.acl.no_match) === 'allow';
      if (ctx.pub.size >= DECISION_CACHE_MAX) ctx.pub.clear();
      ctx.pub.set(key, allowed);
    }
    return allowed;
  }

  /** 0 when the PUBLISH may go on, else the reason code (0x97 rate limit, 0x87 ACL). */
  checkPublish(conn: Connection, topic: string, qos: number, retain: boolean): number {
    const ctx = this.contexts.get(conn);
    if (ctx === undefined) return 0;
    if (ctx.bucket !== null || ctx.listenerBucket !== null) {
      const now = conn.lastSeen;
      if ((ctx.bucket !== null && !ctx.bucket.take(now)) || (ctx.listenerBucket !== null && !ctx.listenerBucket.take(now))) {
        this.stats.rateLimitedMessages++;
        return RC.QUOTA_EXCEEDED;
      }
    }
    if (this.publishAllowed(ctx, topic, qos, retain)) return 0;
    this.stats.aclDeniedPublish++;
    return RC.NOT_AUTHORIZED;
  }

  /** 0 when a subscription to `filter` (share prefix removed) at `qos` is allowed, else 0x87. */
  checkSubscribe(conn: Connection, filter: string, qos: number): number {
    const ctx = this.contexts.get(conn);
    if (ctx === undefined) return 0;
    if (ctx.gen !== this.cache.generation) this.recompile(ctx);
    if (ctx.superuser || !this.aclActive) return 0;
    if ((decideSubscribe(ctx.rules, filter, qos) ?? this.options.acl.no_match) === 'allow') return 0;
    this.stats.aclDeniedSubscribe++;
    return RC.NOT_AUTHORIZED;
  }

  /** Whether a connected client is a superuser (admin views). */
  isSuperuser(conn: Connection): boolean {
    return this.contexts.get(conn)?.superuser ?? false;
  }
}
