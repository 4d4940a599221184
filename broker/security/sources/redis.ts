// Redis authentication and ACL sources (ioredis), EMQX-compatible by default:
//   auth: HMGET mqtt_user:${username} password_hash salt is_superuser   (or HGETALL / HGET)
//   acl:  HGETALL mqtt_acl:${username}   (field = topic filter, value = publish | subscribe | all)
// Commands are sent as argument arrays, so a placeholder value is one argument, never parsed.
// No offline queue: while Redis is down a request fails at once and the chain fails closed.

import { Redis } from 'ioredis';
import { ruleFromHashField } from '../acl-rows.js';
import type { AclFetch, AclSource, AuthOutcome, AuthRequest, AuthSource } from '../auth-source.js';
import { errorText, placeholderValues, truthy, withTimeout } from '../auth-source.js';
import { verifyPassword, type PasswordHashSpec } from '../password-hash.js';
import { bindCommand, compileCommand, TemplateError, usesClientDetails, type CommandTemplate } from '../placeholders.js';
import type { AclRuleInput } from '../security-store.js';

export const DEFAULT_REDIS_AUTH_CMD = 'HMGET mqtt_user:${username} password_hash salt is_superuser';
export const DEFAULT_REDIS_ACL_CMD = 'HGETALL mqtt_acl:${username}';

export interface RedisSourceOptions {
  readonly url: string;
  readonly cmd: string;
  readonly timeoutMs: number;
}

function openClient(url: string, timeoutMs: number): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: (times: number) => Math.min(100 * times, 2000),
  });
  // Connection errors are reported per request (fail closed); the client keeps reconnecting.
  client.on('error', () => undefined);
  client.connect().catch(() => undefined);
  return client;
}

/** Field name -> value of an HMGET / HGET / HGETALL answer. */
function fieldsOf(t: CommandTemplate, reply: unknown): Map<string, string | null> {
  const out = new Map<string, string | null>();
  if (t.command === 'HGETALL') {
    if (Array.isArray(reply)) {
      for (let i = 0; i + 1 < reply.length; i += 2) out.set(String(reply[i]), reply[i + 1] === null ? null : String(reply[i + 1]));
    } else if (reply !== null && typeof reply === 'object') {
      for (const [k, v] of Object.entries(reply)) out.set(k, v === null ? null : String(v));
    }
    return out;
  }
  const names = t.args.slice(1);
  const values = Array.isArray(reply) ? reply : [reply];
  names.forEach((n, i) => out.set(n, values[i] === null || values[i] === undefined ? null : String(values[i])));
  return out;
}

export class RedisAuthSource implements AuthSource {
  readonly name = 'redis';
  readonly perClient: boolean;
  readonly cacheable = true;
  private readonly client: Redis;
  private readonly template: CommandTemplate;

  constructor(private readonly options: RedisSourceOptions, private readonly hash: PasswordHashSpec) {
    const cmd = options.cmd === '' ? DEFAULT_REDIS_AUTH_CMD : options.cmd;
    this.template = compileCommand(cmd);
    if (!['HMGET', 'HGETALL', 'HGET'].includes(this.template.command)) {
      throw new TemplateError(`redis auth cmd must be HMGET, HGET or HGETALL, got ${this.template.command}`);
    }
    this.perClient = usesClientDetails(cmd);
    this.client = openClient(options.url, options.timeoutMs);
  }

  async authenticate(req: AuthRequest): Promise<AuthOutcome> {
    if (req.username === undefined) return { kind: 'ignore' };
    let reply: unknown;
    try {
      reply = await withTimeout(this.client.call(this.template.command, ...bindCommand(this.template, placeholderValues(req))), this.options.timeoutMs, 'Redis');
    } catch (err: unknown) {
      return { kind: 'error', reason: `Redis: ${errorText(err)}` };
    }
    const f = fieldsOf(this.template, reply);
    const hash = f.get('password_hash') ?? f.get('password') ?? null;
    if (hash === null || hash === '') return { kind: 'ignore' };
    const ok = await verifyPassword(this.hash, req.password?.toString('utf8') ?? '', { hash, salt: f.get('salt') ?? '' });
    return ok ? { kind: 'allow', superuser: truthy(f.get('is_superuser')) } : { kind: 'deny', reason: 'wrong password' };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}

export class RedisAclSource implements AclSource {
  readonly name = 'redis';
  readonly perClient: boolean;
  private readonly client: Redis;
  private readonly template: CommandTemplate;

  constructor(private readonly options: RedisSourceOptions) {
    const cmd = options.cmd === '' ? DEFAULT_REDIS_ACL_CMD : options.cmd;
    this.template = compileCommand(cmd);
    if (this.template.command !== 'HGETALL') throw new TemplateError(`redis acl cmd must be HGETALL, got ${this.template.command}`);
    this.perClient = usesClientDetails(cmd);
    this.client = openClient(options.url, options.timeoutMs);
  }

  async rulesFor(req: AuthRequest): Promise<AclFetch> {
    let reply: unknown;
    try {
      reply = await withTimeout(this.client.call('HGETALL', ...bindCommand(this.template, placeholderValues(req))), this.options.timeoutMs, 'Redis');
    } catch (err: unknown) {
      return { ok: false, reason: `Redis: ${errorText(err)}` };
    }
    const rules: AclRuleInput[] = [];
    for (const [topic, value] of fieldsOf(this.template, reply)) {
      if (value === null) continue;
      const r = ruleFromHashField(topic, value, req.username, req.clientId);
      if (r !== null) rules.push(r);
    }
    return { ok: true, rules };
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
