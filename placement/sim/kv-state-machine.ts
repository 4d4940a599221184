/**
 * The replicated state machine of the simulation: a string map with put, delete and
 * compare-and-set, applied from committed log entries, plus per-client deduplication so a
 * proposal that the network duplicated takes effect once (clients use one sequence number per
 * operation, and a client never reuses a number).
 */

export type KvCommand =
  | { readonly op: 'put'; readonly clientId: number; readonly seq: number; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly clientId: number; readonly seq: number; readonly key: string }
  | {
      readonly op: 'cas';
      readonly clientId: number;
      readonly seq: number;
      readonly key: string;
      readonly expected: string | null;
      readonly value: string;
    };

export type KvResult = { readonly op: 'put' } | { readonly op: 'delete'; readonly existed: boolean } | { readonly op: 'cas'; readonly ok: boolean };

interface Session {
  seq: number;
  result: KvResult;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  const v = JSON.parse(decoder.decode(data)) as KvCommand;
  if (typeof v !== 'object' || v === null || !['put', 'delete', 'cas'].includes(v.op)) {
    throw new TypeError(`not a KV command: ${decoder.decode(data).slice(0, 80)}`);
  }
  return v;
}

export class KvStateMachine {
  private readonly data = new Map<string, string>();
  private readonly sessions = new Map<number, Session>();
  appliedIndex = 0;

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Applies a command; a command at or below the client's last applied sequence is a duplicate. */
  apply(index: number, cmd: KvCommand): { result: KvResult; duplicate: boolean } {
    this.appliedIndex = index;
    const session = this.sessions.get(cmd.clientId);
    if (session && cmd.seq <= session.seq) {
      return { result: session.result, duplicate: true };
    }
    let result: KvResult;
    switch (cmd.op) {
      case 'put':
        this.data.set(cmd.key, cmd.value);
        result = { op: 'put' };
        break;
      case 'delete':
        result = { op: 'delete', existed: this.data.delete(cmd.key) };
        break;
      case 'cas': {
        const ok = (this.data.get(cmd.key) ?? null) === cmd.expected;
        if (ok) this.data.set(cmd.key, cmd.value);
        result = { op: 'cas', ok };
        break;
      }
    }
    this.sessions.set(cmd.clientId, { seq: cmd.seq, result });
    return { result, duplicate: false };
  }

  /** Entries that are not KV commands (no-ops, membership changes) still advance the index. */
  noteApplied(index: number): void {
    this.appliedIndex = index;
  }

  snapshot(): Uint8Array {
    const data = [...this.data].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const sessions = [...this.sessions].sort(([a], [b]) => a - b);
    return encoder.encode(JSON.stringify({ index: this.appliedIndex, data, sessions }));
  }

  static restore(bytes: Uint8Array): KvStateMachine {
    const sm = new KvStateMachine();
    if (bytes.byteLength === 0) return sm;
    const v = JSON.parse(decoder.decode(bytes)) as { index: number; data: [string, string][]; sessions: [number, Session][] };
    sm.appliedIndex = v.index;
    for (const [k, val] of v.data) sm.data.set(k, val);
    for (const [c, s] of v.sessions) sm.sessions.set(c, s);
    return sm;
  }
}
