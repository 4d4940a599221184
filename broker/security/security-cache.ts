// The broker's in-memory mirror of the security store: built-in users by name, ACL rules in id
// order, the blacklist. Loaded once, then kept current from the store's change stream. Every
// change bumps `generation`, which per-connection decision caches compare against.

import { Blacklist } from './blacklist.js';
import type { AclRuleRecord, BlacklistRecord, SecurityChange, SecurityStore, UserRecord } from './security-store.js';

export class SecurityCache {
  readonly users = new Map<string, UserRecord>();
  readonly blacklist = new Blacklist();
  private aclById = new Map<number, AclRuleRecord>();
  private sortedAcl: AclRuleRecord[] = [];
  /** Bumped by every change to users or ACL rules. */
  generation = 0;
  private unwatch: (() => void) | null = null;
  /** Called after each applied change (the manager drops auth results of changed users). */
  onChange: (change: SecurityChange) => void = () => undefined;

  /** Loads a snapshot, then follows the store's changes. */
  async open(store: SecurityStore): Promise<void> {
    const pending: SecurityChange[] = [];
    let loaded = false;
    this.unwatch = store.watch((c) => (loaded ? this.apply(c, store) : pending.push(c)));
    await this.reload(store);
    loaded = true;
    for (const c of pending) this.apply(c, store);
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  get aclRules(): readonly AclRuleRecord[] {
    return this.sortedAcl;
  }

  getUser(username: string): UserRecord | undefined {
    return this.users.get(username);
  }

  private async reload(store: SecurityStore): Promise<void> {
    const snap = await store.snapshot();
    this.users.clear();
    for (const u of snap.users) this.users.set(u.username, u);
    this.aclById = new Map(snap.acl.map((r) => [r.id, r]));
    this.resortAcl();
    this.blacklist.clear();
    for (const e of snap.blacklist) this.putBlacklist(e);
    this.generation++;
  }

  /** Applies one change (also used for read-your-writes after an admin call). */
  apply(change: SecurityChange, store?: SecurityStore): void {
    switch (change.kind) {
      case 'user':
        if (change.op === 'put') this.users.set(change.user.username, change.user);
        else this.users.delete(change.username);
        break;
      case 'acl':
        if (change.op === 'put') this.aclById.set(change.rule.id, change.rule);
        else this.aclById.delete(change.id);
        this.resortAcl();
        break;
      case 'blacklist':
        if (change.op === 'put') this.putBlacklist(change.entry);
        else this.blacklist.delete(change.type, change.value);
        break;
      case 'reset':
        if (store !== undefined) void this.reload(store).then(() => this.onChange(change), () => undefined);
        return;
    }
    this.generation++;
    this.onChange(change);
  }

  private putBlacklist(e: BlacklistRecord): void {
    try {
      this.blacklist.put(e);
    } catch {
      // An entry another tool wrote with a bad pattern cannot match anything: skip it.
    }
  }

  private resortAcl(): void {
    this.sortedAcl = [...this.aclById.values()].sort((a, b) => a.id - b.id);
  }
}
