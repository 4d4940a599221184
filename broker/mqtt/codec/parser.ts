// Incremental MQTT packet parser: feed it socket chunks of any size, it calls back once per
// complete packet. It keeps only the fixed-header state between chunks, plus the body bytes of a
// packet that spans chunks; a body that fits in the chunk is decoded in place.

import { CMD_BY_TYPE, MAX_PACKET_SIZE, NAME_BY_TYPE, PacketType, REQUIRED_FLAGS } from './constants.js';
import { decodeBody } from './decoder.js';
import { codecError, DecodeFailure } from './errors.js';
import type { CodecError, CodecErrorKind } from './errors.js';
import type { Packet, ProtocolVersion } from './packets.js';

export interface MqttParserOptions {
  /** Largest packet accepted, in bytes, fixed header included. */
  maxPacketSize: number;
}

const EMPTY = Buffer.alloc(0);

export class MqttParser {
  /**
   * Learned from the first CONNECT parsed (the broker may also set it). Until then every other
   * packet is parsed with the MQTT 3.1.1 rules, so the caller can see and reject it.
   */
  protocolVersion: ProtocolVersion | undefined = undefined;
  /** Largest packet accepted, fixed header included; checked before a body is buffered. */
  maxPacketSize: number;

  private error: CodecError | null = null;
  /** Byte 1 of the fixed header of the packet being read, or -1 before it arrives. */
  private first = -1;
  private lengthValue = 0;
  private lengthMultiplier = 1;
  private lengthBytes = 0;
  /** Remaining Length once fully read, else -1. */
  private bodyLength = -1;
  /** Body bytes collected so far, when the body spans chunks. */
  private body: Buffer | null = null;
  private bodyFilled = 0;

  constructor(opts: MqttParserOptions) {
    const max = opts.maxPacketSize;
    if (!Number.isInteger(max) || max < 2) {
      throw new RangeError(`maxPacketSize must be an integer >= 2, got ${String(max)}`);
    }
    this.maxPacketSize = Math.min(max, MAX_PACKET_SIZE);
  }

  /**
   * Feeds a chunk; calls onPacket for each complete packet, in order. Returns null, or the first
   * error (after which the parser is dead and returns that error again; the caller closes the
   * connection). Resumes across any chunk split. Exceptions thrown by onPacket propagate.
   */
  parse(chunk: Buffer, onPacket: (p: Packet) => void): CodecError | null {
    if (this.error !== null) return this.error;
    const n = chunk.length;
    let pos = 0;
    while (pos < n) {
      if (this.first < 0) {
        const b = chunk[pos++];
        const err = this.checkFirstByte(b);
        if (err !== null) return this.fail(err);
        this.first = b;
        continue;
      }
      if (this.bodyLength < 0) {
        const b = chunk[pos++];
        this.lengthValue += (b & 0x7f) * this.lengthMultiplier;
        this.lengthBytes++;
        if (b & 0x80) {
          if (this.lengthBytes === 4) {
            return this.failWith('malformed', `${this.packetName()} Remaining Length is longer than four bytes (MQTT 5 §1.5.5, MQTT 3.1.1 §2.2.3)`);
          }
          this.lengthMultiplier *= 128;
          continue;
        }
        if (b === 0 && this.lengthBytes > 1) {
          return this.failWith('malformed', `[MQTT-1.5.5-1] ${this.packetName()} Remaining Length is not minimally encoded (${this.lengthBytes} bytes ending in 0x00)`);
        }
        this.bodyLength = this.lengthValue;
        const size = 1 + this.lengthBytes + this.bodyLength;
        if (size > this.maxPacketSize) {
          return this.failWith(
            'packet_too_large',
            `${this.packetName()} of ${size} bytes exceeds the Maximum Packet Size of ${this.maxPacketSize} bytes ` +
              '(MQTT 5 §3.2.2.3.6: Reason Code 0x95)',
          );
        }
        if (this.bodyLength === 0) {
          const err = this.finish(EMPTY, 0, 0, true, onPacket);
          if (err !== null) return err;
        }
        continue;
      }
      if (this.body === null) {
        if (n - pos >= this.bodyLength) {
          // Whole body in this chunk: decode in place; Binary Data is copied out of the chunk.
          const start = pos;
          pos += this.bodyLength;
          const err = this.finish(chunk, start, pos, false, onPacket);
          if (err !== null) return err;
          continue;
        }
        // Bounded by maxPacketSize, which was checked above.
        this.body = Buffer.allocUnsafe(this.bodyLength);
        this.bodyFilled = 0;
      }
      const take = Math.min(this.bodyLength - this.bodyFilled, n - pos);
      chunk.copy(this.body, this.bodyFilled, pos, pos + take);
      this.bodyFilled += take;
      pos += take;
      if (this.bodyFilled === this.bodyLength) {
        const err = this.finish(this.body, 0, this.bodyLength, true, onPacket);
        if (err !== null) return err;
      }
    }
    return null;
  }

  /** Validates byte 1 of the fixed header: packet type and its flags. */
  private checkFirstByte(b: number): CodecError | null {
    const type = b >> 4;
    const flags = b & 0x0f;
    const v = this.protocolVersion ?? 4;
    if (type === 0) {
      return codecError('malformed', 'Control Packet type 0 is reserved and forbidden (MQTT 5 §2.1.2, MQTT 3.1.1 §2.2.1)');
    }
    const cmd = CMD_BY_TYPE[type];
    const name = NAME_BY_TYPE[type];
    if (type === PacketType.AUTH && v !== 5) {
      return codecError('malformed', 'Control Packet type 15 (AUTH) is reserved and forbidden before MQTT 5 (MQTT 3.1.1 §2.2.1)', cmd);
    }
    if (type === PacketType.PUBLISH) {
      const qos = (flags >> 1) & 0x03;
      if (qos === 3) return codecError('malformed', '[MQTT-3.3.1-4] PUBLISH must not have both QoS bits set to 1', cmd);
      if (qos === 0 && flags & 0x08) return codecError('malformed', '[MQTT-3.3.1-2] PUBLISH with QoS 0 must not set DUP', cmd);
      return null;
    }
    // MQTT 3.1 says these bits are "not used" in most packets, and lets PUBREL, SUBSCRIBE and
    // UNSUBSCRIBE carry DUP on retransmission, so only 3.1.1 and 5 enforce them.
    if (flags !== REQUIRED_FLAGS[type] && v !== 3) {
      const ids = v === 5 ? '[MQTT-2.1.3-1]' : '[MQTT-2.2.2-1] [MQTT-2.2.2-2]';
      return codecError(
        'malformed',
        `${ids} ${name} fixed header flags are reserved and must be 0x${REQUIRED_FLAGS[type].toString(16)}, got 0x${flags.toString(16)}`,
        cmd,
      );
    }
    return null;
  }

  private packetName(): string {
    return NAME_BY_TYPE[this.first >> 4];
  }

  /** Decodes one complete body, resets the framing state and hands the packet over. */
  private finish(buf: Buffer, start: number, end: number, owned: boolean, onPacket: (p: Packet) => void): CodecError | null {
    const type = this.first >> 4;
    const flags = this.first & 0x0f;
    this.first = -1;
    this.lengthValue = 0;
    this.lengthMultiplier = 1;
    this.lengthBytes = 0;
    this.bodyLength = -1;
    this.body = null;
    let packet: Packet;
    try {
      packet = decodeBody(type, flags, buf, start, end, owned, this.protocolVersion ?? 4);
    } catch (e) {
      if (e instanceof DecodeFailure) return this.fail(e.error);
      throw e;
    }
    if (packet.cmd === 'connect' && this.protocolVersion === undefined) {
      this.protocolVersion = packet.protocolVersion;
    }
    onPacket(packet);
    return null;
  }

  private failWith(kind: CodecErrorKind, message: string): CodecError {
    return this.fail(codecError(kind, message, CMD_BY_TYPE[this.first >> 4]));
  }

  private fail(err: CodecError): CodecError {
    this.error = err;
    this.body = null;
    return err;
  }
}
