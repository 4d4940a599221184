// Wire constants: packet type numbers, reserved fixed-header flags and the Reason Code tables.

import type { PacketCmd } from './packets.js';

// MQTT 5 §2.1.2 Table 2-1 / MQTT 3.1.1 §2.2.1 Table 2.1.
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  UNSUBSCRIBE: 10,
  UNSUBACK: 11,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
  AUTH: 15,
} as const;

/** cmd name by packet type number; index 0 is the forbidden type. */
export const CMD_BY_TYPE: readonly (PacketCmd | undefined)[] = [
  undefined,
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

/** Upper-case packet names for error messages, by packet type number. */
export const NAME_BY_TYPE: readonly string[] = [
  'RESERVED',
  'CONNECT',
  'CONNACK',
  'PUBLISH',
  'PUBACK',
  'PUBREC',
  'PUBREL',
  'PUBCOMP',
  'SUBSCRIBE',
  'SUBACK',
  'UNSUBSCRIBE',
  'UNSUBACK',
  'PINGREQ',
  'PINGRESP',
  'DISCONNECT',
  'AUTH',
];

/**
 * The value the four flag bits of byte 1 must have, by packet type (MQTT 5 Table 2-2, MQTT 3.1.1
 * Table 2.2). PUBLISH (index 3) carries DUP/QoS/RETAIN instead and is checked separately.
 */
export const REQUIRED_FLAGS: readonly number[] = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/** Largest value a four-byte Variable Byte Integer holds (MQTT 5 §1.5.5). */
export const MAX_VARIABLE_BYTE_INTEGER = 268_435_455;

/** Largest possible MQTT packet: 1 type byte, 4 length bytes, 268,435,455 remaining bytes. */
export const MAX_PACKET_SIZE = 1 + 4 + MAX_VARIABLE_BYTE_INTEGER;

function codeSet(codes: number[]): readonly boolean[] {
  const table: boolean[] = new Array<boolean>(256).fill(false);
  for (const c of codes) table[c] = true;
  return table;
}

// MQTT 5 §3.2.2.2 Table 3-1 Connect Reason Code values.
export const CONNACK_REASON_CODES = codeSet([
  0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97,
  0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
]);

// MQTT 3.1.1 §3.2.2.3 Table 3.1 Connect Return code values; 6-255 are reserved.
export const CONNACK_RETURN_CODES = codeSet([0, 1, 2, 3, 4, 5]);

// MQTT 5 §3.4.2.1 PUBACK and §3.5.2.1 PUBREC Reason Codes.
export const PUBACK_REASON_CODES = codeSet([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);

// MQTT 5 §3.6.2.1 PUBREL and §3.7.2.1 PUBCOMP Reason Codes.
export const PUBREL_REASON_CODES = codeSet([0x00, 0x92]);

// MQTT 5 §3.9.3 SUBACK Reason Codes.
export const SUBACK_REASON_CODES = codeSet([
  0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2,
]);

// MQTT 3.1.1 §3.9.3 SUBACK return codes [MQTT-3.9.3-2].
export const SUBACK_RETURN_CODES = codeSet([0x00, 0x01, 0x02, 0x80]);

// MQTT 5 §3.11.3 UNSUBACK Reason Codes.
export const UNSUBACK_REASON_CODES = codeSet([0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91]);

// MQTT 5 §3.14.2.1 DISCONNECT Reason Codes.
export const DISCONNECT_REASON_CODES = codeSet([
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95,
  0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

// MQTT 5 §3.15.2.1 AUTH Reason Codes.
export const AUTH_REASON_CODES = codeSet([0x00, 0x18, 0x19]);
