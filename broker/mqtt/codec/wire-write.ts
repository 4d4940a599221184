// Low-level writers shared by the encoders. Every encoder sizes the packet first, allocates one
// Buffer and writes into it with these; none of them allocates.

import { MAX_VARIABLE_BYTE_INTEGER } from './constants.js';
import { EncodeError } from './errors.js';

/** Bytes a Variable Byte Integer of this value takes (MQTT 5 §1.5.5 Table 1-1). */
export function vbiSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Writes n as a minimal Variable Byte Integer [MQTT-1.5.5-1]; returns the next position. */
export function writeVbi(buf: Buffer, pos: number, n: number): number {
  do {
    let digit = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) digit |= 0x80;
    buf[pos++] = digit;
  } while (n > 0);
  return pos;
}

export function checkRemainingLength(length: number, what: string): void {
  if (length > MAX_VARIABLE_BYTE_INTEGER) {
    throw new EncodeError(
      `${what}: Remaining Length ${length} exceeds ${MAX_VARIABLE_BYTE_INTEGER} (MQTT 5 §1.5.5)`,
    );
  }
}

/** UTF-8 byte length of a string field, refusing what a Two Byte length cannot describe. */
export function stringSize(s: string, field: string): number {
  if (typeof s !== 'string') throw new EncodeError(`${field} must be a string, got ${typeof s}`);
  const n = Buffer.byteLength(s, 'utf8');
  if (n > 0xffff) throw new EncodeError(`${field} is ${n} bytes; a UTF-8 string holds at most 65535 (MQTT 5 §1.5.4)`);
  return n;
}

export function binarySize(b: Buffer, field: string): number {
  if (!Buffer.isBuffer(b)) throw new EncodeError(`${field} must be a Buffer`);
  if (b.length > 0xffff) throw new EncodeError(`${field} is ${b.length} bytes; Binary Data holds at most 65535 (MQTT 5 §1.5.6)`);
  return b.length;
}

export function writeU16(buf: Buffer, pos: number, n: number): number {
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  return pos + 2;
}

/** Two Byte length, then the UTF-8 bytes; returns the next position. */
export function writeUtf8(buf: Buffer, pos: number, s: string): number {
  const n = buf.write(s, pos + 2, 'utf8');
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  return pos + 2 + n;
}

/** Two Byte length, then the bytes; returns the next position. */
export function writeBinary(buf: Buffer, pos: number, b: Buffer): number {
  const n = b.length;
  buf[pos] = n >>> 8;
  buf[pos + 1] = n & 0xff;
  b.copy(buf, pos + 2);
  return pos + 2 + n;
}

export function checkU16(n: unknown, field: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw new EncodeError(`${field} must be an integer 0..65535, got ${String(n)}`);
  }
  return n;
}

export function checkPacketId(n: unknown, what: string): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 0xffff) {
    throw new EncodeError(`${what} messageId must be an integer 1..65535, got ${String(n)} [MQTT-2.2.1-3]`);
  }
  return n;
}
