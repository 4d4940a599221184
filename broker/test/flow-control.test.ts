// Flow control (README "Overload policy"): a publisher is held while a subscriber drains; a
// subscriber that reads nothing is marked slow, stops holding publishers back, and loses QoS 0
// messages beyond its buffer (counted), while everyone else keeps receiving.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../mqtt/codec/index.js';
import { connectClient, endClient, startTestBroker, waitFor, type TestBroker } from './helpers.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker.stop();
});

/** A client that subscribes and then never reads its socket again. */
async function stuckSubscriber(port: number, topic: string): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write(encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'stuck' }, 4));
  s.write(encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }, 4));
  await waitFor(() => broker.broker.sessions.get('stuck')?.subs.size === 1, 'stuck subscriber subscribed');
  s.pause();
  return s;
}

describe('flow control', () => {
  it('a subscriber that never reads is marked slow; publishers and other subscribers go on', async () => {
    const topic = 'flow/stuck';
    const stuck = await stuckSubscriber(broker.port('mqtt-tcp'), topic);
    const healthy = await connectClient(broker.url('mqtt'));
    let received = 0;
    healthy.on('message', () => received++);
    await healthy.subscribeAsync(topic, { qos: 0 });
    const pub = await connectClient(broker.url('mqtt'));
    const payload = Buffer.alloc(1024, 7);
    // Far more than the stuck client's socket buffers hold: without the slow-consumer rule the
    // publisher would be held forever and the healthy subscriber would stop receiving.
    const total = 12_000;
    let sent = 0;
    const publishing = (async () => {
      while (sent < total) {
        for (let i = 0; i < 200; i++) pub.publish(topic, payload, { qos: 0 });
        sent += 200;
        await new Promise((r) => setImmediate(r));
      }
      await pub.publishAsync(topic, 'last', { qos: 1 });
    })();
    await publishing;
    await waitFor(() => received >= total, 'the healthy subscriber to receive everything', 30_000);
    expect(broker.broker.stats.slowConsumers).toBeGreaterThanOrEqual(1);
    expect(broker.broker.stats.droppedSlow).toBeGreaterThan(0);
    stuck.destroy();
    await endClient(pub);
    await endClient(healthy);
  }, 60_000);
});
