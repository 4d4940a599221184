// An in-memory SecurityStore for unit tests (the broker's real store is the placement center).

import type {
  AclRuleInput, AclRuleRecord, BlacklistRecord, BlacklistType, SecurityChange, SecuritySnapshot, SecurityStore, UserRecord,
} from '../security-store.js';

export class MemorySecurityStore implements SecurityStore {
  readonly users = new Map<string, UserRecord>();
  readonly acl = new Map<number, AclRuleRecord>();
  readonly blacklist = new Map<string, BlacklistRecord>();
  private nextId = 1;
  private readonly listeners = new Set<(c: SecurityChange) => void>();

  async snapshot(): Promise<SecuritySnapshot> {
    return { users: [...this.users.values()], acl: [...this.acl.values()], blacklist: [...this.blacklist.values()] };
  }

  async putUser(user: UserRecord): Promise<void> {
    this.users.set(user.username, user);
    this.emit({ kind: 'user', op: 'put', user });
  }

  async deleteUser(username: string): Promise<boolean> {
    if (!this.users.delete(username)) return false;
    this.emit({ kind: 'user', op: 'delete', username });
    return true;
  }

  async addAclRule(input: AclRuleInput): Promise<AclRuleRecord> {
    const rule = { ...input, id: this.nextId++ };
    this.acl.set(rule.id, rule);
    this.emit({ kind: 'acl', op: 'put', rule });
    return rule;
  }

  async deleteAclRule(id: number): Promise<boolean> {
    if (!this.acl.delete(id)) return false;
    this.emit({ kind: 'acl', op: 'delete', id });
    return true;
  }

  async putBlacklist(entry: BlacklistRecord): Promise<void> {
    this.blacklist.set(`${entry.type}\u0000${entry.value}`, entry);
    this.emit({ kind: 'blacklist', op: 'put', entry });
  }

  async deleteBlacklist(type: BlacklistType, value: string): Promise<boolean> {
    if (!this.blacklist.delete(`${type}\u0000${value}`)) return false;
    this.emit({ kind: 'blacklist', op: 'delete', type, value });
    return true;
  }

  watch(listener: (change: SecurityChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: SecurityChange): void {
    // Asynchronously, as a watch stream delivers.
    queueMicrotask(() => {
      for (const l of this.listeners) l(change);
    });
  }
}
