// Shared test helpers: parse-all wrappers for our parser and for the mqtt-packet oracle, and a
// normal form for comparing packet objects from either.

import mqttPacket from 'mqtt-packet';
import type { Packet as OraclePacket } from 'mqtt-packet';
import { MqttParser } from '../index.js';
import type { CodecError, Packet, ProtocolVersion } from '../index.js';

/** fast-check seed: fixed for deterministic CI, overridable with FC_SEED to replay a failure. */
export const SEED = process.env.FC_SEED !== undefined ? Number(process.env.FC_SEED) : 0x5eed_c0de;

export interface ParseResult {
  packets: Packet[];
  error: CodecError | null;
}

/** Parses `chunks` in order with one parser; stops at the first error. */
export function parseChunks(chunks: Buffer[], version?: ProtocolVersion, maxPacketSize = 1 << 24): ParseResult {
  const parser = new MqttParser({ maxPacketSize });
  parser.protocolVersion = version;
  const packets: Packet[] = [];
  let error: CodecError | null = null;
  for (const c of chunks) {
    error = parser.parse(c, (p) => packets.push(p));
    if (error !== null) break;
  }
  return { packets, error };
}

export function parseAll(buf: Buffer, version?: ProtocolVersion, maxPacketSize?: number): ParseResult {
  return parseChunks([buf], version, maxPacketSize);
}

/** Parses one packet with mqtt-packet's parser (the oracle); throws on its errors. */
export function oracleParse(buf: Buffer, version: ProtocolVersion): unknown[] {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: unknown[] = [];
  let failure: unknown = null;
  parser.on('packet', (p: unknown) => out.push(p));
  parser.on('error', (e: unknown) => {
    failure = e;
  });
  parser.parse(buf);
  if (failure !== null) throw failure instanceof Error ? failure : new Error(String(failure));
  return out;
}

export function oracleGenerate(packet: Packet, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet as unknown as OraclePacket, { protocolVersion: version });
}

const MQTT_PACKET_DEFAULTS = ['retain', 'qos', 'dup', 'topic', 'payload'];

/**
 * Normal form for deep comparison: Buffers become hex strings, objects (of any prototype, so the
 * null-prototype userProperties and '__proto__' keys compare correctly) become sorted
 * [key, value] lists without undefined values. mqtt-packet's parser adds `length` to every packet
 * and retain/qos/dup/topic/payload defaults to non-PUBLISH packets; those are dropped.
 */
export function normalize(value: unknown, top = true): unknown {
  if (Buffer.isBuffer(value)) return `hex:${value.toString('hex')}`;
  if (Array.isArray(value)) return value.map((v) => normalize(v, false));
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const isPublish = obj.cmd === 'publish';
    const entries: [string, unknown][] = [];
    for (const key of Object.getOwnPropertyNames(obj).sort()) {
      const v = obj[key];
      if (v === undefined) continue;
      if (top && key === 'length') continue;
      if (top && !isPublish && typeof obj.cmd === 'string' && MQTT_PACKET_DEFAULTS.includes(key)) continue;
      entries.push([key, normalize(v, false)]);
    }
    return entries;
  }
  return value;
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
