// MQTT 5 properties (§2.2.2): the table of every property, where each may appear, how often, and
// its value rules; decoding a property block into the camelCase object mqtt-packet uses, and
// sizing/writing such an object back.

import { PacketType } from './constants.js';
import { EncodeError } from './errors.js';
import type { AnyProperties, UserProperties } from './packets.js';
import type { Reader } from './reader.js';
import { binarySize, stringSize, vbiSize, writeBinary, writeUtf8, writeVbi } from './wire-write.js';

type ValueType = 'bool' | 'u8' | 'u16' | 'u32' | 'vbi' | 'string' | 'binary' | 'pair';

/** Where a property block sits: a packet type number, or WILL for the CONNECT Will Properties. */
export const WILL = 16;
export type PropertyContext = number;

const P = PacketType;
const bit = (...contexts: number[]): number => contexts.reduce((m, c) => m | (1 << c), 0);
const ALL_WITH_PROPERTIES = bit(
  P.CONNECT, P.CONNACK, P.PUBLISH, WILL, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBSCRIBE,
  P.SUBACK, P.UNSUBSCRIBE, P.UNSUBACK, P.DISCONNECT, P.AUTH,
);
const ACKS = [P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBACK, P.UNSUBACK];

interface PropertyDef {
  id: number;
  name: keyof AnyProperties;
  label: string;
  type: ValueType;
  /** Contexts the property may appear in (MQTT 5 §2.2.2.2 Table 2-4). */
  allowed: number;
  /** Contexts where it may appear more than once. */
  repeatable: number;
  /** Section that defines it and its value rules. */
  section: string;
  /** Set when 0 is a Protocol Error; the clause that says so. */
  nonZero?: string;
}

// MQTT 5 §2.2.2.2 Table 2-4 - Properties.
const DEFS: PropertyDef[] = [
  { id: 0x01, name: 'payloadFormatIndicator', label: 'Payload Format Indicator', type: 'bool', allowed: bit(P.PUBLISH, WILL), repeatable: 0, section: '§3.3.2.3.2' },
  { id: 0x02, name: 'messageExpiryInterval', label: 'Message Expiry Interval', type: 'u32', allowed: bit(P.PUBLISH, WILL), repeatable: 0, section: '§3.3.2.3.3' },
  { id: 0x03, name: 'contentType', label: 'Content Type', type: 'string', allowed: bit(P.PUBLISH, WILL), repeatable: 0, section: '§3.3.2.3.9' },
  { id: 0x08, name: 'responseTopic', label: 'Response Topic', type: 'string', allowed: bit(P.PUBLISH, WILL), repeatable: 0, section: '§3.3.2.3.5' },
  { id: 0x09, name: 'correlationData', label: 'Correlation Data', type: 'binary', allowed: bit(P.PUBLISH, WILL), repeatable: 0, section: '§3.3.2.3.6' },
  // A Server sends one per matching subscription in a PUBLISH, but only one in SUBSCRIBE.
  { id: 0x0b, name: 'subscriptionIdentifier', label: 'Subscription Identifier', type: 'vbi', allowed: bit(P.PUBLISH, P.SUBSCRIBE), repeatable: bit(P.PUBLISH), section: '§3.8.2.1.2' },
  { id: 0x11, name: 'sessionExpiryInterval', label: 'Session Expiry Interval', type: 'u32', allowed: bit(P.CONNECT, P.CONNACK, P.DISCONNECT), repeatable: 0, section: '§3.1.2.11.2' },
  { id: 0x12, name: 'assignedClientIdentifier', label: 'Assigned Client Identifier', type: 'string', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.7' },
  { id: 0x13, name: 'serverKeepAlive', label: 'Server Keep Alive', type: 'u16', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.14' },
  { id: 0x15, name: 'authenticationMethod', label: 'Authentication Method', type: 'string', allowed: bit(P.CONNECT, P.CONNACK, P.AUTH), repeatable: 0, section: '§3.1.2.11.9' },
  { id: 0x16, name: 'authenticationData', label: 'Authentication Data', type: 'binary', allowed: bit(P.CONNECT, P.CONNACK, P.AUTH), repeatable: 0, section: '§3.1.2.11.10' },
  { id: 0x17, name: 'requestProblemInformation', label: 'Request Problem Information', type: 'bool', allowed: bit(P.CONNECT), repeatable: 0, section: '§3.1.2.11.7' },
  { id: 0x18, name: 'willDelayInterval', label: 'Will Delay Interval', type: 'u32', allowed: bit(WILL), repeatable: 0, section: '§3.1.3.2.2' },
  { id: 0x19, name: 'requestResponseInformation', label: 'Request Response Information', type: 'bool', allowed: bit(P.CONNECT), repeatable: 0, section: '§3.1.2.11.6' },
  { id: 0x1a, name: 'responseInformation', label: 'Response Information', type: 'string', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.15' },
  { id: 0x1c, name: 'serverReference', label: 'Server Reference', type: 'string', allowed: bit(P.CONNACK, P.DISCONNECT), repeatable: 0, section: '§3.2.2.3.16' },
  { id: 0x1f, name: 'reasonString', label: 'Reason String', type: 'string', allowed: bit(P.CONNACK, ...ACKS, P.DISCONNECT, P.AUTH), repeatable: 0, section: '§3.4.2.2.2' },
  { id: 0x21, name: 'receiveMaximum', label: 'Receive Maximum', type: 'u16', allowed: bit(P.CONNECT, P.CONNACK), repeatable: 0, section: '§3.1.2.11.3' },
  { id: 0x22, name: 'topicAliasMaximum', label: 'Topic Alias Maximum', type: 'u16', allowed: bit(P.CONNECT, P.CONNACK), repeatable: 0, section: '§3.1.2.11.5' },
  { id: 0x23, name: 'topicAlias', label: 'Topic Alias', type: 'u16', allowed: bit(P.PUBLISH), repeatable: 0, section: '§3.3.2.3.4' },
  { id: 0x24, name: 'maximumQoS', label: 'Maximum QoS', type: 'u8', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.4' },
  { id: 0x25, name: 'retainAvailable', label: 'Retain Available', type: 'bool', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.5' },
  { id: 0x26, name: 'userProperties', label: 'User Property', type: 'pair', allowed: ALL_WITH_PROPERTIES, repeatable: ALL_WITH_PROPERTIES, section: '§3.1.2.11.8' },
  { id: 0x27, name: 'maximumPacketSize', label: 'Maximum Packet Size', type: 'u32', allowed: bit(P.CONNECT, P.CONNACK), repeatable: 0, section: '§3.1.2.11.4' },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', label: 'Wildcard Subscription Available', type: 'bool', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.11' },
  { id: 0x29, name: 'subscriptionIdentifiersAvailable', label: 'Subscription Identifiers Available', type: 'bool', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.12' },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', label: 'Shared Subscription Available', type: 'bool', allowed: bit(P.CONNACK), repeatable: 0, section: '§3.2.2.3.13' },
];

const BY_ID: (PropertyDef | undefined)[] = new Array<PropertyDef | undefined>(256).fill(undefined);
const BY_NAME = new Map<string, PropertyDef>();
for (const d of DEFS) {
  BY_ID[d.id] = d;
  BY_NAME.set(d.name, d);
}

// Values that must not be 0: the spec calls a 0 a Protocol Error.
const NON_ZERO: Readonly<Record<string, string>> = {
  receiveMaximum: '§3.1.2.11.3',
  maximumPacketSize: '§3.1.2.11.4',
  topicAlias: '[MQTT-3.3.2-8] §3.3.2.3.4',
  subscriptionIdentifier: '§3.8.2.1.2',
};
for (const d of DEFS) if (NON_ZERO[d.name] !== undefined) d.nonZero = NON_ZERO[d.name];

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, '0')}`;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Adds one User Property; a repeated name collects its values in wire order. */
function addUserProperty(user: UserProperties, name: string, value: string): void {
  if (!hasOwn.call(user, name)) {
    // A plain assignment of '__proto__' would hit Object.prototype's setter instead.
    if (name === '__proto__') Object.defineProperty(user, name, { value, enumerable: true, writable: true, configurable: true });
    else user[name] = value;
    return;
  }
  const prev = user[name];
  if (typeof prev === 'string') user[name] = [prev, value];
  else prev.push(value);
}

/**
 * Reads a Property Length and the properties it covers (MQTT 5 §2.2.2). Returns undefined when
 * there are none, as mqtt-packet does. `where` names the block in messages ('properties' or
 * 'Will Properties'); messages are only built on failure.
 */
export function readProperties(r: Reader, context: PropertyContext, where: string): AnyProperties | undefined {
  const length = r.vbi(context === WILL ? 'Will Properties Property Length' : 'Property Length');
  if (length === 0) return undefined;
  const end = r.pos + length;
  if (end > r.end) {
    r.malformed(
      `${r.name} ${where}: Property Length ${length} exceeds the ${r.end - r.pos} bytes left ` +
        '(MQTT 5 §2.2.2.1)',
    );
  }
  const outerEnd = r.end;
  r.end = end; // a property that runs past the block is as malformed as one past the packet
  const props: Record<string, unknown> = {};
  let user: UserProperties | undefined;
  const mask = 1 << context;
  while (r.pos < end) {
    const id = r.u8('property identifier');
    const def = BY_ID[id];
    if (def === undefined) {
      r.malformed(`${r.name} ${where}: unknown property identifier ${hex(id)} (MQTT 5 §2.2.2.2)`);
    }
    if ((def.allowed & mask) === 0) {
      r.malformed(`${describe(r, where, def)} is not allowed here (MQTT 5 §2.2.2.2 Table 2-4)`);
    }
    if (def.type === 'pair') {
      const key = r.utf8('User Property name');
      const value = r.utf8('User Property value');
      // Filled with an ordinary prototype (fast stores), made null-prototype at the end.
      if (user === undefined) user = {};
      addUserProperty(user, key, value);
      continue;
    }
    const value = readValue(r, def, where);
    const name = def.name;
    const prev = props[name];
    if (prev === undefined) {
      props[name] = value;
    } else {
      if ((def.repeatable & mask) === 0) {
        r.protocolError(`${describe(r, where, def)} appears more than once (MQTT 5 ${def.section}: a Protocol Error)`);
      }
      if (Array.isArray(prev)) prev.push(value);
      else props[name] = [prev, value];
    }
  }
  r.end = outerEnd;
  if (user !== undefined) props.userProperties = Object.setPrototypeOf(user, null) as UserProperties;
  // §3.1.2.11.10 / §3.15.2.2.3: Authentication Data without an Authentication Method.
  if (props.authenticationData !== undefined && props.authenticationMethod === undefined) {
    r.protocolError(
      `${r.name} ${where}: Authentication Data (0x16) without Authentication Method (0x15) ` +
        '(MQTT 5 §3.1.2.11.10: a Protocol Error)',
    );
  }
  return props as AnyProperties;
}

function describe(r: Reader, where: string, def: PropertyDef): string {
  return `${r.name} ${where}: ${def.label} (${hex(def.id)})`;
}

function readValue(r: Reader, def: PropertyDef, where: string): unknown {
  switch (def.type) {
    case 'bool': {
      const b = r.u8(def.label);
      if (b > 1) r.protocolError(`${describe(r, where, def)} must be 0 or 1, got ${b} (MQTT 5 ${def.section})`);
      return b === 1;
    }
    case 'u8': {
      const b = r.u8(def.label);
      // Maximum QoS is the only one-byte integer property.
      if (b > 1) r.protocolError(`${describe(r, where, def)} must be 0 or 1, got ${b} (MQTT 5 ${def.section})`);
      return b;
    }
    case 'u16':
    case 'u32':
    case 'vbi': {
      const n = def.type === 'u16' ? r.u16(def.label) : def.type === 'u32' ? r.u32(def.label) : r.vbi(def.label);
      if (n === 0 && def.nonZero !== undefined) {
        r.protocolError(`${describe(r, where, def)} must not be 0 (MQTT 5 ${def.nonZero}: a Protocol Error)`);
      }
      return n;
    }
    case 'string':
      return r.utf8(def.label);
    case 'binary':
      return r.binary(def.label);
    case 'pair':
      // Read by readProperties itself.
      return undefined;
  }
}

// ---- encoding ----

function encodeFail(name: string, value: unknown, want: string): never {
  throw new EncodeError(`property ${name} must be ${want}, got ${typeof value === 'object' ? 'an object' : String(value)}`);
}

function valueSize(def: PropertyDef, value: unknown): number {
  switch (def.type) {
    case 'bool':
      if (typeof value !== 'boolean') encodeFail(def.name, value, 'a boolean');
      return 2;
    case 'u8':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff) encodeFail(def.name, value, 'an integer 0..255');
      return 2;
    case 'u16':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff) encodeFail(def.name, value, 'an integer 0..65535');
      return 3;
    case 'u32':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) encodeFail(def.name, value, 'an integer 0..4294967295');
      return 5;
    case 'vbi':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 268_435_455) encodeFail(def.name, value, 'an integer 0..268435455');
      return 1 + vbiSize(value);
    case 'string':
      return 3 + stringSize(value as string, `property ${def.name}`);
    case 'binary':
      return 3 + binarySize(value as Buffer, `property ${def.name}`);
    case 'pair': {
      if (typeof value !== 'object' || value === null) encodeFail(def.name, value, 'an object of strings');
      let size = 0;
      const user = value as UserProperties;
      for (const key in user) {
        if (!hasOwn.call(user, key)) continue;
        const v = user[key];
        const keySize = stringSize(key, 'user property name');
        if (Array.isArray(v)) {
          for (const item of v) size += 5 + keySize + stringSize(String(item), `user property ${key}`);
        } else {
          size += 5 + keySize + stringSize(String(v), `user property ${key}`);
        }
      }
      return size;
    }
  }
}

/**
 * Byte length of a properties object's content, without the Property Length field itself.
 * Properties are written in the object's key order, as mqtt-packet writes them.
 */
export function propertiesSize(props: object | undefined): number {
  if (props === undefined || props === null) return 0;
  let size = 0;
  const obj = props as Record<string, unknown>;
  for (const name in obj) {
    const value = obj[name];
    if (value === undefined || value === null) continue;
    const def = BY_NAME.get(name);
    if (def === undefined) throw new EncodeError(`unknown property ${name}`);
    if (Array.isArray(value) && def.type !== 'pair') {
      if (def.repeatable === 0) encodeFail(name, value, 'a single value');
      for (const item of value) size += valueSize(def, item);
    } else {
      size += valueSize(def, value);
    }
  }
  return size;
}

/** Writes the Property Length (`size`, from propertiesSize) and the properties; returns the next position. */
export function writeProperties(buf: Buffer, pos: number, props: object | undefined, size: number): number {
  pos = writeVbi(buf, pos, size);
  if (size === 0) return pos;
  const obj = props as Record<string, unknown>;
  for (const name in obj) {
    const value = obj[name];
    if (value === undefined || value === null) continue;
    const def = BY_NAME.get(name) as PropertyDef;
    if (Array.isArray(value) && def.type !== 'pair') {
      for (const item of value) pos = writeValue(buf, pos, def, item);
    } else {
      pos = writeValue(buf, pos, def, value);
    }
  }
  return pos;
}

function writeValue(buf: Buffer, pos: number, def: PropertyDef, value: unknown): number {
  if (def.type === 'pair') {
    const user = value as UserProperties;
    for (const key in user) {
      if (!hasOwn.call(user, key)) continue;
      const v = user[key];
      if (Array.isArray(v)) {
        for (const item of v) {
          buf[pos++] = def.id;
          pos = writeUtf8(buf, pos, key);
          pos = writeUtf8(buf, pos, String(item));
        }
      } else {
        buf[pos++] = def.id;
        pos = writeUtf8(buf, pos, key);
        pos = writeUtf8(buf, pos, String(v));
      }
    }
    return pos;
  }
  buf[pos++] = def.id;
  switch (def.type) {
    case 'bool':
      buf[pos] = value ? 1 : 0;
      return pos + 1;
    case 'u8':
      buf[pos] = value as number;
      return pos + 1;
    case 'u16':
      buf[pos] = (value as number) >>> 8;
      buf[pos + 1] = (value as number) & 0xff;
      return pos + 2;
    case 'u32':
      buf.writeUInt32BE(value as number, pos);
      return pos + 4;
    case 'vbi':
      return writeVbi(buf, pos, value as number);
    case 'string':
      return writeUtf8(buf, pos, value as string);
    case 'binary':
      return writeBinary(buf, pos, value as Buffer);
  }
}
