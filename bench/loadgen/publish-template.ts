import mqttPacket from 'mqtt-packet';
import type { QoS } from 'mqtt-packet';
import { BenchError } from './errors.js';

/**
 * Bench payload layout (little endian), so any receiver can check order, loss and latency:
 *   [0, 4)  sequence number of the message within its publisher
 *   [4, 8)  publisher index
 *   [8, 16) send time, performance.now() in ms (float64); same process clock on both ends
 * The rest is filler up to the requested payload size.
 */
export const PAYLOAD_SEQ = 0;
export const PAYLOAD_PUBLISHER = 4;
export const PAYLOAD_SENT_AT = 8;
export const MIN_PAYLOAD = 16;

export interface PublishTemplate {
  readonly bytes: Buffer;
  readonly qos: QoS;
  /** Offset of the 2-byte packet identifier, -1 at QoS 0. */
  readonly packetIdOffset: number;
  readonly payloadOffset: number;
  readonly payloadSize: number;
}

/**
 * Encodes one PUBLISH with mqtt-packet (the reference encoder) and records where the fields the
 * hot path patches in place live, so the generator never encodes a packet per message.
 */
export function makePublishTemplate(topic: string, qos: QoS, payloadSize: number, retain = false): PublishTemplate {
  if (!Number.isInteger(payloadSize) || payloadSize < MIN_PAYLOAD) {
    throw new BenchError('BENCH_USAGE', `payload size must be an integer >= ${MIN_PAYLOAD}, got ${payloadSize}`);
  }
  const payload = Buffer.alloc(payloadSize, 0x61);
  payload.fill(0, 0, MIN_PAYLOAD);
  const bytes = mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload,
    qos,
    retain,
    dup: false,
    messageId: qos > 0 ? 1 : undefined,
  });
  const payloadOffset = bytes.length - payloadSize;
  return { bytes, qos, packetIdOffset: qos > 0 ? payloadOffset - 2 : -1, payloadOffset, payloadSize };
}

/** A buffer holding `count` back-to-back copies of the template, written with one syscall. */
export function repeatTemplate(t: PublishTemplate, count: number): Buffer {
  const size = t.bytes.length;
  const out = Buffer.allocUnsafe(size * count);
  for (let i = 0; i < count; i++) t.bytes.copy(out, i * size);
  return out;
}

/** Writes seq, publisher index and send time into the payload of the copy at `base`. */
export function stampPayload(buf: Buffer, t: PublishTemplate, base: number, seq: number, publisher: number, now: number): void {
  const p = base + t.payloadOffset;
  buf.writeUInt32LE(seq >>> 0, p + PAYLOAD_SEQ);
  buf.writeUInt32LE(publisher >>> 0, p + PAYLOAD_PUBLISHER);
  buf.writeDoubleLE(now, p + PAYLOAD_SENT_AT);
}
