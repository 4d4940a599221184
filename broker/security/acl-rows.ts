// ACL rules as MySQL rows and Redis hashes give them (EMQX-compatible): action publish |
// subscribe | all, permission allow | deny (Redis: always allow unless the value is JSON that
// says otherwise), topic filter; optional qos and retain.

import type { AclAction, AclPermission, AclRuleInput } from './security-store.js';

const actions: readonly string[] = ['publish', 'subscribe', 'all'];

function action(v: unknown): AclAction | null {
  const s = String(v ?? '').trim().toLowerCase();
  if (s === 'pubsub') return 'all';
  return actions.includes(s) ? (s as AclAction) : null;
}

function permission(v: unknown): AclPermission | null {
  const s = String(v ?? '').trim().toLowerCase();
  return s === 'allow' || s === 'deny' ? s : null;
}

function qosList(v: unknown): (0 | 1 | 2)[] | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const items = Array.isArray(v) ? v : String(v).split(',');
  const out = items.map((x) => Number(String(x).trim())).filter((n): n is 0 | 1 | 2 => n === 0 || n === 1 || n === 2);
  return out.length > 0 ? out : undefined;
}

function retainFlag(v: unknown): boolean | undefined {
  if (v === null || v === undefined || v === '' || v === 'all') return undefined;
  if (typeof v === 'boolean') return v;
  const s = String(v).toLowerCase();
  return s === '1' || s === 'true';
}

/** One row of the MySQL ACL query; null (skipped, logged by the caller) when malformed. */
export function ruleFromRow(row: Record<string, unknown>, username: string | undefined, clientId: string): AclRuleInput | null {
  const a = action(row['action']);
  const p = permission(row['permission'] ?? 'allow');
  const topic = row['topic'];
  if (a === null || p === null || typeof topic !== 'string' || topic === '') return null;
  return {
    who: username !== undefined ? { kind: 'username', value: username } : { kind: 'client_id', value: clientId },
    action: a, permission: p, topic, qos: qosList(row['qos']), retain: retainFlag(row['retain']),
  };
}

/** One field of the Redis ACL hash: field = topic, value = action or a JSON object. */
export function ruleFromHashField(topic: string, value: string, username: string | undefined, clientId: string): AclRuleInput | null {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) {
    try {
      const o = JSON.parse(trimmed) as Record<string, unknown>;
      return ruleFromRow({ ...o, topic }, username, clientId);
    } catch {
      return null;
    }
  }
  return ruleFromRow({ topic, action: trimmed, permission: 'allow' }, username, clientId);
}
