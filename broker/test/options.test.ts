// Behaviour chosen by config: shared subscription strategies, QoS 0 queueing for offline
// sessions, maximum QoS, retain and wildcard availability.

import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { RawClient, connectClient, endClient, startTestBroker, waitFor, type TestBroker } from './helpers.js';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket, ISubackPacket } from '../mqtt/packets.js';

let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.stop();
  broker = undefined;
});

function collect(c: MqttClient): string[] {
  const got: string[] = [];
  c.on('message', (_t, p) => got.push(p.toString()));
  return got;
}

async function sharedRun(strategy: string): Promise<number[]> {
  broker = await startTestBroker([`shared_subscription.strategy=${strategy}`]);
  const url = broker.url('mqtt');
  const members = await Promise.all([0, 1, 2].map(() => connectClient(url)));
  const got = members.map(collect);
  for (const m of members) await m.subscribeAsync('$share/g/strategy', { qos: 1 });
  const pub = await connectClient(url);
  for (let i = 0; i < 60; i++) await pub.publishAsync('strategy', String(i), { qos: 1 });
  await waitFor(() => got.reduce((n, g) => n + g.length, 0) === 60, '60 deliveries');
  for (const c of [...members, pub]) await endClient(c);
  return got.map((g) => g.length);
}

describe('config-driven behaviour', () => {
  it('shared_subscription.strategy = sticky sends every message to one member', async () => {
    const counts = await sharedRun('sticky');
    expect(counts.sort((a, b) => a - b)).toEqual([0, 0, 60]);
  });

  it('shared_subscription.strategy = random spreads messages, each to exactly one member', async () => {
    const counts = await sharedRun('random');
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    expect(counts.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('offline_message.queue_qos0 = true queues QoS 0 messages for offline sessions', async () => {
    broker = await startTestBroker(['offline_message.queue_qos0=true']);
    const port = broker.port('mqtt-tcp');
    const c = await RawClient.connect(port, 4);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 60, clientId: 'q0' } as never);
    await c.next('connack');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'q0/t', qos: 0 }] } as never);
    await c.next('suback');
    c.close();
    await waitFor(() => broker!.broker.sessions.get('q0')?.conn === null, 'offline');
    const pub = await connectClient(broker.url('mqtt'));
    await pub.publishAsync('q0/t', 'kept', { qos: 0 });
    await endClient(pub);
    await waitFor(() => broker!.broker.sessions.get('q0')!.queued === 1, 'queued');
    const again = await RawClient.connect(port, 4);
    again.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, keepalive: 60, clientId: 'q0' } as never);
    expect(((await again.next('connack')) as IConnackPacket).sessionPresent).toBe(true);
    const p = (await again.next('publish')) as IPublishPacket;
    expect([p.payload.toString(), p.qos]).toEqual(['kept', 0]);
    again.close();
  });

  it('mqtt.max_qos = 1: subscriptions are granted at most QoS 1 and a QoS 2 PUBLISH is refused with 0x9B', async () => {
    broker = await startTestBroker(['mqtt.max_qos=1']);
    const c = await RawClient.connect(broker.port('mqtt-tcp'), 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'mq' } as never, 5);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.properties?.maximumQoS).toBe(1);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'mq', qos: 2 }] } as never, 5);
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([1]);
    c.send({ cmd: 'publish', topic: 'mq', payload: Buffer.from('x'), qos: 2, dup: false, retain: false, messageId: 5 } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x9b);
  });

  it('retain and wildcard subscriptions can be turned off, and CONNACK says so', async () => {
    broker = await startTestBroker(['mqtt.retain_available=false', 'mqtt.wildcard_subscription_available=false', 'mqtt.shared_subscription_available=false']);
    const c = await RawClient.connect(broker.port('mqtt-tcp'), 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'ra' } as never, 5);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.properties?.retainAvailable).toBe(false);
    expect(ack.properties?.wildcardSubscriptionAvailable).toBe(false);
    expect(ack.properties?.sharedSubscriptionAvailable).toBe(false);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#', qos: 0 }, { topic: '$share/g/a', qos: 0 }, { topic: 'a/b', qos: 0 }] } as never, 5);
    expect(((await c.next('suback')) as ISubackPacket).granted).toEqual([0xa2, 0x9e, 0]);
    c.send({ cmd: 'publish', topic: 'a', payload: Buffer.from('x'), qos: 0, dup: false, retain: true } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x9a);
  });

  it('mqtt.server_keep_alive overrides the client keep alive and CONNACK says so', async () => {
    broker = await startTestBroker(['mqtt.server_keep_alive=7']);
    const c = await RawClient.connect(broker.port('mqtt-tcp'), 5);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: 'ska' } as never, 5);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.properties?.serverKeepAlive).toBe(7);
    expect([...broker.broker.connections][0]!.keepaliveMs).toBe(7000);
    c.close();
  });
});
