// Malformed input at the broker: the reason code and close the spec names (section 4.13), while
// other clients keep being served.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startTestBroker, type TestBroker } from './helpers.js';
import type { IConnackPacket, IDisconnectPacket } from '../mqtt/packets.js';

let broker: TestBroker;
let port: number;
beforeAll(async () => {
  broker = await startTestBroker(['mqtt.max_packet_size=1024']);
  port = broker.port('mqtt-tcp');
});
afterAll(async () => {
  await broker.stop();
});

async function connected(version: 4 | 5): Promise<RawClient> {
  const c = await RawClient.connect(port, version);
  c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 60, clientId: `mf-${Math.random().toString(36).slice(2)}` } as never, version);
  const ack = (await c.next('connack')) as IConnackPacket;
  expect(ack.reasonCode ?? ack.returnCode).toBe(0);
  return c;
}

const cases: Array<{ name: string; bytes: number[]; v5: number }> = [
  { name: '[MQTT-1.5.5-1] remaining length over four bytes', bytes: [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], v5: 0x81 },
  { name: '[MQTT-2.2.2-2] PUBREL with reserved flags 0000 instead of 0010', bytes: [0x60, 0x02, 0x00, 0x01], v5: 0x81 },
  { name: '[MQTT-3.3.1-4] PUBLISH with both QoS bits set', bytes: [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], v5: 0x81 },
  { name: '[MQTT-1.5.4-1] topic that is not valid UTF-8', bytes: [0x30, 0x05, 0x00, 0x02, 0xc3, 0x28, 0x00], v5: 0x81 },
  { name: '[MQTT-1.5.4-2] topic containing U+0000', bytes: [0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x00], v5: 0x81 },
  { name: 'reserved packet type 0', bytes: [0x00, 0x00], v5: 0x81 },
  { name: '[MQTT-3.8.3-3] SUBSCRIBE without any topic filter', bytes: [0x82, 0x03, 0x00, 0x01, 0x00], v5: 0x82 },
  { name: 'packet larger than mqtt.max_packet_size', bytes: [0x30, 0x90, 0x10], v5: 0x95 },
];

describe('malformed packets after CONNECT', () => {
  for (const tc of cases) {
    it(`${tc.name}: v5 gets DISCONNECT 0x${tc.v5.toString(16)} then close`, async () => {
      const c = await connected(5);
      c.sendRaw(tc.bytes);
      const d = (await c.next('disconnect')) as IDisconnectPacket;
      expect(d.reasonCode).toBe(tc.v5);
      await c.waitClosed();
    });
    it(`${tc.name}: v3.1.1 is closed`, async () => {
      const c = await connected(4);
      c.sendRaw(tc.bytes);
      await c.waitClosed();
      expect(c.packets.filter((p) => p.cmd === 'disconnect')).toEqual([]);
    });
  }

  it('a malformed CONNECT is closed without CONNACK', async () => {
    const c = await RawClient.connect(port);
    c.sendRaw([0x10, 0x03, 0x00, 0x04, 0x4d]);
    await c.waitClosed();
    expect(c.packets).toEqual([]);
  });

  it('the broker keeps serving other clients throughout', async () => {
    const c = await connected(4);
    c.send({ cmd: 'pingreq' } as never);
    await c.next('pingresp');
    c.close();
  });
});
