// SUBSCRIBE / UNSUBSCRIBE, subscription options, subscription identifiers, retained messages and
// shared subscriptions.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, collect, connectClient, endClient, rawConnected, startTestBroker, uid, waitFor, type TestBroker } from './helpers.js';
import type { IDisconnectPacket, ISubackPacket, IUnsubackPacket } from '../mqtt/packets.js';

let broker: TestBroker;
let port: number;
let url: string;
beforeAll(async () => {
  broker = await startTestBroker();
  port = broker.port('mqtt-tcp');
  url = broker.url('mqtt');
});
afterAll(async () => {
  await broker.stop();
});

const raw = (version: 4 | 5, fields: Record<string, unknown> = {}): Promise<RawClient> => rawConnected(port, version, fields);


const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 60));

describe('SUBSCRIBE', () => {
  it('grants the requested QoS and answers invalid filters with 0x8F (v5) / 0x80 (v3) [MQTT-3.9.3-2]', async () => {
    const c5 = await raw(5);
    c5.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'ok/+', qos: 2 }, { topic: 'bad/#/x', qos: 1 }, { topic: 'bad+', qos: 0 }] } as never, 5);
    expect(((await c5.next('suback')) as ISubackPacket).granted).toEqual([2, 0x8f, 0x8f]);
    const c4 = await raw(4);
    c4.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'ok/#', qos: 1 }, { topic: 'a/#/b', qos: 1 }] } as never, 4);
    expect(((await c4.next('suback')) as ISubackPacket).granted).toEqual([1, 0x80]);
    c5.close();
    c4.close();
  });

  it('[MQTT-3.8.3-4] No Local on a shared subscription is a protocol error', async () => {
    const c = await raw(5);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '$share/g/x', qos: 0, nl: true }] } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x82);
  });

  it('[MQTT-3.8.4-3] a second SUBSCRIBE to the same filter replaces the first (no duplicate delivery)', async () => {
    const topic = `rep/${uid()}`;
    const c = await connectClient(url, { protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync(topic, { qos: 0 });
    const g = await c.subscribeAsync(topic, { qos: 2 });
    expect(g[0]!.qos).toBe(2);
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'x', { qos: 2 });
    await waitFor(() => got.length === 1, 'delivery');
    await settle();
    expect(got.length).toBe(1);
    expect(got[0]!.packet.qos).toBe(2);
    await endClient(pub);
    await endClient(c);
  });

  it('the delivered QoS is the minimum of publish and subscription QoS', async () => {
    const topic = `minq/${uid()}`;
    const c = await connectClient(url);
    const got = collect(c);
    await c.subscribeAsync(topic, { qos: 1 });
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'a', { qos: 2 });
    await pub.publishAsync(topic, 'b', { qos: 0 });
    await waitFor(() => got.length === 2, 'deliveries');
    expect(got.map((g) => g.packet.qos)).toEqual([1, 0]);
    await endClient(pub);
    await endClient(c);
  });

  it('overlapping subscriptions deliver one copy with every subscription identifier [MQTT-3.3.4-3]', async () => {
    const base = `ids/${uid()}`;
    const c = await connectClient(url, { protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync(`${base}/+`, { qos: 1, properties: { subscriptionIdentifier: 11 } });
    await c.subscribeAsync(`${base}/#`, { qos: 0, properties: { subscriptionIdentifier: 22 } });
    const pub = await connectClient(url);
    await pub.publishAsync(`${base}/x`, 'x', { qos: 1 });
    await waitFor(() => got.length === 1, 'delivery');
    await settle();
    expect(got.length).toBe(1);
    const ids = got[0]!.packet.properties!.subscriptionIdentifier;
    expect(([] as number[]).concat(ids as number | number[]).sort()).toEqual([11, 22]);
    expect(got[0]!.packet.qos).toBe(1);
    await endClient(pub);
    await endClient(c);
  });

  it('No Local: a client does not get its own messages back [MQTT-3.8.3-3]', async () => {
    const topic = `nl/${uid()}`;
    const c = await connectClient(url, { protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync(topic, { qos: 1, nl: true });
    const other = await connectClient(url);
    await c.publishAsync(topic, 'self', { qos: 1 });
    await other.publishAsync(topic, 'other', { qos: 1 });
    await waitFor(() => got.length === 1, 'delivery');
    await settle();
    expect(got.map((g) => g.payload)).toEqual(['other']);
    await endClient(other);
    await endClient(c);
  });

  it('Retain As Published keeps the RETAIN flag on forwarded messages; without it RETAIN is 0 [MQTT-3.3.1-12]', async () => {
    const topic = `rap/${uid()}`;
    const withRap = await connectClient(url, { protocolVersion: 5 });
    const without = await connectClient(url, { protocolVersion: 5 });
    const gRap = collect(withRap);
    const gNo = collect(without);
    await withRap.subscribeAsync(topic, { qos: 1, rap: true });
    await without.subscribeAsync(topic, { qos: 1 });
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'r', { qos: 1, retain: true });
    await waitFor(() => gRap.length === 1 && gNo.length === 1, 'deliveries');
    expect(gRap[0]!.packet.retain).toBe(true);
    expect(gNo[0]!.packet.retain).toBe(false);
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
    for (const c of [withRap, without, pub]) await endClient(c);
  });

  it('UNSUBSCRIBE: 0x00 for a removed subscription, 0x11 when none existed; nothing delivered after', async () => {
    const topic = `uns/${uid()}`;
    const c = await raw(5);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as never, 5);
    await c.next('suback');
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: [topic, 'never/subscribed'] } as never, 5);
    const ack = (await c.next('unsuback')) as IUnsubackPacket;
    expect(ack.messageId).toBe(2);
    expect(ack.granted).toEqual([0x00, 0x11]);
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'x', { qos: 1 });
    await settle();
    expect(c.packets.filter((p) => p.cmd === 'publish')).toEqual([]);
    c.close();
    await endClient(pub);
  });
});

describe('retained messages', () => {
  it('set, replace, deliver on subscribe with RETAIN=1, clear with an empty payload [MQTT-3.3.1-5..10]', async () => {
    const topic = `ret/${uid()}`;
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'first', { qos: 1, retain: true });
    await pub.publishAsync(topic, 'second', { qos: 1, retain: true });
    const c1 = await connectClient(url);
    const g1 = collect(c1);
    await c1.subscribeAsync(`ret/+`.replace('+', topic.split('/')[1]!), { qos: 1 });
    await waitFor(() => g1.length === 1, 'retained delivery');
    expect(g1[0]!.payload).toBe('second');
    expect(g1[0]!.packet.retain).toBe(true);
    await pub.publishAsync(topic, '', { qos: 1, retain: true });
    const c2 = await connectClient(url);
    const g2 = collect(c2);
    await c2.subscribeAsync(topic, { qos: 1 });
    await settle();
    expect(g2).toEqual([]);
    for (const c of [pub, c1, c2]) await endClient(c);
  });

  it('a wildcard subscription receives every matching retained message', async () => {
    const base = `retw/${uid()}`;
    const pub = await connectClient(url);
    for (let i = 0; i < 20; i++) await pub.publishAsync(`${base}/${i}`, String(i), { qos: 0, retain: true });
    await waitFor(() => broker.broker.retained.size >= 20, 'retained stored');
    const c = await connectClient(url);
    const got = collect(c);
    await c.subscribeAsync(`${base}/#`);
    await waitFor(() => got.length === 20, '20 retained messages');
    expect(got.every((g) => g.packet.retain)).toBe(true);
    await endClient(pub);
    await endClient(c);
  });

  it('Retain Handling 1 sends retained messages only for a new subscription, 2 never', async () => {
    const topic = `rh/${uid()}`;
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const c = await connectClient(url, { protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync(topic, { qos: 1, rh: 1 });
    await waitFor(() => got.length === 1, 'first retained');
    await c.subscribeAsync(topic, { qos: 1, rh: 1 });
    await settle();
    expect(got.length).toBe(1);
    const c2 = await connectClient(url, { protocolVersion: 5 });
    const got2 = collect(c2);
    await c2.subscribeAsync(topic, { qos: 1, rh: 2 });
    await settle();
    expect(got2).toEqual([]);
    await c.subscribeAsync(topic, { qos: 1, rh: 0 });
    await waitFor(() => got.length === 2, 'retained again with rh 0');
    for (const x of [pub, c, c2]) await endClient(x);
  });

  it('an expired retained message is not delivered', async () => {
    const topic = `rexp/${uid()}`;
    const pub = await connectClient(url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'short', { qos: 1, retain: true, properties: { messageExpiryInterval: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    const c = await connectClient(url);
    const got = collect(c);
    await c.subscribeAsync(topic);
    await settle();
    expect(got).toEqual([]);
    await endClient(pub);
    await endClient(c);
  });
});

describe('shared subscriptions', () => {
  it('$share/{group}/{filter}: each message to one member, round robin; other groups and plain subscribers get all', async () => {
    const topic = `sh/${uid()}`;
    const members = await Promise.all([0, 1, 2].map(() => connectClient(url, { protocolVersion: 5 })));
    const got = members.map(collect);
    for (const m of members) await m.subscribeAsync(`$share/g1/${topic}`, { qos: 1 });
    const other = await connectClient(url);
    const gOther = collect(other);
    await other.subscribeAsync(`$share/g2/${topic}`, { qos: 1 });
    const plain = await connectClient(url);
    const gPlain = collect(plain);
    await plain.subscribeAsync(topic, { qos: 1 });
    const pub = await connectClient(url);
    for (let i = 0; i < 30; i++) await pub.publishAsync(topic, String(i), { qos: 1 });
    await waitFor(() => got.reduce((n, g) => n + g.length, 0) === 30 && gOther.length === 30 && gPlain.length === 30, 'all deliveries');
    expect(got.map((g) => g.length)).toEqual([10, 10, 10]);
    const all = got.flatMap((g) => g.map((x) => Number(x.payload))).sort((a, b) => a - b);
    expect(all).toEqual([...Array(30).keys()]);
    for (const c of [...members, other, plain, pub]) await endClient(c);
  });

  it('$queue/{filter} shares messages between its subscribers', async () => {
    const topic = `q/${uid()}`;
    const a = await connectClient(url);
    const b = await connectClient(url);
    const ga = collect(a);
    const gb = collect(b);
    await a.subscribeAsync(`$queue/${topic}`, { qos: 1 });
    await b.subscribeAsync(`$queue/${topic}`, { qos: 1 });
    const pub = await connectClient(url);
    for (let i = 0; i < 10; i++) await pub.publishAsync(topic, String(i), { qos: 1 });
    await waitFor(() => ga.length + gb.length === 10, 'ten deliveries');
    expect(ga.length).toBe(5);
    expect(gb.length).toBe(5);
    for (const c of [a, b, pub]) await endClient(c);
  });

  it('unacknowledged messages of a departing member go to another member', async () => {
    const topic = `shd/${uid()}`;
    // A member that never acknowledges and then goes away.
    const silent = await raw(5);
    silent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$share/g/${topic}`, qos: 1 }] } as never, 5);
    await silent.next('suback');
    const pub = await connectClient(url);
    for (let i = 0; i < 4; i++) await pub.publishAsync(topic, String(i), { qos: 1 });
    await waitFor(() => silent.packets.filter((p) => p.cmd === 'publish').length === 4, 'silent member got all 4');
    const good = await connectClient(url);
    const got = collect(good);
    await good.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    silent.close();
    await waitFor(() => got.length === 4, 'the other member receives the 4 unacknowledged messages');
    expect(got.map((g) => g.payload).sort()).toEqual(['0', '1', '2', '3']);
    await endClient(good);
    await endClient(pub);
  });
});
