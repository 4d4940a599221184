// Micro-benchmark (not a test): packets/s for parsing a PUBLISH stream and for encodePublish,
// ours against mqtt-packet. Run: npm run build && node dist/broker/mqtt/codec/bench-codec.js

import mqttPacket from 'mqtt-packet';
import type { Packet as OraclePacket } from 'mqtt-packet';
import { encodePublish, MqttParser } from './index.js';
import type { ProtocolVersion, PublishProperties } from './index.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 1000);

function measure(label: string, perIteration: number, fn: () => void): number {
  // Warm up, then count iterations for DURATION_MS.
  const warmEnd = performance.now() + DURATION_MS / 4;
  while (performance.now() < warmEnd) fn();
  let iterations = 0;
  const start = performance.now();
  let now = start;
  while (now - start < DURATION_MS) {
    fn();
    iterations++;
    now = performance.now();
  }
  const rate = (iterations * perIteration) / ((now - start) / 1000);
  console.log(`${label.padEnd(52)} ${Math.round(rate).toLocaleString('en-US').padStart(14)} packets/s`);
  return rate;
}

function publishFor(v: ProtocolVersion, payloadSize: number): {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 1;
  retain: false;
  dup: false;
  messageId: number;
  properties?: PublishProperties;
} {
  return {
    cmd: 'publish',
    topic: 'bench/sensors/room-42/temperature',
    payload: Buffer.alloc(payloadSize, 0x61),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 4242,
    ...(v === 5 ? { properties: { messageExpiryInterval: 60, userProperties: { source: 'bench' } } } : {}),
  };
}

function chunked(stream: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < stream.length; i += size) out.push(stream.subarray(i, i + size));
  return out;
}

function benchVersion(v: ProtocolVersion, payloadSize: number): void {
  console.log(`\nMQTT ${v === 5 ? '5.0' : '3.1.1'}, PUBLISH QoS 1, ${payloadSize}-byte payload`);
  const p = publishFor(v, payloadSize);
  const one = encodePublish(p, v);
  const count = 2000;
  const chunks = chunked(Buffer.concat(new Array<Buffer>(count).fill(one)), 65_536);

  let sink = 0;
  const ours = measure('parse   ours (MqttParser)', count, () => {
    const parser = new MqttParser({ maxPacketSize: 1 << 20 });
    parser.protocolVersion = v;
    for (const c of chunks) parser.parse(c, () => sink++);
  });
  const theirs = measure('parse   mqtt-packet parser', count, () => {
    const parser = mqttPacket.parser({ protocolVersion: v });
    parser.on('packet', () => sink++);
    for (const c of chunks) parser.parse(c);
  });
  console.log(`${'parse   speed-up'.padEnd(52)} ${(ours / theirs).toFixed(2).padStart(14)} x`);

  const batch = 1000;
  const encOurs = measure('encode  ours (encodePublish)', batch, () => {
    for (let i = 0; i < batch; i++) sink += encodePublish(p, v).length;
  });
  const encTheirs = measure('encode  mqtt-packet generate', batch, () => {
    for (let i = 0; i < batch; i++) sink += mqttPacket.generate(p as unknown as OraclePacket, { protocolVersion: v }).length;
  });
  console.log(`${'encode  speed-up'.padEnd(52)} ${(encOurs / encTheirs).toFixed(2).padStart(14)} x`);
  if (sink === -1) console.log('unreachable');
}

console.log(`codec micro-benchmark (node ${process.version}, ${DURATION_MS} ms per measurement)`);
benchVersion(4, 64);
benchVersion(5, 64);
benchVersion(4, 4096);
