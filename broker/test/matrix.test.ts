// Every transport x protocol version x QoS with a real client (mqtt.js): subscribe, publish,
// receive the same bytes at the granted QoS.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IClientOptions } from 'mqtt';
import { connectClient, endClient, startTestBroker, tlsClientOptions, type TestBroker } from './helpers.js';

const transports = ['mqtt', 'mqtts', 'ws', 'wss'] as const;
const versions = [
  { name: '3.1', protocolVersion: 3, protocolId: 'MQIsdp' },
  { name: '3.1.1', protocolVersion: 4, protocolId: 'MQTT' },
  { name: '5.0', protocolVersion: 5, protocolId: 'MQTT' },
] as const;
const qosLevels = [0, 1, 2] as const;

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker([], { tls: true });
});
afterAll(async () => {
  await broker.stop();
});

describe('transport x version x QoS matrix', () => {
  for (const transport of transports) {
    for (const v of versions) {
      for (const qos of qosLevels) {
        it(`${transport} MQTT ${v.name} QoS ${qos}: publish reaches the subscriber`, async () => {
          const tag = `${transport}-${v.protocolVersion}-${qos}`;
          const opts: IClientOptions = {
            protocolVersion: v.protocolVersion,
            protocolId: v.protocolId,
            clientId: `m-${tag}-${Math.random().toString(36).slice(2, 8)}`,
            ...(transport === 'mqtts' || transport === 'wss' ? tlsClientOptions() : {}),
          };
          const sub = await connectClient(broker.url(transport), opts);
          const pub = await connectClient(broker.url(transport), { ...opts, clientId: `${opts.clientId}-p` });
          const topic = `matrix/${tag}`;
          const granted = await sub.subscribeAsync(topic, { qos });
          expect(granted[0]!.qos).toBe(qos);
          const payload = Buffer.from(`hello ${tag} \u00e9\u4e2d`);
          const got = new Promise<{ topic: string; payload: Buffer; qos: number }>((resolve) => {
            sub.once('message', (t, p, packet) => resolve({ topic: t, payload: p, qos: packet.qos }));
          });
          await pub.publishAsync(topic, payload, { qos });
          const m = await got;
          expect(m.topic).toBe(topic);
          expect(m.payload.equals(payload)).toBe(true);
          expect(m.qos).toBe(qos);
          await endClient(pub);
          await endClient(sub);
        });
      }
    }
  }
});
