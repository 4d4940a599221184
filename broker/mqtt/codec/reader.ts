// Bounds-checked reading of one packet body. Every read names its field, so a short or
// inconsistent packet fails with a message that says which declared length did not add up.

import { cite, codecError, DecodeFailure } from './errors.js';
import type { CodecErrorKind } from './errors.js';
import type { ProtocolVersion } from './packets.js';
import { decodeMqttString, UTF8_NUL } from './utf8.js';

export class Reader {
  pos: number;
  /** Exclusive limit; narrowed temporarily while a property block is read. */
  end: number;

  /**
   * @param owned true when `buf` was allocated for this packet alone, so Binary Data can be
   *   returned as views; false when it is the caller's chunk, so Binary Data is copied and the
   *   packet does not pin the chunk's memory.
   */
  constructor(
    readonly buf: Buffer,
    start: number,
    end: number,
    readonly version: ProtocolVersion,
    /** Upper-case packet name for messages, e.g. 'PUBLISH'. */
    readonly name: string,
    /** cmd of the packet, reported as CodecError.packetType. */
    readonly cmd: string,
    readonly owned: boolean,
  ) {
    this.pos = start;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  fail(kind: CodecErrorKind, message: string): never {
    throw new DecodeFailure(codecError(kind, message, this.cmd));
  }

  malformed(message: string): never {
    return this.fail('malformed', message);
  }

  protocolError(message: string): never {
    return this.fail('protocol_error', message);
  }

  private short(field: string, need: number): never {
    const left = this.end - this.pos;
    return this.malformed(
      `${this.name} ${field}: needs ${need} byte${need === 1 ? '' : 's'} but only ${left} ` +
        `remain${left === 1 ? 's' : ''} of the declared length (${this.lengthSection()})`,
    );
  }

  /** Section that defines the length the read ran past. */
  private lengthSection(): string {
    return this.version === 5 ? 'MQTT 5 §2.1.4 Remaining Length' : 'MQTT 3.1.1 §2.2.3 Remaining Length';
  }

  u8(field: string): number {
    if (this.pos >= this.end) this.short(field, 1);
    return this.buf[this.pos++];
  }

  u16(field: string): number {
    const p = this.pos;
    if (this.end - p < 2) this.short(field, 2);
    this.pos = p + 2;
    return (this.buf[p] << 8) | this.buf[p + 1];
  }

  u32(field: string): number {
    const p = this.pos;
    if (this.end - p < 4) this.short(field, 4);
    this.pos = p + 4;
    return this.buf.readUInt32BE(p);
  }

  /** Variable Byte Integer: at most four bytes, minimally encoded [MQTT-1.5.5-1]. */
  vbi(field: string): number {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(field);
      value += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) {
          this.malformed(
            `[MQTT-1.5.5-1] ${this.name} ${field}: Variable Byte Integer is not minimally encoded ` +
              `(${i + 1} bytes ending in 0x00)`,
          );
        }
        return value;
      }
      mul *= 128;
    }
    return this.malformed(
      `${this.name} ${field}: Variable Byte Integer is longer than four bytes (MQTT 5 §1.5.5)`,
    );
  }

  /** Reads the Two Byte length of a string or binary field and checks it fits. */
  private fieldLength(field: string, kind: string): number {
    const p = this.pos;
    if (this.end - p < 2) this.short(`${field} length`, 2);
    const len = (this.buf[p] << 8) | this.buf[p + 1];
    this.pos = p + 2;
    if (this.end - this.pos < len) {
      this.malformed(
        `${this.name} ${field}: declared ${kind} length ${len} exceeds the ${this.end - this.pos} ` +
          `bytes left (${this.lengthSection()})`,
      );
    }
    return len;
  }

  /** UTF-8 Encoded String: Two Byte length, then well-formed UTF-8 without U+0000. */
  utf8(field: string): string {
    const len = this.fieldLength(field, 'string');
    const start = this.pos;
    const s = decodeMqttString(this.buf, start, start + len);
    if (typeof s !== 'string') {
      if (s === UTF8_NUL) {
        this.malformed(
          `${cite(this.version, '[MQTT-1.5.4-2]', '[MQTT-1.5.3-2]')} ${this.name} ${field} ` +
            'contains the null character U+0000',
        );
      }
      this.malformed(
        `${cite(this.version, '[MQTT-1.5.4-1]', '[MQTT-1.5.3-1]')} ${this.name} ${field} ` +
          'is not well-formed UTF-8',
      );
    }
    this.pos = start + len;
    return s;
  }

  /** Binary Data: Two Byte length, then that many bytes (MQTT 5 §1.5.6). */
  binary(field: string): Buffer {
    const len = this.fieldLength(field, 'binary');
    const start = this.pos;
    this.pos = start + len;
    return this.slice(start, start + len);
  }

  /** Everything up to the end of the packet (the PUBLISH payload). */
  rest(): Buffer {
    const start = this.pos;
    this.pos = this.end;
    return this.slice(start, this.end);
  }

  /** The packet must end exactly here; bytes after its last field mean its lengths disagree. */
  expectEnd(what: string): void {
    const left = this.end - this.pos;
    if (left !== 0) {
      this.malformed(
        `${this.name} has ${left} unexpected byte${left === 1 ? '' : 's'} after ${what}: the Remaining ` +
          `Length does not match its fields (${this.lengthSection()})`,
      );
    }
  }

  private slice(start: number, end: number): Buffer {
    if (this.owned) return this.buf.subarray(start, end);
    const out = Buffer.allocUnsafe(end - start);
    this.buf.copy(out, 0, start, end);
    return out;
  }
}
