// Records <-> rows of the mysql driver's tables (mysql-schema.ts). Values go out as arrays in the
// column order of the *_COLUMNS lists; rows come back as objects keyed by column name. An absent
// optional field is stored as NULL and read back as absent, so records round-trip exactly.

import type {
  DelayedRecord,
  MessageProperties,
  OutboundEntry,
  QoS,
  SessionRecord,
  StoredMessage,
  SubscriptionRecord,
} from './driver.js';

export type SqlValue = string | number | boolean | null | Buffer;
export type Row = Record<string, unknown>;

export class CorruptRow extends Error {
  constructor(table: string, reason: string) {
    super(`corrupt row in ${table}: ${reason}`);
    this.name = 'CorruptRow';
  }
}

const MESSAGE_FIELDS = ['message_id', 'topic', 'payload', 'qos', 'retain', 'properties', 'created_at', 'expires_at', 'origin'] as const;

export function messageColumns(prefix: string): string[] {
  return MESSAGE_FIELDS.map((f) => prefix + f);
}

// JSON keeps the properties readable for an operator; correlation data is the one binary field,
// stored as base64.
function propertiesToJson(p: MessageProperties): string {
  const o: Record<string, unknown> = { ...p };
  if (p.correlationData !== undefined) o['correlationData'] = Buffer.from(p.correlationData).toString('base64');
  return JSON.stringify(o);
}

function propertiesFromJson(raw: unknown, table: string): MessageProperties {
  const o: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (typeof o !== 'object' || o === null) throw new CorruptRow(table, 'properties is not a JSON object');
  const src = o as Record<string, unknown>;
  const p: MessageProperties = {};
  if (typeof src['payloadFormatIndicator'] === 'boolean') p.payloadFormatIndicator = src['payloadFormatIndicator'];
  if (typeof src['messageExpiryInterval'] === 'number') p.messageExpiryInterval = src['messageExpiryInterval'];
  if (typeof src['contentType'] === 'string') p.contentType = src['contentType'];
  if (typeof src['responseTopic'] === 'string') p.responseTopic = src['responseTopic'];
  if (typeof src['correlationData'] === 'string') p.correlationData = Buffer.from(src['correlationData'], 'base64');
  const up = src['userProperties'];
  if (typeof up === 'object' && up !== null) {
    // JSON.parse defines "__proto__" as an own property; fromEntries keeps it one.
    p.userProperties = Object.fromEntries(
      Object.entries(up as Record<string, unknown>).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : String(v)]),
    );
  }
  return p;
}

export function messageValues(m: StoredMessage): SqlValue[] {
  return [
    m.id,
    m.topic,
    Buffer.isBuffer(m.payload) ? m.payload : Buffer.from(m.payload),
    m.qos,
    m.retain,
    m.properties === undefined ? null : propertiesToJson(m.properties),
    m.createdAt,
    m.expiresAt ?? null,
    m.origin ?? null,
  ];
}

function str(row: Row, col: string, table: string): string {
  const v = row[col];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw new CorruptRow(table, `${col} is ${v === null ? 'NULL' : typeof v}`);
}

function num(row: Row, col: string, table: string): number {
  const v = row[col];
  // BIGINT arrives as a string when it does not fit a double exactly; seqs never exceed 2^53-1.
  const n = typeof v === 'number' ? v : typeof v === 'string' || typeof v === 'bigint' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new CorruptRow(table, `${col} is not a number (${String(v)})`);
  return n;
}

function optNum(row: Row, col: string, table: string): number | undefined {
  return row[col] === null || row[col] === undefined ? undefined : num(row, col, table);
}

function bool(row: Row, col: string, table: string): boolean {
  return num(row, col, table) !== 0;
}

function qos(row: Row, col: string, table: string): QoS {
  const q = num(row, col, table);
  if (q !== 0 && q !== 1 && q !== 2) throw new CorruptRow(table, `${col} is ${q}`);
  return q;
}

export function messageFromRow(row: Row, prefix: string, table: string, topicColumn = `${prefix}topic`): StoredMessage {
  const payload = row[`${prefix}payload`];
  if (!Buffer.isBuffer(payload)) throw new CorruptRow(table, `${prefix}payload is not binary`);
  const m: StoredMessage = {
    id: str(row, `${prefix}message_id`, table),
    topic: str(row, topicColumn, table),
    payload,
    qos: qos(row, `${prefix}qos`, table),
    retain: bool(row, `${prefix}retain`, table),
    createdAt: num(row, `${prefix}created_at`, table),
  };
  const props = row[`${prefix}properties`];
  if (props !== null && props !== undefined) m.properties = propertiesFromJson(props, table);
  const expiresAt = optNum(row, `${prefix}expires_at`, table);
  if (expiresAt !== undefined) m.expiresAt = expiresAt;
  const origin = row[`${prefix}origin`];
  if (origin !== null && origin !== undefined) m.origin = str(row, `${prefix}origin`, table);
  return m;
}

export const SESSION_COLUMNS = [
  'client_id',
  'protocol_version',
  'expiry_interval',
  'disconnected_at',
  'will_state',
  'will_delay_interval',
  ...messageColumns('will_'),
];

export function sessionValues(s: SessionRecord): SqlValue[] {
  const base: SqlValue[] = [s.clientId, s.protocolVersion, s.expiryInterval, s.disconnectedAt];
  if (s.will === undefined || s.will === null) {
    return [...base, s.will === null ? 'null' : 'absent', null, ...MESSAGE_FIELDS.map(() => null)];
  }
  return [...base, 'set', s.will.delayInterval, ...messageValues(s.will.message)];
}

export function sessionFromRow(row: Row): SessionRecord {
  const t = 'sessions';
  const pv = num(row, 'protocol_version', t);
  if (pv !== 3 && pv !== 4 && pv !== 5) throw new CorruptRow(t, `protocol_version is ${pv}`);
  const s: SessionRecord = {
    clientId: str(row, 'client_id', t),
    protocolVersion: pv,
    expiryInterval: num(row, 'expiry_interval', t),
    disconnectedAt: optNum(row, 'disconnected_at', t) ?? null,
  };
  const will = str(row, 'will_state', t);
  if (will === 'null') s.will = null;
  else if (will === 'set') s.will = { message: messageFromRow(row, 'will_', t), delayInterval: num(row, 'will_delay_interval', t) };
  else if (will !== 'absent') throw new CorruptRow(t, `will_state is ${will}`);
  return s;
}

export const SUBSCRIPTION_COLUMNS = ['client_id', 'filter', 'qos', 'no_local', 'retain_as_published', 'retain_handling', 'subscription_id'];

export function subscriptionValues(s: SubscriptionRecord): SqlValue[] {
  return [s.clientId, s.filter, s.qos, s.noLocal, s.retainAsPublished, s.retainHandling, s.subscriptionId ?? null];
}

export function subscriptionFromRow(row: Row): SubscriptionRecord {
  const t = 'subscriptions';
  const rh = num(row, 'retain_handling', t);
  if (rh !== 0 && rh !== 1 && rh !== 2) throw new CorruptRow(t, `retain_handling is ${rh}`);
  const s: SubscriptionRecord = {
    clientId: str(row, 'client_id', t),
    filter: str(row, 'filter', t),
    qos: qos(row, 'qos', t),
    noLocal: bool(row, 'no_local', t),
    retainAsPublished: bool(row, 'retain_as_published', t),
    retainHandling: rh,
  };
  const id = optNum(row, 'subscription_id', t);
  if (id !== undefined) s.subscriptionId = id;
  return s;
}

export const OUTBOUND_COLUMNS = ['client_id', 'seq', 'message_id', 'qos', 'state', 'packet_id', 'subscription_ids', 'retain'];

export function outboundValues(e: OutboundEntry): SqlValue[] {
  return [
    e.clientId,
    e.seq,
    e.messageId,
    e.qos,
    e.state,
    e.packetId ?? null,
    e.subscriptionIds === undefined ? null : JSON.stringify(e.subscriptionIds),
    e.retain ?? null,
  ];
}

export function outboundFromRow(row: Row): OutboundEntry {
  const t = 'outbound';
  const state = str(row, 'state', t);
  if (state !== 'queued' && state !== 'sent' && state !== 'pubrel') throw new CorruptRow(t, `state is ${state}`);
  const e: OutboundEntry = {
    clientId: str(row, 'client_id', t),
    seq: num(row, 'seq', t),
    messageId: str(row, 'message_id', t),
    qos: qos(row, 'qos', t),
    state,
  };
  const packetId = optNum(row, 'packet_id', t);
  if (packetId !== undefined) e.packetId = packetId;
  const ids = row['subscription_ids'];
  if (ids !== null && ids !== undefined) {
    const parsed: unknown = typeof ids === 'string' ? JSON.parse(ids) : ids;
    if (!Array.isArray(parsed)) throw new CorruptRow(t, 'subscription_ids is not a JSON array');
    e.subscriptionIds = parsed.map(Number);
  }
  if (row['retain'] !== null && row['retain'] !== undefined) e.retain = bool(row, 'retain', t);
  return e;
}

/** retained: the key column `topic` is the message's topic, so it is not stored twice. */
export const RETAINED_COLUMNS = ['topic', ...messageColumns('').filter((c) => c !== 'topic')];

export function retainedValues(m: StoredMessage): SqlValue[] {
  const [id, topic, ...rest] = messageValues(m);
  return [topic!, id!, ...rest];
}

export function retainedFromRow(row: Row): StoredMessage {
  return messageFromRow(row, '', 'retained_messages');
}

export const DELAYED_COLUMNS = ['id', 'fire_at', ...messageColumns('')];

export function delayedValues(r: DelayedRecord): SqlValue[] {
  return [r.id, r.fireAt, ...messageValues(r.message)];
}

export function delayedFromRow(row: Row): DelayedRecord {
  const t = 'delayed_messages';
  return { id: str(row, 'id', t), fireAt: num(row, 'fire_at', t), message: messageFromRow(row, '', t) };
}

export const MESSAGE_COLUMNS = messageColumns('');
