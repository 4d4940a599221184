// Turns one validated batch into the few SQL statements the mysql driver runs in its transaction.
//
// The ops are folded into their net effect per key first: within one atomic batch only the last
// op on a key matters, except `session.delete`, which also removes every row the session owned
// before it. So the statements are: the cascades of the deleted sessions, then per table one
// multi-row DELETE and one multi-row INSERT ... ON DUPLICATE KEY UPDATE of the final values, then
// the collection of bodies that lost their last reference. No two statements touch the same key
// except a cascade followed by a put that came after the delete in the batch, which is the order
// they run in; so the result equals applying the ops one by one.

import type { DelayedRecord, OutboundEntry, SessionRecord, StorageOp, StoredMessage, SubscriptionRecord } from './driver.js';
import {
  DELAYED_COLUMNS,
  MESSAGE_COLUMNS,
  OUTBOUND_COLUMNS,
  RETAINED_COLUMNS,
  SESSION_COLUMNS,
  SUBSCRIPTION_COLUMNS,
  delayedValues,
  messageValues,
  outboundValues,
  retainedValues,
  sessionValues,
  subscriptionValues,
  type SqlValue,
} from './mysql-rows.js';

/** What the transaction read before planning (under locks). */
export interface PlanInput {
  /** Ids of message bodies stored before the batch, among those the batch mentions. */
  storedMessages: ReadonlySet<string>;
  /**
   * Message ids of the entries stored before the batch that the batch replaces or deletes
   * (directly or by a session.delete): the bodies that may lose their last reference.
   */
  releasedMessages: ReadonlySet<string>;
}

/**
 * A statement: `text` ones are already formatted (escaped) SQL that may be sent several to a
 * round trip; `prepared` ones carry a large payload and go alone through the binary protocol,
 * which sends bytes as they are (the text protocol doubles them as hex).
 */
export type Statement = { kind: 'text'; sql: string } | { kind: 'prepared'; sql: string; values: SqlValue[] };

/** The reads a batch needs before it can be validated and planned. */
export interface ReadNeeds {
  /** Clients whose session must exist for a sub.put / out.put / in2.put. */
  sessions: Set<string>;
  /** Message ids referenced by out.put or written by msg.put. */
  messages: Set<string>;
  /** Outbound keys the batch replaces or deletes, per client. */
  outboundKeys: Map<string, Set<number>>;
  /** Clients deleted by the batch (all their entries go). */
  cascades: Set<string>;
}

export function readNeeds(ops: readonly StorageOp[]): ReadNeeds {
  const needs: ReadNeeds = { sessions: new Set(), messages: new Set(), outboundKeys: new Map(), cascades: new Set() };
  const key = (c: string, seq: number): void => {
    let seqs = needs.outboundKeys.get(c);
    if (seqs === undefined) needs.outboundKeys.set(c, (seqs = new Set()));
    seqs.add(seq);
  };
  for (const op of ops) {
    switch (op.op) {
      case 'sub.put':
        needs.sessions.add(op.sub.clientId);
        break;
      case 'in2.put':
        needs.sessions.add(op.clientId);
        break;
      case 'out.put':
        needs.sessions.add(op.entry.clientId);
        needs.messages.add(op.entry.messageId);
        key(op.entry.clientId, op.entry.seq);
        break;
      case 'out.delete':
        key(op.clientId, op.seq);
        break;
      case 'msg.put':
        needs.messages.add(op.message.id);
        break;
      case 'session.delete':
        needs.cascades.add(op.clientId);
        break;
      default:
        break;
    }
  }
  return needs;
}

const k2 = (a: string, b: string | number): string => `${a}\u0000${String(b)}`;

/** Net effect of a batch: the final value (or null = deleted) of every key it touches. */
interface Net {
  cascades: Set<string>;
  sessions: Map<string, SessionRecord | null>;
  subs: Map<string, { clientId: string; filter: string; rec: SubscriptionRecord | null }>;
  outbound: Map<string, { clientId: string; seq: number; entry: OutboundEntry | null }>;
  in2: Map<string, { clientId: string; packetId: number; present: boolean }>;
  retained: Map<string, StoredMessage | null>;
  delayed: Map<string, DelayedRecord | null>;
  bodies: Map<string, StoredMessage>;
  /** Keys of subs/outbound/in2 per client, so a session.delete finds them without a scan. */
  owned: Map<string, Array<() => void>>;
}

function fold(ops: readonly StorageOp[]): Net {
  const net: Net = {
    cascades: new Set(),
    sessions: new Map(),
    subs: new Map(),
    outbound: new Map(),
    in2: new Map(),
    retained: new Map(),
    delayed: new Map(),
    bodies: new Map(),
    owned: new Map(),
  };
  const own = (clientId: string, forget: () => void): void => {
    let list = net.owned.get(clientId);
    if (list === undefined) net.owned.set(clientId, (list = []));
    list.push(forget);
  };
  for (const op of ops) {
    switch (op.op) {
      case 'session.put':
        net.sessions.set(op.session.clientId, op.session);
        break;
      case 'session.delete': {
        const c = op.clientId;
        net.sessions.set(c, null);
        net.cascades.add(c);
        // What the batch did to this session's rows so far is wiped by the cascade.
        for (const forget of net.owned.get(c) ?? []) forget();
        net.owned.delete(c);
        break;
      }
      case 'sub.put':
      case 'sub.delete': {
        const [clientId, filter] = op.op === 'sub.put' ? [op.sub.clientId, op.sub.filter] : [op.clientId, op.filter];
        const key = k2(clientId, filter);
        net.subs.set(key, { clientId, filter, rec: op.op === 'sub.put' ? op.sub : null });
        own(clientId, () => net.subs.delete(key));
        break;
      }
      case 'msg.put':
        net.bodies.set(op.message.id, op.message);
        break;
      case 'out.put':
      case 'out.delete': {
        const [clientId, seq] = op.op === 'out.put' ? [op.entry.clientId, op.entry.seq] : [op.clientId, op.seq];
        const key = k2(clientId, seq);
        net.outbound.set(key, { clientId, seq, entry: op.op === 'out.put' ? op.entry : null });
        own(clientId, () => net.outbound.delete(key));
        break;
      }
      case 'in2.put':
      case 'in2.delete': {
        const key = k2(op.clientId, op.packetId);
        net.in2.set(key, { clientId: op.clientId, packetId: op.packetId, present: op.op === 'in2.put' });
        own(op.clientId, () => net.in2.delete(key));
        break;
      }
      case 'retain.put':
        net.retained.set(op.message.topic, op.message);
        break;
      case 'retain.delete':
        net.retained.set(op.topic, null);
        break;
      case 'delayed.put':
        net.delayed.set(op.record.id, op.record);
        break;
      case 'delayed.delete':
        net.delayed.set(op.id, null);
        break;
    }
  }
  return net;
}

/** A row bigger than this goes alone as a prepared statement. */
const LARGE_ROW_BYTES = 256 * 1024;
/** Rows per multi-row statement, and keys per IN list. */
const ROWS_PER_STATEMENT = 500;
/**
 * Data bytes per multi-row statement: as text, binary values take twice their size (hex), so a
 * statement stays near 2 MB, well under MariaDB's default 16 MB max_allowed_packet.
 */
const STATEMENT_BYTES = 1024 * 1024;

export interface SqlFormatter {
  format(sql: string, values: readonly SqlValue[]): string;
}

function rowBytes(values: readonly SqlValue[]): number {
  let n = 0;
  for (const v of values) n += Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length * 3 : 8;
  return n;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Booleans as 0/1, so both protocols store them the same way. */
const toSql = (values: SqlValue[]): SqlValue[] => values.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));

class StatementList {
  readonly out: Statement[] = [];
  constructor(private readonly fmt: SqlFormatter) {}

  text(sql: string, values: readonly SqlValue[] = []): void {
    this.out.push({ kind: 'text', sql: values.length === 0 ? sql : this.fmt.format(sql, values) });
  }

  /**
   * Multi-row INSERT ... ON DUPLICATE KEY UPDATE. A table whose columns are all key updates a key
   * column to itself: a no-op that, unlike INSERT IGNORE, does not turn other errors into warnings.
   */
  upsert(table: string, columns: readonly string[], keyColumns: number, rows: SqlValue[][]): void {
    if (rows.length === 0) return;
    const cols = columns.join(', ');
    const one = `(${columns.map(() => '?').join(', ')})`;
    const rest = columns.slice(keyColumns);
    const update = (rest.length > 0 ? rest.map((c) => `${c} = VALUES(${c})`) : [`${columns[0]} = ${columns[0]}`]).join(', ');
    const head = `INSERT INTO ${table} (${cols}) VALUES `;
    const tail = ` ON DUPLICATE KEY UPDATE ${update}`;
    let part: string[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (part.length > 0) this.out.push({ kind: 'text', sql: head + part.join(', ') + tail });
      part = [];
      bytes = 0;
    };
    for (const row of rows) {
      const values = toSql(row);
      const size = rowBytes(values);
      if (size > LARGE_ROW_BYTES) {
        this.out.push({ kind: 'prepared', sql: head + one + tail, values });
        continue;
      }
      if (part.length >= ROWS_PER_STATEMENT || bytes + size > STATEMENT_BYTES) flush();
      part.push(this.fmt.format(one, values));
      bytes += size;
    }
    flush();
  }

  deleteIn(table: string, column: string, keys: readonly string[], extra = ''): void {
    for (const part of chunks(keys, ROWS_PER_STATEMENT)) {
      this.text(`DELETE FROM ${table} WHERE ${column} IN (${part.map(() => '?').join(', ')})${extra}`, part);
    }
  }

  /** Deletes (client_id, <column>) pairs, grouped per client so the primary key serves each group. */
  deletePairs(table: string, column: string, pairs: ReadonlyArray<readonly [string, string | number]>): void {
    const byClient = new Map<string, Array<string | number>>();
    for (const [c, v] of pairs) {
      let list = byClient.get(c);
      if (list === undefined) byClient.set(c, (list = []));
      list.push(v);
    }
    const groups = [...byClient];
    for (const part of chunks(groups, ROWS_PER_STATEMENT)) {
      const where = part.map(([c, vs]) => this.fmt.format(`(client_id = ? AND ${column} IN (${vs.map(() => '?').join(', ')}))`, [c, ...vs]));
      this.out.push({ kind: 'text', sql: `DELETE FROM ${table} WHERE ${where.join(' OR ')}` });
    }
  }
}

/** The statements of one batch, in the order they must run (inside one transaction). */
export function planStatements(ops: readonly StorageOp[], input: PlanInput, fmt: SqlFormatter): Statement[] {
  const net = fold(ops);
  const s = new StatementList(fmt);
  const cascades = [...net.cascades];
  for (const table of ['subscriptions', 'outbound', 'inbound_qos2']) s.deleteIn(table, 'client_id', cascades);

  const sessionDeletes: string[] = [];
  const sessionPuts: SqlValue[][] = [];
  for (const [c, rec] of net.sessions) {
    if (rec === null) sessionDeletes.push(c);
    else sessionPuts.push(sessionValues(rec));
  }
  s.deleteIn('sessions', 'client_id', sessionDeletes);
  s.upsert('sessions', SESSION_COLUMNS, 1, sessionPuts);

  // A body is written when an entry references it after the batch: one of this batch's entries,
  // or (when it was stored before) an older one; the collection below drops it if none is left.
  const referenced = new Set<string>();
  for (const { entry } of net.outbound.values()) if (entry !== null) referenced.add(entry.messageId);
  const bodies: SqlValue[][] = [];
  for (const [id, m] of net.bodies) {
    if (referenced.has(id) || input.storedMessages.has(id)) bodies.push(messageValues(m));
  }
  s.upsert('messages', MESSAGE_COLUMNS, 1, bodies);

  const subDeletes: Array<[string, string]> = [];
  const subPuts: SqlValue[][] = [];
  for (const { clientId, filter, rec } of net.subs.values()) {
    if (rec === null) subDeletes.push([clientId, filter]);
    else subPuts.push(subscriptionValues(rec));
  }
  s.deletePairs('subscriptions', 'filter', subDeletes);
  s.upsert('subscriptions', SUBSCRIPTION_COLUMNS, 2, subPuts);

  const outDeletes: Array<[string, number]> = [];
  const outPuts: SqlValue[][] = [];
  for (const { clientId, seq, entry } of net.outbound.values()) {
    if (entry === null) outDeletes.push([clientId, seq]);
    else outPuts.push(outboundValues(entry));
  }
  s.deletePairs('outbound', 'seq', outDeletes);
  s.upsert('outbound', OUTBOUND_COLUMNS, 2, outPuts);

  const in2Deletes: Array<[string, number]> = [];
  const in2Puts: SqlValue[][] = [];
  for (const { clientId, packetId, present } of net.in2.values()) {
    if (present) in2Puts.push([clientId, packetId]);
    else in2Deletes.push([clientId, packetId]);
  }
  s.deletePairs('inbound_qos2', 'packet_id', in2Deletes);
  s.upsert('inbound_qos2', ['client_id', 'packet_id'], 2, in2Puts);

  const retainedDeletes: string[] = [];
  const retainedPuts: SqlValue[][] = [];
  for (const [topic, m] of net.retained) {
    if (m === null) retainedDeletes.push(topic);
    else retainedPuts.push(retainedValues(m));
  }
  s.deleteIn('retained_messages', 'topic', retainedDeletes);
  s.upsert('retained_messages', RETAINED_COLUMNS, 1, retainedPuts);

  const delayedDeletes: string[] = [];
  const delayedPuts: SqlValue[][] = [];
  for (const [id, r] of net.delayed) {
    if (r === null) delayedDeletes.push(id);
    else delayedPuts.push(delayedValues(r));
  }
  s.deleteIn('delayed_messages', 'id', delayedDeletes);
  s.upsert('delayed_messages', DELAYED_COLUMNS, 1, delayedPuts);

  // Bodies whose entries went in this batch stay only while another entry references them.
  s.deleteIn(
    'messages',
    'message_id',
    [...input.releasedMessages],
    ' AND NOT EXISTS (SELECT 1 FROM outbound o WHERE o.message_id = messages.message_id)',
  );
  return s.out;
}
