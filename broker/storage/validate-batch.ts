// The rules every driver enforces before it writes a batch (README.md, "Validation"). They are
// checked against the state at the start of the batch plus the effect of the earlier ops in the
// same batch, so a driver can validate the whole batch first and then write it in one go: a batch
// that breaks a rule is rejected with StorageOpError and nothing of it is applied.

import type {
  DelayedRecord,
  MessageProperties,
  OutboundEntry,
  SessionRecord,
  StorageOp,
  StoredMessage,
  SubscriptionRecord,
} from './driver.js';
import { StorageOpError } from './storage-op-error.js';

/** What validation needs to know about the state before the batch. */
export interface BatchValidationView {
  hasSession(clientId: string): boolean;
  /** True when the message body is stored (some outbound entry references it). */
  hasMessage(messageId: string): boolean;
}

const U32_MAX = 0xffffffff;
/** MQTT 5 section 3.3.2.3.8: a Variable Byte Integer from 1 to 268,435,455. */
const SUBSCRIPTION_ID_MAX = 268_435_455;
const PROPERTY_KEYS = new Set([
  'payloadFormatIndicator',
  'messageExpiryInterval',
  'contentType',
  'responseTopic',
  'correlationData',
  'userProperties',
]);
// A lone surrogate cannot be encoded as UTF-8, so it would not survive a driver that stores
// strings as UTF-8 (MQTT strings are well-formed UTF-8 anyway, [MQTT-1.5.4-1]).
const LONE_SURROGATE = /\p{Cs}/u;

class Invalid extends Error {}

function fail(reason: string): never {
  throw new Invalid(reason);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A string that can be part of a storage key: well-formed UTF-16 and no U+0000, which MQTT
 * forbids in its strings [MQTT-1.5.4-2] and which the leveldb key layout uses as separator.
 */
function checkKeyString(v: unknown, what: string, allowEmpty: boolean): string {
  if (typeof v !== 'string') fail(`${what} must be a string`);
  if (!allowEmpty && v.length === 0) fail(`${what} must not be empty`);
  if (v.includes('\u0000')) fail(`${what} must not contain U+0000`);
  if (LONE_SURROGATE.test(v)) fail(`${what} must be well-formed UTF-16 (lone surrogate)`);
  return v;
}

function checkString(v: unknown, what: string): void {
  if (typeof v !== 'string') fail(`${what} must be a string`);
  if (LONE_SURROGATE.test(v)) fail(`${what} must be well-formed UTF-16 (lone surrogate)`);
}

function checkInt(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${what} must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

function checkTime(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what} must be a finite number (ms since epoch)`);
}

function checkBool(v: unknown, what: string): void {
  if (typeof v !== 'boolean') fail(`${what} must be a boolean`);
}

function checkQos(v: unknown, what: string): void {
  if (v !== 0 && v !== 1 && v !== 2) fail(`${what} must be 0, 1 or 2, got ${String(v)}`);
}

function checkProperties(p: unknown): void {
  if (!isRecord(p)) fail('message.properties must be an object');
  for (const key of Object.keys(p)) {
    if (!PROPERTY_KEYS.has(key)) fail(`message.properties.${key} is not stored with a message`);
  }
  const props = p as MessageProperties;
  if (props.payloadFormatIndicator !== undefined) checkBool(props.payloadFormatIndicator, 'payloadFormatIndicator');
  if (props.messageExpiryInterval !== undefined) {
    checkInt(props.messageExpiryInterval, 'messageExpiryInterval', 0, U32_MAX);
  }
  if (props.contentType !== undefined) checkString(props.contentType, 'contentType');
  if (props.responseTopic !== undefined) checkString(props.responseTopic, 'responseTopic');
  if (props.correlationData !== undefined && !(props.correlationData instanceof Uint8Array)) {
    fail('correlationData must be a Buffer');
  }
  if (props.userProperties !== undefined) {
    if (!isRecord(props.userProperties)) fail('userProperties must be an object');
    for (const [k, v] of Object.entries(props.userProperties)) {
      checkString(k, 'a userProperties key');
      if (Array.isArray(v)) for (const s of v) checkString(s, `userProperties.${k}[]`);
      else checkString(v, `userProperties.${k}`);
    }
  }
}

export function checkMessage(m: unknown): asserts m is StoredMessage {
  if (!isRecord(m)) fail('message must be an object');
  checkKeyString(m.id, 'message.id', false);
  checkKeyString(m.topic, 'message.topic', false);
  if (!(m.payload instanceof Uint8Array)) fail('message.payload must be a Buffer');
  checkQos(m.qos, 'message.qos');
  checkBool(m.retain, 'message.retain');
  if (m.properties !== undefined) checkProperties(m.properties);
  checkTime(m.createdAt, 'message.createdAt');
  if (m.expiresAt !== undefined) checkTime(m.expiresAt, 'message.expiresAt');
  if (m.origin !== undefined) checkString(m.origin, 'message.origin');
}

function checkSession(s: unknown): asserts s is SessionRecord {
  if (!isRecord(s)) fail('session must be an object');
  checkKeyString(s.clientId, 'clientId', true);
  if (s.protocolVersion !== 3 && s.protocolVersion !== 4 && s.protocolVersion !== 5) {
    fail(`protocolVersion must be 3, 4 or 5, got ${String(s.protocolVersion)}`);
  }
  checkInt(s.expiryInterval, 'expiryInterval', 0, U32_MAX);
  if (s.disconnectedAt !== null) checkTime(s.disconnectedAt, 'disconnectedAt (or null)');
  if (s.will !== undefined && s.will !== null) {
    if (!isRecord(s.will)) fail('will must be an object or null');
    checkMessage(s.will.message);
    checkInt(s.will.delayInterval, 'will.delayInterval', 0, U32_MAX);
  }
}

function checkSubscription(s: unknown): asserts s is SubscriptionRecord {
  if (!isRecord(s)) fail('sub must be an object');
  checkKeyString(s.clientId, 'clientId', true);
  checkKeyString(s.filter, 'filter', false);
  checkQos(s.qos, 'qos');
  checkBool(s.noLocal, 'noLocal');
  checkBool(s.retainAsPublished, 'retainAsPublished');
  if (s.retainHandling !== 0 && s.retainHandling !== 1 && s.retainHandling !== 2) {
    fail(`retainHandling must be 0, 1 or 2, got ${String(s.retainHandling)}`);
  }
  if (s.subscriptionId !== undefined) checkInt(s.subscriptionId, 'subscriptionId', 1, SUBSCRIPTION_ID_MAX);
}

function checkOutbound(e: unknown): asserts e is OutboundEntry {
  if (!isRecord(e)) fail('entry must be an object');
  checkKeyString(e.clientId, 'clientId', true);
  checkInt(e.seq, 'seq', 0, Number.MAX_SAFE_INTEGER);
  checkKeyString(e.messageId, 'messageId', false);
  checkQos(e.qos, 'qos');
  if (e.packetId !== undefined) checkInt(e.packetId, 'packetId', 1, 0xffff);
  if (e.state !== 'queued' && e.state !== 'sent' && e.state !== 'pubrel') {
    fail(`state must be queued, sent or pubrel, got ${String(e.state)}`);
  }
  if (e.state !== 'queued') {
    // Only a QoS 1/2 delivery waits for an acknowledgement, and only under a packet id
    // [MQTT-2.2.1-2]; PUBREL exists only in the QoS 2 flow [MQTT-4.3.3-2].
    if (e.qos === 0) fail(`a QoS 0 entry cannot be in state ${e.state}`);
    if (e.packetId === undefined) fail(`state ${e.state} needs a packetId`);
    if (e.state === 'pubrel' && e.qos !== 2) fail('state pubrel needs qos 2');
  }
  if (e.subscriptionIds !== undefined) {
    if (!Array.isArray(e.subscriptionIds)) fail('subscriptionIds must be an array');
    for (const id of e.subscriptionIds) checkInt(id, 'a subscription id', 1, SUBSCRIPTION_ID_MAX);
  }
  if (e.retain !== undefined) checkBool(e.retain, 'retain');
}

function checkDelayed(r: unknown): asserts r is DelayedRecord {
  if (!isRecord(r)) fail('record must be an object');
  checkKeyString(r.id, 'id', false);
  checkMessage(r.message);
  checkTime(r.fireAt, 'fireAt');
}

/** Checks one op's shape (no state needed). */
export function checkOpShape(op: unknown): asserts op is StorageOp {
  if (!isRecord(op)) fail('an op must be an object');
  switch (op.op) {
    case 'session.put':
      return checkSession(op.session);
    case 'session.delete':
      checkKeyString(op.clientId, 'clientId', true);
      return;
    case 'sub.put':
      return checkSubscription(op.sub);
    case 'sub.delete':
      checkKeyString(op.clientId, 'clientId', true);
      checkKeyString(op.filter, 'filter', false);
      return;
    case 'msg.put':
      return checkMessage(op.message);
    case 'out.put':
      return checkOutbound(op.entry);
    case 'out.delete':
      checkKeyString(op.clientId, 'clientId', true);
      checkInt(op.seq, 'seq', 0, Number.MAX_SAFE_INTEGER);
      return;
    case 'in2.put':
    case 'in2.delete':
      checkKeyString(op.clientId, 'clientId', true);
      checkInt(op.packetId, 'packetId', 1, 0xffff);
      return;
    case 'retain.put':
      return checkMessage(op.message);
    case 'retain.delete':
      checkKeyString(op.topic, 'topic', false);
      return;
    case 'delayed.put':
      return checkDelayed(op.record);
    case 'delayed.delete':
      checkKeyString(op.id, 'id', false);
      return;
    default:
      fail(`unknown op kind ${JSON.stringify(op.op)}`);
  }
}

/**
 * Validates a whole batch; throws StorageOpError naming the first offending op. Rules beyond
 * shape: `sub.put`, `out.put` and `in2.put` need their session to exist at that point of the
 * batch, and `out.put` needs its message body stored (before the batch, or by an earlier
 * `msg.put` of the batch).
 */
export function validateBatch(ops: readonly StorageOp[], view: BatchValidationView): void {
  if (!Array.isArray(ops)) throw new StorageOpError(0, 'batch', 'ops must be an array');
  const sessions = new Map<string, boolean>();
  const putMessages = new Set<string>();
  const hasSession = (c: string): boolean => sessions.get(c) ?? view.hasSession(c);
  for (let i = 0; i < ops.length; i++) {
    const op: unknown = ops[i];
    const kind = isRecord(op) && typeof op.op === 'string' ? op.op : 'unknown';
    try {
      checkOpShape(op);
      switch (op.op) {
        case 'session.put':
          sessions.set(op.session.clientId, true);
          break;
        case 'session.delete':
          sessions.set(op.clientId, false);
          break;
        case 'msg.put':
          putMessages.add(op.message.id);
          break;
        case 'sub.put':
          if (!hasSession(op.sub.clientId)) fail(`no session ${JSON.stringify(op.sub.clientId)}`);
          break;
        case 'in2.put':
          if (!hasSession(op.clientId)) fail(`no session ${JSON.stringify(op.clientId)}`);
          break;
        case 'out.put':
          if (!hasSession(op.entry.clientId)) fail(`no session ${JSON.stringify(op.entry.clientId)}`);
          if (!putMessages.has(op.entry.messageId) && !view.hasMessage(op.entry.messageId)) {
            fail(`message ${JSON.stringify(op.entry.messageId)} is not stored (msg.put it first)`);
          }
          break;
        default:
          break;
      }
    } catch (e: unknown) {
      if (e instanceof Invalid) throw new StorageOpError(i, kind, e.message);
      throw e;
    }
  }
}
