// The ACL engine: rules compiled once per connection (who is fixed for a connection, so rules for
// others are dropped and placeholders substituted up front), then pure decisions per topic.
// First match wins; superusers and the no-match default are the caller's business.
//
// SUBSCRIBE is decided conservatively on the set of topics a filter matches: walking the rules in
// order, a deny rule that shares any topic with the filter denies it, an allow rule that covers
// the whole filter allows it, and an allow rule that covers only part of it is passed over. So an
// allowed subscription never receives a topic whose own first matching rule is a deny.

import type { AclAction, AclPermission, AclRuleInput } from './security-store.js';
import { filterContains, filtersOverlap, levelsMatch } from './filter-relations.js';
import { ipMatcher } from './ip-match.js';

export interface ClientIdentity {
  readonly username: string | undefined;
  readonly clientId: string;
  /** Remote address, IPv4-mapped form already normalized. */
  readonly ip: string;
}

export interface CompiledRule {
  readonly permission: AclPermission;
  readonly publish: boolean;
  readonly subscribe: boolean;
  /** Bit q set = QoS q allowed by the rule's condition (7 = any). */
  readonly qosMask: number;
  readonly retain: boolean | undefined;
  /** `eq` rule: the literal filter text. */
  readonly literal: string | undefined;
  readonly levels: readonly string[];
  /** A deny rule whose placeholder could not be filled safely: it matches everything. */
  readonly matchAll: boolean;
}

const PLACEHOLDER_RE = /\$\{(username|clientid)\}/g;

/**
 * A placeholder value that would change the filter's structure (a "/" adds levels, "+" or "#"
 * widens it) is unsafe: a user named "+" must not get `users/+/#`.
 */
function unsafeValue(v: string | undefined): boolean {
  return v === undefined || v === '' || /[/+#\u0000]/.test(v);
}

/** Whether a rule's `who` names this client. IP matchers are cached per rule text. */
export function ruleAppliesTo(rule: AclRuleInput, id: ClientIdentity, ipCache?: Map<string, (a: string) => boolean>): boolean {
  const who = rule.who;
  switch (who.kind) {
    case 'all': return true;
    case 'username': return id.username !== undefined && id.username === who.value;
    case 'client_id': return id.clientId === who.value;
    case 'ip': {
      let m = ipCache?.get(who.value);
      if (m === undefined) {
        try {
          m = ipMatcher(who.value);
        } catch {
          m = () => false;
        }
        ipCache?.set(who.value, m);
      }
      return m(id.ip);
    }
  }
}

/** The rules that apply to one client, in order, placeholders filled. */
export function compileRules(rules: readonly AclRuleInput[], id: ClientIdentity, ipCache?: Map<string, (a: string) => boolean>): CompiledRule[] {
  const out: CompiledRule[] = [];
  for (const rule of rules) {
    if (!ruleAppliesTo(rule, id, ipCache)) continue;
    const c = compileOne(rule, id);
    if (c !== null) out.push(c);
  }
  return out;
}

function compileOne(rule: AclRuleInput, id: ClientIdentity): CompiledRule | null {
  let text = rule.topic.trim();
  let literal = false;
  if (text.startsWith('eq ')) {
    literal = true;
    text = text.slice(3).trim();
  }
  let unsafe = false;
  const filled = text.replace(PLACEHOLDER_RE, (_m, name: string) => {
    const v = name === 'username' ? id.username : id.clientId;
    if (unsafeValue(v)) {
      unsafe = true;
      return '';
    }
    return v!;
  });
  if (unsafe && rule.permission === 'allow') return null;
  let qosMask = 7;
  if (rule.qos !== undefined && rule.qos.length > 0) {
    qosMask = 0;
    for (const q of rule.qos) qosMask |= 1 << q;
  }
  return {
    permission: rule.permission,
    publish: actionCovers(rule.action, 'publish'),
    subscribe: actionCovers(rule.action, 'subscribe'),
    qosMask,
    retain: rule.retain,
    literal: literal ? filled : undefined,
    levels: filled.split('/'),
    matchAll: unsafe,
  };
}

function actionCovers(action: AclAction, what: 'publish' | 'subscribe'): boolean {
  return action === 'all' || action === what;
}

/** Whether any compiled rule has a QoS or retain condition (then a cache key needs them). */
export function hasConditions(rules: readonly CompiledRule[]): boolean {
  return rules.some((r) => r.qosMask !== 7 || r.retain !== undefined);
}

/** The first matching rule's permission for a PUBLISH, or undefined when none matches. */
export function decidePublish(rules: readonly CompiledRule[], topic: string, qos: number, retain: boolean): AclPermission | undefined {
  let levels: string[] | undefined;
  for (const r of rules) {
    if (!r.publish || (r.qosMask & (1 << qos)) === 0) continue;
    if (r.retain !== undefined && r.retain !== retain) continue;
    if (r.matchAll) return r.permission;
    if (r.literal !== undefined) {
      if (r.literal === topic) return r.permission;
      continue;
    }
    levels ??= topic.split('/');
    if (levelsMatch(r.levels, levels)) return r.permission;
  }
  return undefined;
}

/** The decision for a SUBSCRIBE to `filter` (shared-subscription prefix already removed). */
export function decideSubscribe(rules: readonly CompiledRule[], filter: string, qos: number): AclPermission | undefined {
  const levels = filter.split('/');
  for (const r of rules) {
    if (!r.subscribe || (r.qosMask & (1 << qos)) === 0) continue;
    if (r.matchAll) {
      if (r.permission === 'deny') return 'deny';
      continue;
    }
    if (r.literal !== undefined) {
      if (r.literal === filter) return r.permission;
      continue;
    }
    if (r.permission === 'deny') {
      if (filtersOverlap(r.levels, levels)) return 'deny';
    } else if (filterContains(r.levels, levels)) {
      return 'allow';
    }
  }
  return undefined;
}
