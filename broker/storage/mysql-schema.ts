// The mysql driver's schema and its migrations. The driver creates and upgrades the schema itself
// on open(): `schema_version` holds one row per applied migration, the migrations below run in
// order from the first one missing, under a named lock so two brokers starting at once do not
// race. MySQL commits DDL implicitly, so every migration is written to be re-runnable (IF NOT
// EXISTS): one interrupted half-way is simply run again on the next open().
//
// Key columns (client ids, filters, topics, ids) are utf8mb4 with a binary NO PAD collation:
// exact, case-sensitive, and 'a' differs from 'a ' (utf8mb4_bin is PAD SPACE, which would make
// them the same key). Their lengths are bounded by InnoDB's 3,072-byte index limit (4 bytes a
// character); KEY_LIMITS says how long each may be, and the driver refuses longer ones.

import type { StorageOp, StoredMessage } from './driver.js';

/** Maximum length in characters (code points) of each string used as a key. */
export const KEY_LIMITS = {
  clientId: 256,
  /** (client_id, filter) together fill the 768 characters an index may hold. */
  filter: 512,
  retainedTopic: 768,
  messageId: 255,
  delayedId: 255,
} as const;

export interface Migration {
  version: number;
  description: string;
  /** The DDL statements, given the collation chosen for key columns. */
  statements: (collation: string) => string[];
}

const TABLE_OPTIONS = (collation: string): string => `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${collation}`;
const keyType = (chars: number, collation: string): string => `VARCHAR(${chars}) CHARACTER SET utf8mb4 COLLATE ${collation}`;
const textType = (collation: string): string => `TEXT CHARACTER SET utf8mb4 COLLATE ${collation}`;

/**
 * The columns of a stored message (StoredMessage), with a prefix; `nullable` for the will of a
 * session, which may be absent. Properties are JSON (correlation data base64-encoded), times are
 * DOUBLE because the interface admits any finite number of milliseconds.
 */
export function messageColumnsDdl(prefix: string, nullable: boolean, collation: string, withId = true): string[] {
  const nn = nullable ? 'NULL' : 'NOT NULL';
  const cols = [
    `${prefix}topic ${textType(collation)} ${nn}`,
    `${prefix}payload LONGBLOB ${nn}`,
    `${prefix}qos TINYINT UNSIGNED ${nn}`,
    `${prefix}retain BOOLEAN ${nn}`,
    `${prefix}properties LONGTEXT CHARACTER SET utf8mb4 COLLATE ${collation} NULL`,
    `${prefix}created_at DOUBLE ${nn}`,
    `${prefix}expires_at DOUBLE NULL`,
    `${prefix}origin ${textType(collation)} NULL`,
  ];
  return withId ? [`${prefix}message_id ${keyType(KEY_LIMITS.messageId, collation)} ${nn}`, ...cols] : cols;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'sessions, subscriptions, outbound entries, message bodies, inbound QoS 2 ids, retained, delayed',
    statements: (c) => [
      `CREATE TABLE IF NOT EXISTS sessions (
        client_id ${keyType(KEY_LIMITS.clientId, c)} NOT NULL,
        protocol_version TINYINT UNSIGNED NOT NULL,
        expiry_interval INT UNSIGNED NOT NULL,
        disconnected_at DOUBLE NULL,
        will_state ENUM('absent', 'null', 'set') NOT NULL,
        will_delay_interval INT UNSIGNED NULL,
        ${messageColumnsDdl('will_', true, c).join(',\n        ')},
        PRIMARY KEY (client_id)
      ) ${TABLE_OPTIONS(c)}`,
      `CREATE TABLE IF NOT EXISTS subscriptions (
        client_id ${keyType(KEY_LIMITS.clientId, c)} NOT NULL,
        filter ${keyType(KEY_LIMITS.filter, c)} NOT NULL,
        qos TINYINT UNSIGNED NOT NULL,
        no_local BOOLEAN NOT NULL,
        retain_as_published BOOLEAN NOT NULL,
        retain_handling TINYINT UNSIGNED NOT NULL,
        subscription_id INT UNSIGNED NULL,
        PRIMARY KEY (client_id, filter)
      ) ${TABLE_OPTIONS(c)}`,
      `CREATE TABLE IF NOT EXISTS messages (
        ${messageColumnsDdl('', false, c).join(',\n        ')},
        PRIMARY KEY (message_id)
      ) ${TABLE_OPTIONS(c)}`,
      // by_message serves the "is this body still referenced" check when entries go.
      `CREATE TABLE IF NOT EXISTS outbound (
        client_id ${keyType(KEY_LIMITS.clientId, c)} NOT NULL,
        seq BIGINT UNSIGNED NOT NULL,
        message_id ${keyType(KEY_LIMITS.messageId, c)} NOT NULL,
        qos TINYINT UNSIGNED NOT NULL,
        state ENUM('queued', 'sent', 'pubrel') NOT NULL,
        packet_id SMALLINT UNSIGNED NULL,
        subscription_ids LONGTEXT CHARACTER SET utf8mb4 COLLATE ${c} NULL,
        retain BOOLEAN NULL,
        PRIMARY KEY (client_id, seq),
        KEY by_message (message_id)
      ) ${TABLE_OPTIONS(c)}`,
      `CREATE TABLE IF NOT EXISTS inbound_qos2 (
        client_id ${keyType(KEY_LIMITS.clientId, c)} NOT NULL,
        packet_id SMALLINT UNSIGNED NOT NULL,
        PRIMARY KEY (client_id, packet_id)
      ) ${TABLE_OPTIONS(c)}`,
      `CREATE TABLE IF NOT EXISTS retained_messages (
        topic ${keyType(KEY_LIMITS.retainedTopic, c)} NOT NULL,
        message_id ${keyType(KEY_LIMITS.messageId, c)} NOT NULL,
        ${messageColumnsDdl('', false, c, false).filter((col) => !col.startsWith('topic ')).join(',\n        ')},
        PRIMARY KEY (topic)
      ) ${TABLE_OPTIONS(c)}`,
      `CREATE TABLE IF NOT EXISTS delayed_messages (
        id ${keyType(KEY_LIMITS.delayedId, c)} NOT NULL,
        fire_at DOUBLE NOT NULL,
        ${messageColumnsDdl('', false, c).join(',\n        ')},
        PRIMARY KEY (id)
      ) ${TABLE_OPTIONS(c)}`,
    ],
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export const SCHEMA_VERSION_DDL = `CREATE TABLE IF NOT EXISTS schema_version (
  version INT UNSIGNED NOT NULL,
  description VARCHAR(255) NOT NULL,
  applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

/**
 * Binary NO PAD utf8mb4 collations, best first: MariaDB >= 10.2 has the first, MySQL >= 8.0.17
 * the second.
 */
export const KEY_COLLATIONS = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin'] as const;

/** Name of the lock held while migrating (GET_LOCK is per server, so it includes the database). */
export function migrationLockName(database: string): string {
  return `robustmq_schema:${database}`.slice(0, 64);
}

const TEXT_MAX_BYTES = 65_535;

function tooLong(s: string, chars: number): boolean {
  // A string has at most as many code points as UTF-16 units: count only when it could be over.
  if (s.length <= chars) return false;
  let n = 0;
  for (const _ of s) if (++n > chars) return true;
  return false;
}

/**
 * The schema's length limits, checked before a batch is sent, so a too-long key is refused as
 * the op it is (StorageOpError) instead of failing inside the transaction. Returns the reason, or
 * null when the op fits. Deletes always fit: a key too long to be stored cannot exist, and
 * deleting what does not exist is allowed.
 */
export function keyLimitProblem(op: StorageOp): string | null {
  const key = (s: string, max: number, what: string): string | null =>
    tooLong(s, max) ? `${what} is longer than ${max} characters, the mysql driver's limit` : null;
  const text = (s: string | undefined, what: string): string | null =>
    s !== undefined && Buffer.byteLength(s, 'utf8') > TEXT_MAX_BYTES ? `${what} is longer than ${TEXT_MAX_BYTES} bytes` : null;
  const message = (m: StoredMessage, what: string): string | null =>
    key(m.id, KEY_LIMITS.messageId, `${what} id`) ?? text(m.topic, `${what} topic`) ?? text(m.origin, `${what} origin`);
  switch (op.op) {
    case 'session.put':
      return (
        key(op.session.clientId, KEY_LIMITS.clientId, 'client id') ??
        (op.session.will ? message(op.session.will.message, 'will message') : null)
      );
    case 'in2.put':
      return key(op.clientId, KEY_LIMITS.clientId, 'client id');
    case 'sub.put':
      return key(op.sub.clientId, KEY_LIMITS.clientId, 'client id') ?? key(op.sub.filter, KEY_LIMITS.filter, 'filter');
    case 'msg.put':
      return message(op.message, 'message');
    case 'out.put':
      return key(op.entry.clientId, KEY_LIMITS.clientId, 'client id') ?? key(op.entry.messageId, KEY_LIMITS.messageId, 'message id');
    case 'retain.put':
      return key(op.message.topic, KEY_LIMITS.retainedTopic, 'retained topic') ?? message(op.message, 'retained message');
    case 'delayed.put':
      return key(op.record.id, KEY_LIMITS.delayedId, 'delayed id') ?? message(op.record.message, 'delayed message');
    default:
      return null;
  }
}
