// Will messages (sections 3.1.2.5 and 3.1.3.2): sent on abnormal close, not after DISCONNECT 0x00,
// sent after DISCONNECT 0x04, delayed by the will delay interval and cancelled by a reconnect.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { RawClient, connectClient, endClient, startTestBroker, uid, waitFor, type TestBroker } from './helpers.js';
import type { IConnackPacket } from '../mqtt/packets.js';

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

async function withWill(version: 4 | 5, clientId: string, topic: string, extra: Record<string, unknown> = {}, willProps?: Record<string, unknown>): Promise<RawClient> {
  const c = await RawClient.connect(port, version);
  c.send({
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId,
    will: { topic, payload: Buffer.from(`gone:${clientId}`), qos: 1, retain: false, properties: willProps }, ...extra,
  } as never, version);
  const ack = (await c.next('connack')) as IConnackPacket;
  expect(ack.reasonCode ?? ack.returnCode).toBe(0);
  return c;
}

async function watcher(topic: string): Promise<{ client: MqttClient; got: string[] }> {
  const client = await connectClient(url);
  const got: string[] = [];
  client.on('message', (_t, p) => got.push(p.toString()));
  await client.subscribeAsync(topic, { qos: 1 });
  return { client, got };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

describe('will messages', () => {
  it('[MQTT-3.1.2-8] an abnormal close publishes the will (v3.1.1 and v5)', async () => {
    for (const v of [4, 5] as const) {
      const topic = `will/${uid()}`;
      const w = await watcher(topic);
      const c = await withWill(v, `w-${uid()}`, topic);
      c.close();
      await waitFor(() => w.got.length === 1, 'will delivered');
      expect(w.got[0]).toMatch(/^gone:/);
      await endClient(w.client);
    }
  });

  it('[MQTT-3.14.4-3] DISCONNECT (0x00) discards the will', async () => {
    const topic = `will0/${uid()}`;
    const w = await watcher(topic);
    const c = await withWill(5, `w-${uid()}`, topic);
    c.send({ cmd: 'disconnect', reasonCode: 0 } as never, 5);
    await c.waitClosed();
    await settle();
    expect(w.got).toEqual([]);
    await endClient(w.client);
  });

  it('DISCONNECT 0x04 (disconnect with will message) publishes the will', async () => {
    const topic = `will4/${uid()}`;
    const w = await watcher(topic);
    const c = await withWill(5, `w-${uid()}`, topic);
    c.send({ cmd: 'disconnect', reasonCode: 0x04 } as never, 5);
    await waitFor(() => w.got.length === 1, 'will delivered');
    await endClient(w.client);
  });

  it('a keep-alive timeout publishes the will', async () => {
    const topic = `willka/${uid()}`;
    const w = await watcher(topic);
    await withWill(4, `w-${uid()}`, topic, { keepalive: 1 });
    await waitFor(() => w.got.length === 1, 'will after keep alive timeout', 4000);
    await endClient(w.client);
  });

  it('will delay: published after the delay; a reconnect within the delay cancels it [MQTT-3.1.3-9]', async () => {
    const topic = `willd/${uid()}`;
    const w = await watcher(topic);
    const id = `wd-${uid()}`;
    const props = { properties: { sessionExpiryInterval: 60 } };
    const c = await withWill(5, id, topic, props, { willDelayInterval: 1 });
    c.close();
    await waitFor(() => broker.broker.sessions.get(id)?.conn === null, 'offline');
    // Reconnect at once (without a will): the delayed will must never come.
    const again = await RawClient.connect(port, 5);
    again.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 60, clientId: id, ...props } as never, 5);
    await again.next('connack');
    await new Promise((r) => setTimeout(r, 1300));
    expect(w.got).toEqual([]);
    // Now a delayed will that is allowed to fire.
    const id2 = `wd2-${uid()}`;
    const c2 = await withWill(5, id2, topic, props, { willDelayInterval: 1 });
    const closedAt = Date.now();
    c2.close();
    await waitFor(() => w.got.length === 1, 'delayed will', 4000);
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(900);
    again.close();
    await endClient(w.client);
  });

  it('a will with retain is stored as the retained message', async () => {
    const topic = `willr/${uid()}`;
    const c = await RawClient.connect(port, 4);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60, clientId: `wr-${uid()}`, will: { topic, payload: Buffer.from('last'), qos: 0, retain: true } } as never, 4);
    await c.next('connack');
    c.close();
    await waitFor(() => broker.broker.retained.get(topic) !== undefined, 'retained will');
    const w = await watcher(topic);
    await waitFor(() => w.got.length === 1, 'retained will delivered');
    expect(w.got[0]).toBe('last');
    await endClient(w.client);
  });

  it('session takeover with clean start publishes the old connection\'s will', async () => {
    const topic = `willt/${uid()}`;
    const w = await watcher(topic);
    const id = `wt-${uid()}`;
    await withWill(5, id, topic);
    const next = await RawClient.connect(port, 5);
    next.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 60, clientId: id } as never, 5);
    await next.next('connack');
    await waitFor(() => w.got.length === 1, 'will of the replaced session');
    next.close();
    await endClient(w.client);
  });
});
