// CONNECT / CONNACK rules, named by the spec's normative ids, on raw sockets.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startTestBroker, type TestBroker } from './helpers.js';
import type { IConnackPacket, IDisconnectPacket } from '../mqtt/packets.js';

let broker: TestBroker;
let port: number;
beforeAll(async () => {
  broker = await startTestBroker(['mqtt.max_keep_alive=100', 'mqtt.max_session_expiry_interval=3600']);
  port = broker.port('mqtt-tcp');
});
afterAll(async () => {
  await broker.stop();
});

async function connect(version: 3 | 4 | 5, fields: Record<string, unknown> = {}): Promise<{ c: RawClient; ack: IConnackPacket }> {
  const c = await RawClient.connect(port, version);
  c.send({
    cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clean: true,
    keepalive: 30, clientId: `c-${Math.random().toString(36).slice(2)}`, ...fields,
  } as never, version);
  const ack = (await c.next('connack')) as IConnackPacket;
  return { c, ack };
}

describe('CONNECT', () => {
  it('[MQTT-3.1.0-1] a first packet other than CONNECT closes the connection', async () => {
    const c = await RawClient.connect(port);
    c.send({ cmd: 'pingreq' });
    await c.waitClosed();
    expect(c.packets).toEqual([]);
  });

  it('[MQTT-3.1.0-2] a second CONNECT is a protocol error (v5: DISCONNECT 0x82)', async () => {
    const { c, ack } = await connect(5);
    expect(ack.reasonCode).toBe(0);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: 'again' } as never, 5);
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x82);
    await c.waitClosed();
  });

  it('[MQTT-3.1.0-2] a second CONNECT closes a v3.1.1 connection', async () => {
    const { c } = await connect(4);
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'again' } as never, 4);
    await c.waitClosed();
  });

  it('[MQTT-3.1.2-2] an unsupported protocol level below 5 gets CONNACK 0x01 and a close', async () => {
    const c = await RawClient.connect(port);
    // CONNECT, protocol name MQTT, level 2.
    c.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x02, 0x02, 0x00, 0x1e, 0x00, 0x01, 0x61]);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.returnCode).toBe(1);
    await c.waitClosed();
  });

  it('[MQTT-3.1.2-2] a protocol level above 5 gets the v5 CONNACK 0x84 and a close', async () => {
    const c = await RawClient.connect(port, 5);
    c.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x1e, 0x00, 0x01, 0x61]);
    const ack = (await c.next('connack')) as IConnackPacket;
    expect(ack.reasonCode).toBe(0x84);
    await c.waitClosed();
  });

  it('[MQTT-3.1.2-1] a wrong protocol name closes the connection', async () => {
    const c = await RawClient.connect(port);
    c.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x58, 0x04, 0x02, 0x00, 0x1e, 0x00, 0x01, 0x61]);
    await c.waitClosed();
  });

  it('[MQTT-3.1.2-3] the reserved connect flag set closes the connection', async () => {
    const c = await RawClient.connect(port);
    c.sendRaw([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x03, 0x00, 0x1e, 0x00, 0x01, 0x61]);
    await c.waitClosed();
    expect(c.packets.filter((p) => p.cmd === 'connack')).toEqual([]);
  });

  it('[MQTT-3.1.3-8] v3.1.1 empty client id with clean session 0 gets CONNACK 0x02', async () => {
    const { c, ack } = await connect(4, { clientId: '', clean: false });
    expect(ack.returnCode).toBe(2);
    await c.waitClosed();
  });

  it('[MQTT-3.1.3-6] v3.1.1 empty client id with clean session 1 is accepted', async () => {
    const { c, ack } = await connect(4, { clientId: '', clean: true });
    expect(ack.returnCode).toBe(0);
    c.close();
  });

  it('[MQTT-3.2.2-16] v5 empty client id: the server assigns one and returns it', async () => {
    const { c, ack } = await connect(5, { clientId: '' });
    expect(ack.reasonCode).toBe(0);
    expect(ack.properties?.assignedClientIdentifier).toMatch(/^auto-/);
    c.close();
  });

  it('v3.1 (MQIsdp) connects and gets CONNACK 0', async () => {
    const { c, ack } = await connect(3);
    expect(ack.returnCode).toBe(0);
    c.close();
  });

  it('v5 CONNACK states the server capabilities', async () => {
    const { c, ack } = await connect(5, { keepalive: 500 });
    const p = ack.properties!;
    expect(p.topicAliasMaximum).toBe(65535);
    expect(p.maximumPacketSize).toBe(10 * 1024 * 1024);
    // [MQTT-3.2.2-21] keep alive above the maximum is lowered and announced.
    expect(p.serverKeepAlive).toBe(100);
    c.close();
  });

  it('v5 session expiry above the maximum is lowered and announced in CONNACK', async () => {
    const { c, ack } = await connect(5, { properties: { sessionExpiryInterval: 99999 } });
    expect(ack.properties?.sessionExpiryInterval).toBe(3600);
    c.close();
  });

  it('v5 request response information returns a response topic prefix', async () => {
    const { c, ack } = await connect(5, { properties: { requestResponseInformation: true } });
    expect(ack.properties?.responseInformation).toMatch(/^response\//);
    c.close();
  });

  it('v5 CONNECT with an authentication method the broker does not offer gets 0x8C', async () => {
    const { c, ack } = await connect(5, { properties: { authenticationMethod: 'SCRAM-SHA-1' } });
    expect(ack.reasonCode).toBe(0x8c);
    await c.waitClosed();
  });

  it('v5 will QoS or will topic errors are refused in CONNACK', async () => {
    const { c, ack } = await connect(5, { will: { topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false } });
    expect(ack.reasonCode).toBe(0x90);
    await c.waitClosed();
  });

  it('[MQTT-3.1.4-3] session takeover: the old v5 connection gets DISCONNECT 0x8E', async () => {
    const id = `take-${Math.random().toString(36).slice(2)}`;
    const first = await connect(5, { clientId: id });
    const second = await connect(5, { clientId: id });
    expect(second.ack.reasonCode).toBe(0);
    const d = (await first.c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x8e);
    await first.c.waitClosed();
    second.c.close();
  });

  it('[MQTT-3.1.4-3] session takeover closes the old v3.1.1 connection', async () => {
    const id = `take3-${Math.random().toString(36).slice(2)}`;
    const first = await connect(4, { clientId: id });
    const second = await connect(4, { clientId: id });
    expect(second.ack.returnCode).toBe(0);
    await first.c.waitClosed();
    second.c.close();
  });

  it('[MQTT-3.1.2-22] keep alive: no packet for 1.5 x keep alive closes the connection (v5: 0x8D)', async () => {
    const { c } = await connect(5, { keepalive: 1 });
    const started = Date.now();
    const d = (await c.next('disconnect', 5000)) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x8d);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await c.waitClosed();
  });

  it('[MQTT-3.12.4-1] PINGREQ gets PINGRESP and keeps the connection alive', async () => {
    const { c } = await connect(4, { keepalive: 1 });
    for (let i = 0; i < 4; i++) {
      c.send({ cmd: 'pingreq' });
      await c.next('pingresp');
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(c.closed).toBe(false);
    c.close();
  });

  it('a client that sends a server-only packet (CONNACK) gets a protocol error', async () => {
    const { c } = await connect(5);
    c.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0 } as never, 5);
    const d = (await c.next('disconnect')) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x82);
  });
});
