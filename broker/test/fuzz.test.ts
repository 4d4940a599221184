// Bad input never takes the broker down: random and mutated byte streams on real sockets. After
// each stream the broker still serves a sentinel client, and no connection leaks.
// Seed: FC_SEED (default fixed, so CI is reproducible); fast-check prints seed and path on failure.

import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { encode } from '../mqtt/codec/index.js';
import type { Packet } from '../mqtt/packets.js';
import { connectClient, endClient, startTestBroker, waitFor, type TestBroker } from './helpers.js';

const seed = Number(process.env.FC_SEED ?? 20261126);
let broker: TestBroker;
let sentinelSub: MqttClient;
let sentinelPub: MqttClient;
const received: string[] = [];
beforeAll(async () => {
  broker = await startTestBroker(['mqtt.max_packet_size=65536', 'mqtt.connect_timeout=2s']);
  sentinelSub = await connectClient(broker.url('mqtt'), { clientId: 'sentinel-sub', protocolVersion: 5 });
  sentinelSub.on('message', (_t, p) => received.push(p.toString()));
  await sentinelSub.subscribeAsync('sentinel/#', { qos: 1 });
  sentinelPub = await connectClient(broker.url('mqtt'), { clientId: 'sentinel-pub' });
});
afterAll(async () => {
  await endClient(sentinelPub, true);
  await endClient(sentinelSub, true);
  await broker.stop();
});

const valid: Packet[] = [
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 10, clientId: 'fz', properties: { sessionExpiryInterval: 5, receiveMaximum: 10 }, will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: false, properties: { willDelayInterval: 0 } } },
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 10, clientId: 'fz4', username: 'u', password: Buffer.from('p') },
  { cmd: 'publish', topic: 'fz/a', payload: Buffer.from('hello'), qos: 1, dup: false, retain: true, messageId: 3, properties: { userProperties: { k: 'v' }, topicAlias: 2 } },
  { cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'fz/#', qos: 2, nl: false, rap: true, rh: 1 }], properties: { subscriptionIdentifier: 9 } },
  { cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['fz/#'] },
  { cmd: 'pubrel', messageId: 3 },
  { cmd: 'pingreq' },
  { cmd: 'disconnect', reasonCode: 4 },
];
const encodedV5 = valid.map((p) => encode(p as never, (p.cmd === 'connect' ? p.protocolVersion : 5) as 4 | 5));

const mutatedStream = fc.tuple(
  fc.array(fc.constantFrom(...encodedV5.keys()), { minLength: 1, maxLength: 6 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete', 'truncate')), { maxLength: 4 }),
).map(([order, edits]) => {
  const bytes = [...Buffer.concat([encodedV5[0]!, ...order.map((i) => encodedV5[i]!)])];
  for (const [pos, value, kind] of edits) {
    const at = pos % Math.max(1, bytes.length);
    if (kind === 'flip') bytes[at] = value;
    else if (kind === 'insert') bytes.splice(at, 0, value);
    else if (kind === 'delete') bytes.splice(at, 1);
    else bytes.length = at;
  }
  return Buffer.from(bytes);
});
const randomStream = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a));

async function sendAndClose(bytes: Buffer): Promise<void> {
  const sock = net.connect(broker.port('mqtt-tcp'), '127.0.0.1');
  sock.on('error', () => undefined);
  sock.on('data', () => undefined);
  await new Promise((r) => sock.once('connect', r));
  // Split at an arbitrary point so partial packets are exercised too.
  const cut = bytes.length >> 1;
  sock.write(bytes.subarray(0, cut));
  await new Promise((r) => setImmediate(r));
  sock.write(bytes.subarray(cut));
  await new Promise((r) => setTimeout(r, 2));
  sock.destroy();
}

let probe = 0;
async function brokerStillServes(): Promise<void> {
  const msg = `probe-${++probe}`;
  await sentinelPub.publishAsync('sentinel/x', msg, { qos: 1 });
  await waitFor(() => received.includes(msg), `sentinel message ${msg}`);
}

describe('fuzz', () => {
  it(`mutated and random packet streams never crash the broker nor leak connections (seed ${seed})`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutatedStream, randomStream), async (bytes) => {
        await sendAndClose(bytes);
        await brokerStillServes();
      }),
      { seed, numRuns: 300 },
    );
    // Everything the fuzzer opened is gone: only the two sentinels remain.
    await waitFor(() => broker.broker.connections.size === 2, 'fuzz connections closed', 10_000);
    expect([...broker.broker.connections].map((c) => c.clientId).sort()).toEqual(['sentinel-pub', 'sentinel-sub']);
  }, 120_000);
});
