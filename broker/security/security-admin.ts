// Operator actions on built-in users, ACL rules and the blacklist (the admin API and robust-ctl
// call these). Input is checked here and refused with a CodedError (400) naming the field; a write
// goes to the store and is applied to the local cache at once, so a list right after it shows it.

import { CodedError } from '../../common/errors.js';
import { validateBlacklistEntry } from './blacklist.js';
import type { FlappingEvent } from './flapping.js';
import { ipMatcher } from './ip-match.js';
import { defaultHashSpec, hashPassword, type PasswordHashSpec } from './password-hash.js';
import { makeScramCredentials } from './scram.js';
import { hashSpecOf } from './build-sources.js';
import type { SecurityManager } from './security-manager.js';
import type {
  AclAction, AclPermission, AclRuleInput, AclRuleRecord, AclWho, BlacklistRecord, SecurityStore, UserRecord,
} from './security-store.js';
import { blacklistTypes } from './security-store.js';
import { topicFilterError } from '../mqtt/topic.js';

const bad = (message: string): CodedError => new CodedError('BR_ADMIN_BAD_REQUEST', message);

function field(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;
}

function requiredString(body: unknown, name: string): string {
  const v = field(body, name);
  if (typeof v !== 'string' || v === '') throw bad(`"${name}" must be a non-empty string`);
  return v;
}

function optionalString(body: unknown, name: string): string | undefined {
  const v = field(body, name);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw bad(`"${name}" must be a string`);
  return v;
}

export class SecurityAdmin {
  constructor(private readonly security: SecurityManager) {}

  private get store(): SecurityStore {
    const s = this.security.store;
    if (s === null) {
      throw new CodedError('PC_UNREACHABLE', 'no security store: built-in users, ACL rules and blacklist live in the placement center, which this broker is not connected to');
    }
    return s;
  }

  private hashSpec(): PasswordHashSpec {
    const builtIn = this.security.options.auth.chain.find((c) => c.type === 'built_in');
    return builtIn === undefined ? defaultHashSpec : hashSpecOf(builtIn.password_hash);
  }

  // ---- users ----

  listUsers(): Array<Record<string, unknown>> {
    return [...this.security.cache.users.values()]
      .sort((a, b) => a.username.localeCompare(b.username))
      .map((u) => ({ username: u.username, is_superuser: u.superuser, password_hash: u.hashSpec.name, scram: u.scram !== undefined, created_at: new Date(u.createdAt).toISOString() }));
  }

  async createUser(body: unknown): Promise<Record<string, unknown>> {
    const username = requiredString(body, 'username');
    const password = requiredString(body, 'password');
    const superuser = field(body, 'is_superuser') ?? field(body, 'superuser') ?? false;
    if (typeof superuser !== 'boolean') throw bad('"is_superuser" must be true or false');
    const spec = this.hashSpec();
    const { hash, salt } = hashPassword(spec, password);
    const user: UserRecord = {
      username, hashSpec: spec, hash, salt, superuser, createdAt: Date.now(),
      scram: makeScramCredentials(password, this.security.scramIterationsForNewUsers),
    };
    await this.store.putUser(user);
    this.security.cache.apply({ kind: 'user', op: 'put', user });
    return { username, is_superuser: superuser };
  }

  async deleteUser(username: string): Promise<void> {
    const existed = await this.store.deleteUser(username);
    this.security.cache.apply({ kind: 'user', op: 'delete', username });
    if (!existed) throw new CodedError('BR_ADMIN_NOT_FOUND', `no user ${JSON.stringify(username)}`);
  }

  // ---- ACL ----

  listAcl(): Array<Record<string, unknown>> {
    return this.security.cache.aclRules.map(aclRow);
  }

  async createAcl(body: unknown): Promise<Record<string, unknown>> {
    const rule = parseAclRule(body);
    const stored = await this.store.addAclRule(rule);
    this.security.cache.apply({ kind: 'acl', op: 'put', rule: stored });
    return aclRow(stored);
  }

  async deleteAcl(idText: string): Promise<void> {
    const id = Number(idText);
    if (!Number.isSafeInteger(id) || id <= 0) throw bad(`ACL rule id must be a positive integer, got ${JSON.stringify(idText)}`);
    const existed = await this.store.deleteAclRule(id);
    this.security.cache.apply({ kind: 'acl', op: 'delete', id });
    if (!existed) throw new CodedError('BR_ADMIN_NOT_FOUND', `no ACL rule ${id}`);
  }

  // ---- blacklist ----

  listBlacklist(): Array<Record<string, unknown>> {
    return this.security.cache.blacklist.list(Date.now()).map((e) => ({
      type: e.type, value: e.value, until: e.until === undefined ? null : new Date(e.until).toISOString(), reason: e.reason ?? '',
      created_at: new Date(e.createdAt).toISOString(),
    }));
  }

  async createBlacklist(body: unknown): Promise<Record<string, unknown>> {
    const type = requiredString(body, 'type');
    const value = requiredString(body, 'value');
    try {
      validateBlacklistEntry(type, value);
    } catch (err: unknown) {
      throw bad(err instanceof Error ? err.message : String(err));
    }
    const untilText = optionalString(body, 'until');
    let until: number | undefined;
    if (untilText !== undefined) {
      until = Date.parse(untilText);
      if (Number.isNaN(until)) throw bad(`"until" must be an ISO 8601 time, got ${JSON.stringify(untilText)}`);
    }
    const entry: BlacklistRecord = { type, value, until, reason: optionalString(body, 'reason'), createdAt: Date.now() };
    await this.store.putBlacklist(entry);
    this.security.cache.apply({ kind: 'blacklist', op: 'put', entry });
    return { type, value, until: until === undefined ? null : new Date(until).toISOString() };
  }

  async deleteBlacklist(type: string, value: string): Promise<void> {
    if (!(blacklistTypes as readonly string[]).includes(type)) throw bad(`blacklist type must be one of ${blacklistTypes.join(', ')}`);
    const t = type as BlacklistRecord['type'];
    const existed = await this.store.deleteBlacklist(t, value);
    const local = this.security.cache.blacklist.delete(t, value);
    if (!existed && !local) throw new CodedError('BR_ADMIN_NOT_FOUND', `no blacklist entry ${type} ${JSON.stringify(value)}`);
  }

  // ---- flapping ----

  listFlapping(): Array<Record<string, unknown>> {
    const events: FlappingEvent[] = this.security.flapping?.list(Date.now()) ?? [];
    return events.map((e) => ({
      client_id: e.clientId, connections: e.connections, first_at: new Date(e.firstAt).toISOString(),
      banned_at: new Date(e.bannedAt).toISOString(), until: new Date(e.until).toISOString(),
    }));
  }

  stats(): Record<string, number> {
    return { ...this.security.stats, users: this.security.cache.users.size, acl_rules: this.security.cache.aclRules.length, blacklist: this.security.cache.blacklist.size };
  }
}

function aclRow(r: AclRuleRecord): Record<string, unknown> {
  return {
    id: r.id, who_type: r.who.kind, who: r.who.kind === 'all' ? '*' : r.who.value, action: r.action, topic: r.topic,
    permission: r.permission, qos: r.qos === undefined ? 'any' : r.qos.join(','), retain: r.retain === undefined ? 'any' : r.retain,
  };
}

const ACTIONS: readonly string[] = ['publish', 'subscribe', 'all'];

/** An ACL rule from an admin request body; throws a 400 CodedError naming the bad field. */
export function parseAclRule(body: unknown): AclRuleInput {
  const username = optionalString(body, 'username');
  const clientId = optionalString(body, 'client_id');
  const ip = optionalString(body, 'ip');
  const all = field(body, 'all') === true;
  const given = [username, clientId, ip].filter((x) => x !== undefined).length + (all ? 1 : 0);
  if (given !== 1) throw bad('give exactly one of "username", "client_id", "ip" or "all": true');
  let who: AclWho;
  if (username !== undefined) who = { kind: 'username', value: username };
  else if (clientId !== undefined) who = { kind: 'client_id', value: clientId };
  else if (ip !== undefined) {
    try {
      ipMatcher(ip);
    } catch (err: unknown) {
      throw bad(err instanceof Error ? err.message : String(err));
    }
    who = { kind: 'ip', value: ip };
  } else who = { kind: 'all' };
  const action = requiredString(body, 'action');
  if (!ACTIONS.includes(action)) throw bad(`"action" must be publish, subscribe or all, got ${JSON.stringify(action)}`);
  const permission = requiredString(body, 'permission');
  if (permission !== 'allow' && permission !== 'deny') throw bad(`"permission" must be allow or deny, got ${JSON.stringify(permission)}`);
  const topic = requiredString(body, 'topic');
  const filter = topic.startsWith('eq ') ? topic.slice(3).trim() : topic;
  const err = topicFilterError(filter.replace(/\$\{(username|clientid)\}/g, 'x'), { maxTopicLength: 65535, maxTopicLevels: 65535 });
  if (err !== null) throw bad(`"topic": ${err}`);
  let qos: (0 | 1 | 2)[] | undefined;
  const q = field(body, 'qos');
  if (q !== undefined && q !== null) {
    const list = Array.isArray(q) ? q : [q];
    if (!list.every((x) => x === 0 || x === 1 || x === 2)) throw bad('"qos" must be a QoS (0, 1, 2) or a list of them');
    qos = list as (0 | 1 | 2)[];
  }
  const retain = field(body, 'retain');
  if (retain !== undefined && retain !== null && typeof retain !== 'boolean') throw bad('"retain" must be true or false');
  return { who, action: action as AclAction, permission: permission as AclPermission, topic, qos, retain: retain === null ? undefined : (retain as boolean | undefined) };
}
