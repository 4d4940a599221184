import { BenchError } from './errors.js';

/**
 * Called once per complete MQTT control packet. `buf[start, end)` is the variable header and
 * payload, `buf[frameStart, end)` the whole packet. No copy and no object is made per packet,
 * which keeps the receive path cheap enough for the generator to out-run the brokers it measures.
 */
export type FrameHandler = (
  buf: Buffer,
  type: number,
  flags: number,
  start: number,
  end: number,
  frameStart: number,
) => void;

/** The remaining-length field is at most 4 bytes [MQTT-2.2.3]. */
const MAX_VARINT_BYTES = 4;

/**
 * Splits a TCP byte stream into MQTT frames, resuming across chunk boundaries. Bytes of an
 * incomplete frame are kept; chunks are joined only once the whole frame has arrived, so a large
 * frame split into many chunks costs one copy, not one per chunk.
 */
export class FrameReader {
  private readonly onFrame: FrameHandler;
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Bytes needed before the kept parts can hold one complete frame (0 = unknown yet). */
  private needed = 0;

  constructor(onFrame: FrameHandler) {
    this.onFrame = onFrame;
  }

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.partsLen;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.partsLen > 0) {
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      if (this.needed > 0 && this.partsLen < this.needed) return;
      buf = Buffer.concat(this.parts, this.partsLen);
      this.parts = [];
      this.partsLen = 0;
      this.needed = 0;
    }
    const len = buf.length;
    let pos = 0;
    while (pos < len) {
      if (len - pos < 2) break;
      const b0 = buf[pos];
      let i = pos + 1;
      let mul = 1;
      let remaining = 0;
      let complete = false;
      for (let n = 0; n < MAX_VARINT_BYTES && i < len; n++) {
        const b = buf[i++];
        remaining += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - pos - 1 >= MAX_VARINT_BYTES) {
          throw new BenchError('BENCH_MALFORMED_PACKET', 'remaining length longer than 4 bytes [MQTT-2.2.3]');
        }
        this.keep(buf, pos, 0);
        return;
      }
      const end = i + remaining;
      if (end > len) {
        this.keep(buf, pos, end - pos);
        return;
      }
      this.onFrame(buf, b0 >> 4, b0 & 0x0f, i, end, pos);
      pos = end;
    }
    if (pos < len) this.keep(buf, pos, 0);
  }

  private keep(buf: Buffer, from: number, needed: number): void {
    const rest = buf.subarray(from);
    this.parts = [rest];
    this.partsLen = rest.length;
    this.needed = needed;
  }
}
