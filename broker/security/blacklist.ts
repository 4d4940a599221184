// The blacklist as the broker checks it at CONNECT: exact client ids, usernames and addresses by
// map lookup; CIDR blocks and regular expressions by a scan (operators keep those lists short).
// Expired entries are ignored at lookup and pruned by the owner's sweep.

import { ipMatcher, normalizeAddress, IpMatchError } from './ip-match.js';
import type { BlacklistRecord, BlacklistType } from './security-store.js';
import { blacklistTypes } from './security-store.js';

export class BlacklistEntryError extends Error {
  readonly code = 'BR_SECURITY_BAD_BLACKLIST_ENTRY';
  constructor(message: string) {
    super(message);
    this.name = 'BlacklistEntryError';
  }
}

interface Scanned {
  readonly entry: BlacklistRecord;
  readonly test: (value: string) => boolean;
}

/** Checks an entry's value for its type; throws BlacklistEntryError. */
export function validateBlacklistEntry(type: string, value: string): asserts type is BlacklistType {
  if (!(blacklistTypes as readonly string[]).includes(type)) {
    throw new BlacklistEntryError(`blacklist type must be one of ${blacklistTypes.join(', ')}, got ${JSON.stringify(type)}`);
  }
  if (value === '') throw new BlacklistEntryError('blacklist value must not be empty');
  compile(type as BlacklistType, value);
}

function compile(type: BlacklistType, value: string): (v: string) => boolean {
  switch (type) {
    case 'client_id_regex':
    case 'username_regex': {
      let re: RegExp;
      try {
        re = new RegExp(value);
      } catch (err: unknown) {
        throw new BlacklistEntryError(`bad regular expression ${JSON.stringify(value)}: ${err instanceof Error ? err.message : String(err)}`);
      }
      return (v) => re.test(v);
    }
    case 'cidr':
    case 'ip':
      try {
        return ipMatcher(value);
      } catch (err: unknown) {
        throw new BlacklistEntryError(err instanceof IpMatchError ? err.message : String(err));
      }
    default:
      return (v) => v === value;
  }
}

const key = (type: BlacklistType, value: string): string => `${type}\u0000${value}`;

export class Blacklist {
  private readonly entries = new Map<string, BlacklistRecord>();
  private readonly clientIds = new Map<string, BlacklistRecord>();
  private readonly usernames = new Map<string, BlacklistRecord>();
  private readonly ips = new Map<string, BlacklistRecord>();
  private scanned: Scanned[] = [];

  get size(): number {
    return this.entries.size;
  }

  put(entry: BlacklistRecord): void {
    const test = compile(entry.type, entry.value);
    this.delete(entry.type, entry.value);
    this.entries.set(key(entry.type, entry.value), entry);
    switch (entry.type) {
      case 'client_id': this.clientIds.set(entry.value, entry); break;
      case 'username': this.usernames.set(entry.value, entry); break;
      case 'ip': this.ips.set(normalizeAddress(entry.value), entry); break;
      default: this.scanned.push({ entry, test });
    }
  }

  delete(type: BlacklistType, value: string): boolean {
    if (!this.entries.delete(key(type, value))) return false;
    switch (type) {
      case 'client_id': this.clientIds.delete(value); break;
      case 'username': this.usernames.delete(value); break;
      case 'ip': this.ips.delete(normalizeAddress(value)); break;
      default: this.scanned = this.scanned.filter((s) => !(s.entry.type === type && s.entry.value === value));
    }
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.clientIds.clear();
    this.usernames.clear();
    this.ips.clear();
    this.scanned = [];
  }

  /** The entry that bans this client now, or null. */
  match(clientId: string, username: string | undefined, address: string, now: number): BlacklistRecord | null {
    if (this.entries.size === 0) return null;
    const live = (e: BlacklistRecord | undefined): e is BlacklistRecord => e !== undefined && (e.until === undefined || e.until > now);
    let e = this.clientIds.get(clientId);
    if (live(e)) return e;
    if (username !== undefined) {
      e = this.usernames.get(username);
      if (live(e)) return e;
    }
    const ip = normalizeAddress(address);
    e = this.ips.get(ip);
    if (live(e)) return e;
    for (const s of this.scanned) {
      if (!live(s.entry)) continue;
      const subject = s.entry.type === 'cidr' ? ip : s.entry.type === 'client_id_regex' ? clientId : username;
      if (subject !== undefined && s.test(subject)) return s.entry;
    }
    return null;
  }

  /** Entries still in force. */
  list(now: number): BlacklistRecord[] {
    return [...this.entries.values()].filter((e) => e.until === undefined || e.until > now);
  }

  /** Entries whose expiry has passed (the owner deletes them from the store). */
  expired(now: number): BlacklistRecord[] {
    return [...this.entries.values()].filter((e) => e.until !== undefined && e.until <= now);
  }
}
