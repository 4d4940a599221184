// PUBLISH in both directions: QoS flows, ordering, topic aliases, properties, expiry, flow
// control and size limits.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, collect, connectClient, endClient, rawConnected, startTestBroker, uid, waitFor, type TestBroker } from './helpers.js';
import type { IDisconnectPacket, IPubackPacket, IPublishPacket, IPubrecPacket, IPubrelPacket, ISubackPacket } from '../mqtt/packets.js';

let broker: TestBroker;
let port: number;
let url: string;
beforeAll(async () => {
  broker = await startTestBroker(['mqtt.max_packet_size=2000', 'mqtt.topic_alias_maximum=10', 'mqtt.receive_maximum=5']);
  port = broker.port('mqtt-tcp');
  url = broker.url('mqtt');
});
afterAll(async () => {
  await broker.stop();
});

const raw = (version: 4 | 5, fields: Record<string, unknown> = {}): Promise<RawClient> => rawConnected(port, version, fields);

async function rawSubscribe(c: RawClient, version: 4 | 5, topic: string, qos: 0 | 1 | 2, extra: Record<string, unknown> = {}, properties?: Record<string, unknown>): Promise<ISubackPacket> {
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos, ...extra }], properties } as never, version);
  return (await c.next('suback')) as ISubackPacket;
}


describe('QoS flows', () => {
  it('QoS 2 inbound: a resent PUBLISH (DUP) before PUBREL is delivered once [MQTT-4.3.3-9]', async () => {
    const topic = `q2/${uid()}`;
    const sub = await connectClient(url, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(topic, { qos: 2 });
    const pub = await raw(5);
    const publish = { cmd: 'publish', topic, payload: Buffer.from('once'), qos: 2, dup: false, retain: false, messageId: 7 };
    pub.send(publish as never, 5);
    expect(((await pub.next('pubrec')) as IPubrecPacket).messageId).toBe(7);
    pub.send({ ...publish, dup: true } as never, 5);
    expect(((await pub.next('pubrec')) as IPubrecPacket).messageId).toBe(7);
    pub.send({ cmd: 'pubrel', messageId: 7 } as never, 5);
    await pub.next('pubcomp');
    // A new message with the same packet id after PUBCOMP is a new message.
    pub.send({ ...publish, payload: Buffer.from('twice') } as never, 5);
    await pub.next('pubrec');
    pub.send({ cmd: 'pubrel', messageId: 7 } as never, 5);
    await pub.next('pubcomp');
    await waitFor(() => got.length >= 2, 'two deliveries');
    expect(got.map((g) => g.payload)).toEqual(['once', 'twice']);
    pub.close();
    await endClient(sub);
  });

  it('QoS 2 outbound: PUBLISH, PUBREC, PUBREL, PUBCOMP', async () => {
    const topic = `q2o/${uid()}`;
    const sub = await raw(4);
    await rawSubscribe(sub, 4, topic, 2);
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'x', { qos: 2 });
    const p = (await sub.next('publish')) as IPublishPacket;
    expect(p.qos).toBe(2);
    sub.send({ cmd: 'pubrec', messageId: p.messageId } as never);
    const rel = (await sub.next('pubrel')) as IPubrelPacket;
    expect(rel.messageId).toBe(p.messageId);
    sub.send({ cmd: 'pubcomp', messageId: p.messageId } as never);
    sub.close();
    await endClient(pub);
  });

  it('messages on one topic arrive in order at QoS 0, 1 and 2 [MQTT-4.6.0-6]', async () => {
    for (const qos of [0, 1, 2] as const) {
      const topic = `order/${qos}/${uid()}`;
      // v3.1.1 clients: this broker's v5 Receive Maximum (5) would limit a v5 publisher's pipelining.
      const sub = await connectClient(url, { protocolVersion: 4 });
      const got = collect(sub);
      await sub.subscribeAsync(topic, { qos });
      const pub = await connectClient(url, { protocolVersion: 4 });
      for (let i = 0; i < 200; i++) pub.publish(topic, String(i), { qos });
      await waitFor(() => got.length === 200, `200 messages at QoS ${qos}`);
      expect(got.map((g) => Number(g.payload))).toEqual([...Array(200).keys()]);
      await endClient(pub);
      await endClient(sub);
    }
  });

  it('v5 PUBACK says 0x10 when no subscription matched', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: `nobody/${uid()}`, payload: Buffer.from('x'), qos: 1, dup: false, retain: false, messageId: 3 } as never, 5);
    const ack = (await c.next('puback')) as IPubackPacket;
    expect(ack.reasonCode).toBe(0x10);
    c.close();
  });

  it('[MQTT-3.3.4-9] more unacknowledged QoS 2 publishes than Receive Maximum: DISCONNECT 0x93', async () => {
    const c = await raw(5);
    const ack = c;
    for (let i = 1; i <= 6; i++) {
      c.send({ cmd: 'publish', topic: 'rm/x', payload: Buffer.from('x'), qos: 2, dup: false, retain: false, messageId: i } as never, 5);
    }
    const d = (await ack.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x93);
    await c.waitClosed();
  });

  it('outbound flow control: no more unacknowledged messages than the client Receive Maximum', async () => {
    const topic = `rmo/${uid()}`;
    const sub = await raw(5, { properties: { receiveMaximum: 2 } });
    await rawSubscribe(sub, 5, topic, 1);
    const pub = await connectClient(url);
    for (let i = 0; i < 5; i++) await pub.publishAsync(topic, String(i), { qos: 1 });
    await waitFor(() => sub.packets.filter((p) => p.cmd === 'publish').length >= 2, 'two publishes');
    await new Promise((r) => setTimeout(r, 100)); // a third must not follow while two are unacknowledged
    const first = sub.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect(first.length).toBe(2);
    sub.packets.length = 0;
    for (const p of first) sub.send({ cmd: 'puback', messageId: p.messageId } as never, 5);
    await waitFor(() => sub.packets.filter((p) => p.cmd === 'publish').length >= 2, 'two more publishes');
    const second = sub.packets.filter((p) => p.cmd === 'publish') as IPublishPacket[];
    expect([...first, ...second].map((p) => p.payload.toString())).toEqual(['0', '1', '2', '3']);
    sub.close();
    await endClient(pub);
  });
});

describe('topics', () => {
  it('[MQTT-3.3.2-2] a PUBLISH topic with a wildcard: v5 DISCONNECT 0x90', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: 'a/+/b', payload: Buffer.from('x'), qos: 0, dup: false, retain: false } as never, 5);
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x90);
    await c.waitClosed();
  });

  it('[MQTT-3.3.2-2] a PUBLISH topic with a wildcard closes a v3.1.1 connection', async () => {
    const c = await raw(4);
    c.send({ cmd: 'publish', topic: 'a/#', payload: Buffer.from('x'), qos: 0, dup: false, retain: false } as never, 4);
    await c.waitClosed();
  });

  it('[MQTT-4.7.2-1] # and +/... do not match $-topics; $SYS/# does', async () => {
    const all = await connectClient(url);
    const plus = await connectClient(url);
    const sys = await connectClient(url);
    const gAll = collect(all);
    const gPlus = collect(plus);
    const gSys = collect(sys);
    await all.subscribeAsync('#');
    await plus.subscribeAsync('+/x');
    await sys.subscribeAsync('$test/#');
    const pub = await connectClient(url);
    await pub.publishAsync('$test/x', 'dollar', { qos: 1 });
    await pub.publishAsync(`plain-${uid()}/x`, 'plain', { qos: 1 });
    await waitFor(() => gSys.length === 1 && gAll.some((g) => g.payload === 'plain') && gPlus.some((g) => g.payload === 'plain'), 'deliveries');
    expect(gAll.some((g) => g.payload === 'dollar')).toBe(false);
    expect(gPlus.some((g) => g.payload === 'dollar')).toBe(false);
    for (const c of [all, plus, sys, pub]) await endClient(c);
  });

  it('wildcards: + matches one level, # any number including the parent', async () => {
    const base = `wc/${uid()}`;
    const c = await connectClient(url);
    const got = collect(c);
    await c.subscribeAsync([`${base}/+/end`, `${base}/deep/#`]);
    const pub = await connectClient(url);
    for (const t of [`${base}/a/end`, `${base}/a/b/end`, `${base}/deep`, `${base}/deep/x/y`]) await pub.publishAsync(t, t, { qos: 1 });
    await waitFor(() => got.length >= 3, 'three deliveries');
    await new Promise((r) => setTimeout(r, 50));
    expect(got.map((g) => g.topic).sort()).toEqual([`${base}/a/end`, `${base}/deep`, `${base}/deep/x/y`].sort());
    await endClient(pub);
    await endClient(c);
  });

  it('inbound topic alias: set once, then PUBLISH with an empty topic [MQTT-3.3.2-12]', async () => {
    const topic = `alias/${uid()}`;
    const sub = await connectClient(url);
    const got = collect(sub);
    await sub.subscribeAsync(topic);
    const c = await raw(5);
    c.send({ cmd: 'publish', topic, payload: Buffer.from('1'), qos: 0, dup: false, retain: false, properties: { topicAlias: 3 } } as never, 5);
    c.send({ cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 0, dup: false, retain: false, properties: { topicAlias: 3 } } as never, 5);
    await waitFor(() => got.length === 2, 'two deliveries');
    expect(got.map((g) => [g.topic, g.payload])).toEqual([[topic, '1'], [topic, '2']]);
    c.close();
    await endClient(sub);
  });

  it('[MQTT-3.3.2-9] a topic alias above the maximum: DISCONNECT 0x94', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('1'), qos: 0, dup: false, retain: false, properties: { topicAlias: 11 } } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x94);
  });

  it('an unknown topic alias with an empty topic is a protocol error', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: '', payload: Buffer.from('1'), qos: 0, dup: false, retain: false, properties: { topicAlias: 4 } } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x82);
  });

  it('outbound topic aliases within the client maximum', async () => {
    const topic = `aliasout/${uid()}`;
    const sub = await raw(5, { properties: { topicAliasMaximum: 2 } });
    await rawSubscribe(sub, 5, topic, 0);
    const pub = await connectClient(url);
    await pub.publishAsync(topic, 'a', { qos: 1 });
    await pub.publishAsync(topic, 'b', { qos: 1 });
    const p1 = (await sub.next('publish')) as IPublishPacket;
    const p2 = (await sub.next('publish')) as IPublishPacket;
    expect(p1.topic).toBe(topic);
    expect(p1.properties?.topicAlias).toBeGreaterThanOrEqual(1);
    expect(p1.properties!.topicAlias).toBeLessThanOrEqual(2);
    expect(p2.topic).toBe('');
    expect(p2.properties?.topicAlias).toBe(p1.properties?.topicAlias);
    sub.close();
    await endClient(pub);
  });
});

describe('MQTT 5 properties', () => {
  it('user properties, content type, response topic, correlation data and payload format are forwarded', async () => {
    const topic = `props/${uid()}`;
    const sub = await connectClient(url, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(topic);
    const pub = await connectClient(url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'héllo', {
      qos: 1,
      properties: {
        userProperties: { a: '1', b: ['2', '3'] }, contentType: 'text/plain', responseTopic: 'reply/here',
        correlationData: Buffer.from([1, 2, 3]), payloadFormatIndicator: true,
      },
    });
    await waitFor(() => got.length === 1, 'delivery');
    const props = got[0]!.packet.properties!;
    expect(props.userProperties).toEqual({ a: '1', b: ['2', '3'] });
    expect(props.contentType).toBe('text/plain');
    expect(props.responseTopic).toBe('reply/here');
    expect(Buffer.from(props.correlationData!).equals(Buffer.from([1, 2, 3]))).toBe(true);
    expect(props.payloadFormatIndicator).toBe(true);
    await endClient(pub);
    await endClient(sub);
  });

  it('[MQTT-3.3.2-4] payload format indicator 1 with invalid UTF-8: PUBACK 0x99', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: 'pfi', payload: Buffer.from([0xff, 0xfe]), qos: 1, dup: false, retain: false, messageId: 9, properties: { payloadFormatIndicator: true } } as never, 5);
    const ack = (await c.next('puback')) as IPubackPacket;
    expect(ack.reasonCode).toBe(0x99);
    c.close();
  });

  it('[MQTT-3.3.2-6] the message expiry interval sent on is what is left of it', async () => {
    const topic = `exp/${uid()}`;
    const sub = await connectClient(url, { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(topic);
    const pub = await connectClient(url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'x', { qos: 1, properties: { messageExpiryInterval: 60 } });
    await waitFor(() => got.length === 1, 'delivery');
    const left = got[0]!.packet.properties!.messageExpiryInterval!;
    expect(left).toBeGreaterThan(55);
    expect(left).toBeLessThanOrEqual(60);
    await endClient(pub);
    await endClient(sub);
  });

  it('[MQTT-3.1.2-24] an inbound packet over the broker Maximum Packet Size: DISCONNECT 0x95', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(3000), qos: 0, dup: false, retain: false } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x95);
    await c.waitClosed();
  });

  it('[MQTT-3.1.2-24] a message larger than the client Maximum Packet Size is not sent to it', async () => {
    const topic = `mps/${uid()}`;
    const sub = await raw(5, { properties: { maximumPacketSize: 100 } });
    await rawSubscribe(sub, 5, topic, 1);
    const pub = await connectClient(url);
    await pub.publishAsync(topic, Buffer.alloc(500, 1), { qos: 1 });
    await pub.publishAsync(topic, 'small', { qos: 1 });
    const p = (await sub.next('publish')) as IPublishPacket;
    expect(p.payload.toString()).toBe('small');
    sub.close();
    await endClient(pub);
  });

  it('[MQTT-3.3.4-6] a PUBLISH from a client with a subscription identifier is a protocol error', async () => {
    const c = await raw(5);
    c.send({ cmd: 'publish', topic: 'x', payload: Buffer.from('1'), qos: 0, dup: false, retain: false, properties: { subscriptionIdentifier: 5 } } as never, 5);
    expect(((await c.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x82);
  });
});
