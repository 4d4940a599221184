// What the broker's security layer needs from where built-in users, ACL rules and blacklist
// entries live (the placement center, DESIGN.md section 3): list, put and delete each kind, and a
// change stream. The broker loads everything once into SecurityCache and applies changes as they
// arrive, so no packet ever waits on the store.

import type { PasswordHashSpec } from './password-hash.js';

/** SCRAM-SHA-256 credentials (RFC 5802 section 3): never the password itself. */
export interface ScramCredentials {
  /** base64 */
  readonly salt: string;
  readonly iterations: number;
  /** base64 of H(ClientKey) */
  readonly storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key") */
  readonly serverKey: string;
}

export interface UserRecord {
  readonly username: string;
  /** How `hash` was made; kept per user so changing the configured algorithm keeps old users working. */
  readonly hashSpec: PasswordHashSpec;
  readonly hash: string;
  readonly salt: string;
  readonly superuser: boolean;
  readonly scram?: ScramCredentials;
  /** ms since the epoch */
  readonly createdAt: number;
}

export type AclAction = 'publish' | 'subscribe' | 'all';
export type AclPermission = 'allow' | 'deny';

/** Who a rule applies to. `ip` takes an address or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export type AclWho =
  | { readonly kind: 'all' }
  | { readonly kind: 'username'; readonly value: string }
  | { readonly kind: 'client_id'; readonly value: string }
  | { readonly kind: 'ip'; readonly value: string };

export interface AclRuleInput {
  readonly who: AclWho;
  readonly action: AclAction;
  /**
   * A topic filter with `+` / `#` and `${username}` / `${clientid}` placeholders, or `eq <filter>`
   * for a literal filter (`eq a/#` matches only a subscription to exactly `a/#`).
   */
  readonly topic: string;
  readonly permission: AclPermission;
  /** Only these QoS levels (absent = any). */
  readonly qos?: readonly (0 | 1 | 2)[];
  /** Only publishes with this retain flag (absent = either); ignored for subscribe. */
  readonly retain?: boolean;
}

export interface AclRuleRecord extends AclRuleInput {
  /** Assigned by the store, increasing: rules are matched in id order. */
  readonly id: number;
}

export const blacklistTypes = ['client_id', 'username', 'ip', 'cidr', 'client_id_regex', 'username_regex'] as const;
export type BlacklistType = (typeof blacklistTypes)[number];

export interface BlacklistRecord {
  readonly type: BlacklistType;
  readonly value: string;
  /** ms since the epoch after which the entry no longer applies; absent = forever. */
  readonly until?: number;
  readonly reason?: string;
  readonly createdAt: number;
}

export type SecurityChange =
  | { readonly kind: 'user'; readonly op: 'put'; readonly user: UserRecord }
  | { readonly kind: 'user'; readonly op: 'delete'; readonly username: string }
  | { readonly kind: 'acl'; readonly op: 'put'; readonly rule: AclRuleRecord }
  | { readonly kind: 'acl'; readonly op: 'delete'; readonly id: number }
  | { readonly kind: 'blacklist'; readonly op: 'put'; readonly entry: BlacklistRecord }
  | { readonly kind: 'blacklist'; readonly op: 'delete'; readonly type: BlacklistType; readonly value: string }
  /** The stream broke and was resumed from a fresh listing: reload everything. */
  | { readonly kind: 'reset' };

export interface SecuritySnapshot {
  readonly users: readonly UserRecord[];
  readonly acl: readonly AclRuleRecord[];
  readonly blacklist: readonly BlacklistRecord[];
}

export interface SecurityStore {
  /** Everything, consistent as of one point; watch() delivers every change after it. */
  snapshot(): Promise<SecuritySnapshot>;
  putUser(user: UserRecord): Promise<void>;
  /** False when there was no such user. */
  deleteUser(username: string): Promise<boolean>;
  addAclRule(rule: AclRuleInput): Promise<AclRuleRecord>;
  deleteAclRule(id: number): Promise<boolean>;
  putBlacklist(entry: BlacklistRecord): Promise<void>;
  deleteBlacklist(type: BlacklistType, value: string): Promise<boolean>;
  /** Changes after the last snapshot(), in order. Returns the unsubscribe function. */
  watch(listener: (change: SecurityChange) => void): () => void;
}
