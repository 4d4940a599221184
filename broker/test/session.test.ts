// Sessions: clean session / clean start, session present, queued messages for offline sessions,
// retransmission with DUP on reconnect, expiry, queue bounds.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, endClient, rawConnect, startTestBroker, uid, waitFor, type RawClient, type TestBroker } from './helpers.js';
import type { IConnackPacket, IPublishPacket, IPubrelPacket } from '../mqtt/packets.js';

let broker: TestBroker;
let port: number;
let url: string;
beforeAll(async () => {
  broker = await startTestBroker(['offline_message.max_queue=5']);
  port = broker.port('mqtt-tcp');
  url = broker.url('mqtt');
});
afterAll(async () => {
  await broker.stop();
});

const raw = (version: 4 | 5, clientId: string, fields: Record<string, unknown> = {}): Promise<{ c: RawClient; ack: IConnackPacket }> =>
  rawConnect(port, version, { clientId, ...fields });

async function publishAll(topic: string, payloads: string[], qos: 0 | 1 | 2): Promise<void> {
  const pub = await connectClient(url);
  for (const p of payloads) await pub.publishAsync(topic, p, { qos });
  await endClient(pub);
}

describe('sessions', () => {
  it('[MQTT-3.2.2-2] v3.1.1 clean session 0: session present, subscriptions and queued QoS 1/2 messages kept', async () => {
    const id = `p-${uid()}`;
    const topic = `sess/${uid()}`;
    const first = await raw(4, id, { clean: false });
    expect(first.ack.sessionPresent).toBe(false);
    first.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] } as never);
    await first.c.next('suback');
    first.c.send({ cmd: 'disconnect' } as never);
    await first.c.waitClosed();
    await publishAll(topic, ['a', 'b'], 1);
    await publishAll(topic, ['c'], 2);
    await publishAll(topic, ['zero'], 0); // QoS 0 is not queued by default
    const second = await raw(4, id, { clean: false });
    expect(second.ack.sessionPresent).toBe(true);
    const got: IPublishPacket[] = [];
    for (let i = 0; i < 3; i++) got.push((await second.c.next('publish')) as IPublishPacket);
    expect(got.map((p) => [p.payload.toString(), p.qos])).toEqual([['a', 1], ['b', 1], ['c', 2]]);
    second.c.close();
  });

  it('[MQTT-3.1.2-6] clean session 1 discards the previous session', async () => {
    const id = `cs-${uid()}`;
    const first = await raw(4, id, { clean: false });
    first.c.close();
    await waitFor(() => broker.broker.sessions.get(id)?.conn === null, 'first connection gone');
    const second = await raw(4, id, { clean: true });
    expect(second.ack.sessionPresent).toBe(false);
    second.c.close();
  });

  it('[MQTT-4.4.0-1] unacknowledged QoS 1 and 2 messages and PUBRELs are resent on reconnect, PUBLISH with DUP and the same id', async () => {
    const id = `dup-${uid()}`;
    const topic = `dup/${uid()}`;
    const first = await raw(5, id, { clean: true, properties: { sessionExpiryInterval: 60 } });
    first.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 2 }] } as never, 5);
    await first.c.next('suback');
    await publishAll(topic, ['one'], 1);
    await publishAll(topic, ['two'], 2);
    await publishAll(topic, ['three'], 2);
    const p1 = (await first.c.next('publish')) as IPublishPacket;
    const p2 = (await first.c.next('publish')) as IPublishPacket;
    await first.c.next('publish');
    // Acknowledge the second (QoS 2) with PUBREC only, leave the others unacknowledged.
    first.c.send({ cmd: 'pubrec', messageId: p2.messageId } as never, 5);
    await first.c.next('pubrel');
    first.c.close();
    await waitFor(() => broker.broker.sessions.get(id)?.conn === null, 'first connection gone');
    const second = await raw(5, id, { clean: false, properties: { sessionExpiryInterval: 60 } });
    expect(second.ack.sessionPresent).toBe(true);
    const r1 = (await second.c.next('publish')) as IPublishPacket;
    expect(r1.dup).toBe(true);
    expect(r1.messageId).toBe(p1.messageId);
    expect(r1.payload.toString()).toBe('one');
    const rel = (await second.c.next('pubrel')) as IPubrelPacket;
    expect(rel.messageId).toBe(p2.messageId);
    const r3 = (await second.c.next('publish')) as IPublishPacket;
    expect(r3.dup).toBe(true);
    expect(r3.payload.toString()).toBe('three');
    second.c.close();
  });

  it('v5 session expiry: the session is kept for the interval, then removed', async () => {
    const id = `exp-${uid()}`;
    const first = await raw(5, id, { properties: { sessionExpiryInterval: 1 } });
    first.c.send({ cmd: 'disconnect', reasonCode: 0 } as never, 5);
    await first.c.waitClosed();
    const again = await raw(5, id, { clean: false, properties: { sessionExpiryInterval: 1 } });
    expect(again.ack.sessionPresent).toBe(true);
    again.c.send({ cmd: 'disconnect', reasonCode: 0 } as never, 5);
    await again.c.waitClosed();
    await waitFor(() => !broker.broker.sessions.has(id), 'session to expire', 4000);
    const last = await raw(5, id, { clean: false });
    expect(last.ack.sessionPresent).toBe(false);
    last.c.close();
  });

  it('v5 session expiry 0 (default): the session ends with the connection', async () => {
    const id = `e0-${uid()}`;
    const first = await raw(5, id, { clean: false });
    first.c.close();
    await waitFor(() => !broker.broker.sessions.has(id), 'session removed');
    const second = await raw(5, id, { clean: false });
    expect(second.ack.sessionPresent).toBe(false);
    second.c.close();
  });

  it('[MQTT-3.14.2-2] DISCONNECT may not set a session expiry when CONNECT had 0', async () => {
    const { c } = await raw(5, `d-${uid()}`);
    c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 30 } } as never, 5);
    const d = await c.next('disconnect');
    expect((d as { reasonCode?: number }).reasonCode).toBe(0x82);
  });

  it('DISCONNECT can shorten the session expiry to 0, ending the session', async () => {
    const id = `ds-${uid()}`;
    const { c } = await raw(5, id, { properties: { sessionExpiryInterval: 300 } });
    c.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } } as never, 5);
    await c.waitClosed();
    await waitFor(() => !broker.broker.sessions.has(id), 'session removed');
  });

  it('the offline queue is bounded (max_queue = 5, drop_oldest) and keeps the newest', async () => {
    const id = `bound-${uid()}`;
    const topic = `bound/${uid()}`;
    const first = await raw(4, id, { clean: false });
    first.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as never);
    await first.c.next('suback');
    first.c.close();
    await waitFor(() => broker.broker.sessions.get(id)?.conn === null, 'offline');
    await publishAll(topic, ['0', '1', '2', '3', '4', '5', '6', '7'], 1);
    const second = await raw(4, id, { clean: false });
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = (await second.c.next('publish')) as IPublishPacket;
      got.push(p.payload.toString());
      second.c.send({ cmd: 'puback', messageId: p.messageId } as never);
    }
    expect(got).toEqual(['3', '4', '5', '6', '7']);
    second.c.close();
  });

  it('an offline message whose expiry passes is not delivered [MQTT-3.3.2-5]', async () => {
    const id = `mexp-${uid()}`;
    const topic = `mexp/${uid()}`;
    const first = await raw(5, id, { properties: { sessionExpiryInterval: 60 } });
    first.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as never, 5);
    await first.c.next('suback');
    first.c.close();
    await waitFor(() => broker.broker.sessions.get(id)?.conn === null, 'offline');
    const pub = await connectClient(url, { protocolVersion: 5 });
    await pub.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
    await pub.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
    await endClient(pub);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await raw(5, id, { clean: false, properties: { sessionExpiryInterval: 60 } });
    const p = (await second.c.next('publish')) as IPublishPacket;
    expect(p.payload.toString()).toBe('long');
    expect(p.properties?.messageExpiryInterval).toBeLessThan(100);
    second.c.close();
  });
});
