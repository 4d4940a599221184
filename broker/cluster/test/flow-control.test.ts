// Flow control across brokers: a subscriber on broker 2 that reads slower than a publisher on
// broker 1 writes holds the inter-broker link as a local publisher would be held, so broker 1
// pauses its publisher instead of broker 2 dropping QoS 0 messages past the subscriber's buffer.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../mqtt/codec/index.js';
import { MqttParser } from '../../mqtt/codec/index.js';
import { uid, waitFor } from '../../test/helpers.js';
import { startTestCluster, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster(2);
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

describe('flow control across brokers', () => {
  it('a slow subscriber on the other broker loses no QoS 0 message: the publisher is held instead', async () => {
    const [b1, b2] = cluster.brokers;
    const topic = `flow/${uid()}`;
    const total = 20_000;
    const payload = Buffer.alloc(1024, 7);

    // The subscriber reads in short bursts: far slower than the publisher writes (20 MB), far
    // faster than the slow-consumer threshold (64 KiB/s).
    const sub = net.connect(b2!.port('mqtt-tcp'), '127.0.0.1');
    await new Promise((r) => sub.once('connect', r));
    const parser = new MqttParser({ maxPacketSize: 1 << 20 });
    parser.protocolVersion = 4;
    let received = 0;
    sub.on('data', (chunk: Buffer) => parser.parse(chunk, (p) => { if ((p as { cmd: string }).cmd === 'publish') received++; }));
    sub.write(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: `slow-${uid()}` }, 4));
    sub.write(encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }, 4));
    await waitFor(() => b1!.cluster!.routes.match(topic).brokers.includes(2), 'broker 1 routes to broker 2');
    const pacer = setInterval(() => {
      sub.pause();
      setTimeout(() => sub.resume(), 40);
    }, 50);

    const pub = net.connect(b1!.port('mqtt-tcp'), '127.0.0.1');
    await new Promise((r) => pub.once('connect', r));
    pub.on('data', () => undefined);
    pub.write(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: `fast-${uid()}` }, 4));
    const packet = encode({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false } as never, 4);
    const chunk = Buffer.concat(Array.from({ length: 100 }, () => packet));
    try {
      for (let i = 0; i < total / 100; i++) {
        if (!pub.write(chunk)) await new Promise((r) => pub.once('drain', r));
      }
      await waitFor(() => received === total, `all ${total} messages reach the slow subscriber`, 60_000);
    } finally {
      clearInterval(pacer);
      sub.resume();
    }
    const s2 = b2!.broker.stats;
    expect(s2.dropped + s2.droppedSlow).toBe(0);
    expect(s2.slowConsumers).toBe(0);
    pub.destroy();
    sub.destroy();
  }, 90_000);
});
