// The SecurityStore over the placement center (PlacementClient: the embedded single-node group of
// a standalone broker, or the gRPC client of a cluster). Records are JSON documents in placement's
// replicated KV under `mqtt/security/`, because the typed User / Acl / BlacklistEntry objects of
// proto/placement.proto cannot hold what this layer needs (a user's hash algorithm and SCRAM
// credentials; an ACL rule's order, "all" / CIDR subjects, QoS and retain conditions):
//   mqtt/security/user/<username>             UserRecord
//   mqtt/security/acl/<random>                AclRuleInput; the rule's id is the key's create index,
//                                             so ids increase with creation order cluster-wide
//   mqtt/security/blacklist/<type>/<value>    BlacklistRecord
// Changes arrive on one watch stream (prefix `kv/mqtt/security/`), resumed from the listed index.

import { randomBytes } from 'node:crypto';
import { isCodedError } from '../../common/errors.js';
import { EventType, type KvEntry } from '../../proto/gen/placement_pb.js';
import type { PlacementClient, PlacementWatch } from '../../placement/client/placement-client.js';
import type {
  AclRuleInput, AclRuleRecord, BlacklistRecord, BlacklistType, SecurityChange, SecuritySnapshot, SecurityStore, UserRecord,
} from './security-store.js';

const ROOT = 'mqtt/security/';
const USER = `${ROOT}user/`;
const ACL = `${ROOT}acl/`;
const BLACKLIST = `${ROOT}blacklist/`;
const enc = encodeURIComponent;
const decoder = new TextDecoder();

type Parsed =
  | { kind: 'user'; user: UserRecord }
  | { kind: 'acl'; rule: AclRuleRecord }
  | { kind: 'blacklist'; entry: BlacklistRecord }
  | null;

function parseEntry(e: KvEntry): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(decoder.decode(e.value));
  } catch {
    return null;
  }
  if (typeof doc !== 'object' || doc === null) return null;
  if (e.key.startsWith(USER)) return { kind: 'user', user: doc as UserRecord };
  if (e.key.startsWith(ACL)) return { kind: 'acl', rule: { ...(doc as AclRuleInput), id: e.createIndex } };
  if (e.key.startsWith(BLACKLIST)) return { kind: 'blacklist', entry: doc as BlacklistRecord };
  return null;
}

export class PlacementSecurityStore implements SecurityStore {
  private readonly listeners = new Set<(c: SecurityChange) => void>();
  private stream: PlacementWatch | null = null;
  /** ACL rule id -> KV key (ids are create indexes, keys are random). */
  private readonly aclKeys = new Map<number, string>();
  private closed = false;

  constructor(private readonly client: PlacementClient) {}

  async snapshot(): Promise<SecuritySnapshot> {
    const listed = await this.client.kvList(ROOT);
    const users: UserRecord[] = [];
    const acl: AclRuleRecord[] = [];
    const blacklist: BlacklistRecord[] = [];
    this.aclKeys.clear();
    for (const e of listed.entries) {
      const p = parseEntry(e);
      if (p === null) continue;
      if (p.kind === 'user') users.push(p.user);
      else if (p.kind === 'acl') {
        acl.push(p.rule);
        this.aclKeys.set(p.rule.id, e.key);
      } else blacklist.push(p.entry);
    }
    if (this.listeners.size > 0) this.follow(listed.index + 1);
    return { users, acl, blacklist };
  }

  private follow(fromIndex: number): void {
    this.stream?.close();
    if (this.closed) return;
    const stream = this.client.watch({ fromIndex, prefixes: [`kv/${ROOT}`] });
    this.stream = stream;
    void (async () => {
      try {
        for await (const r of stream) {
          if (r.message.case !== 'event') continue;
          const ev = r.message.value;
          const v = ev.value?.value;
          if (v?.case !== 'kv') continue;
          const change = this.changeOf(ev.type, v.value);
          if (change !== null) this.emit(change);
        }
      } catch (err: unknown) {
        // Compacted past our index, or the stream failed for good: the cache reloads everything.
        if (!this.closed && stream === this.stream && (isCodedError(err) || err instanceof Error)) this.emit({ kind: 'reset' });
      }
    })();
  }

  private changeOf(type: EventType, e: KvEntry): SecurityChange | null {
    if (type === EventType.DELETE) {
      if (e.key.startsWith(USER)) return { kind: 'user', op: 'delete', username: decodeURIComponent(e.key.slice(USER.length)) };
      if (e.key.startsWith(ACL)) {
        this.aclKeys.delete(e.createIndex);
        return { kind: 'acl', op: 'delete', id: e.createIndex };
      }
      if (e.key.startsWith(BLACKLIST)) {
        const [type, value] = e.key.slice(BLACKLIST.length).split('/');
        return { kind: 'blacklist', op: 'delete', type: decodeURIComponent(type ?? '') as BlacklistType, value: decodeURIComponent(value ?? '') };
      }
      return null;
    }
    const p = parseEntry(e);
    if (p === null) return null;
    if (p.kind === 'user') return { kind: 'user', op: 'put', user: p.user };
    if (p.kind === 'acl') {
      this.aclKeys.set(p.rule.id, e.key);
      return { kind: 'acl', op: 'put', rule: p.rule };
    }
    return { kind: 'blacklist', op: 'put', entry: p.entry };
  }

  private emit(change: SecurityChange): void {
    for (const l of this.listeners) l(change);
  }

  async putUser(user: UserRecord): Promise<void> {
    await this.client.kvSet(USER + enc(user.username), JSON.stringify(user));
  }

  async deleteUser(username: string): Promise<boolean> {
    return (await this.client.kvDelete(USER + enc(username))).existed;
  }

  async addAclRule(rule: AclRuleInput): Promise<AclRuleRecord> {
    const key = ACL + randomBytes(8).toString('hex');
    const r = await this.client.kvSet(key, JSON.stringify(rule));
    // The rule's id is the create index of its key: read it back (the write's index is it too).
    const entry = await this.client.kvGet(key);
    const id = entry?.createIndex ?? r.index;
    this.aclKeys.set(id, key);
    return { ...rule, id };
  }

  async deleteAclRule(id: number): Promise<boolean> {
    let key = this.aclKeys.get(id);
    if (key === undefined) {
      key = (await this.client.kvList(ACL)).entries.find((e) => e.createIndex === id)?.key;
      if (key === undefined) return false;
    }
    this.aclKeys.delete(id);
    return (await this.client.kvDelete(key)).existed;
  }

  async putBlacklist(entry: BlacklistRecord): Promise<void> {
    await this.client.kvSet(`${BLACKLIST}${enc(entry.type)}/${enc(entry.value)}`, JSON.stringify(entry));
  }

  async deleteBlacklist(type: BlacklistType, value: string): Promise<boolean> {
    return (await this.client.kvDelete(`${BLACKLIST}${enc(type)}/${enc(value)}`)).existed;
  }

  watch(listener: (change: SecurityChange) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) {
        this.stream?.close();
        this.stream = null;
      }
    };
  }

  /** Stops the watch stream (the PlacementClient belongs to the caller). */
  close(): void {
    this.closed = true;
    this.stream?.close();
    this.stream = null;
  }
}
