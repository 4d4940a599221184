// Transport details: WebSocket framing (a packet across frames, several packets in one frame,
// subprotocol), TLS client certificates, TCP byte-at-a-time delivery.

import net from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { encode, MqttParser } from '../mqtt/codec/index.js';
import type { Packet } from '../mqtt/packets.js';
import { connectClient, endClient, startTestBroker, tlsDir, waitFor, type TestBroker } from './helpers.js';

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker([], { tls: true });
});
afterAll(async () => {
  await broker.stop();
});

const connect = (clientId: string): Buffer => encode({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, clientId }, 4);
const subscribe = (topic: string): Buffer => encode({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] }, 4);
const publish = (topic: string, payload: string): Buffer =>
  encode({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, dup: false, retain: false, messageId: 2 }, 4);

function collector(): { packets: Packet[]; feed: (b: Buffer) => void } {
  const parser = new MqttParser({ maxPacketSize: 1 << 20 });
  parser.protocolVersion = 4;
  const packets: Packet[] = [];
  return { packets, feed: (b) => { parser.parse(b, (p) => packets.push(p)); } };
}

function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'mqtt');
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('WebSocket', () => {
  it('selects subprotocol "mqtt"; a packet split across frames and several packets in one frame both work', async () => {
    const ws = await openWs(broker.url('ws'));
    expect(ws.protocol).toBe('mqtt');
    const got = collector();
    ws.on('message', (d: Buffer) => got.feed(d));
    const c = connect('ws-split');
    // CONNECT in three frames.
    ws.send(c.subarray(0, 3));
    ws.send(c.subarray(3, 7));
    ws.send(c.subarray(7));
    await waitFor(() => got.packets.some((p) => p.cmd === 'connack'), 'CONNACK');
    // SUBSCRIBE and PUBLISH (to itself) in one frame.
    ws.send(Buffer.concat([subscribe('ws/self'), publish('ws/self', 'framed')]));
    await waitFor(() => got.packets.some((p) => p.cmd === 'publish'), 'own message back');
    expect(got.packets.map((p) => p.cmd)).toEqual(expect.arrayContaining(['connack', 'suback', 'puback', 'publish']));
    ws.close();
  });

  it('WSS works with an mqtt.js client and a plain HTTP GET gets 426', async () => {
    const c = await connectClient(broker.url('wss'), { ca: readFileSync(path.join(tlsDir, 'ca.crt')) });
    await endClient(c);
    const res = await fetch(`http://127.0.0.1:${broker.port('mqtt-ws')}/mqtt`);
    expect(res.status).toBe(426);
  });
});

describe('TCP', () => {
  it('packets written one byte at a time are parsed the same [split at every byte]', async () => {
    const bytes = Buffer.concat([connect('tcp-bytes'), subscribe('tcp/bytes'), publish('tcp/bytes', 'split')]);
    const sock = net.connect(broker.port('mqtt-tcp'), '127.0.0.1');
    sock.setNoDelay(true);
    const got = collector();
    sock.on('data', (d: Buffer) => got.feed(d));
    await new Promise((r) => sock.once('connect', r));
    for (let i = 0; i < bytes.length; i++) {
      sock.write(bytes.subarray(i, i + 1));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => got.packets.some((p) => p.cmd === 'publish'), 'own message back');
    sock.destroy();
  });
});

describe('TLS client certificates', () => {
  it('a client certificate signed by tls.ca_file is accepted and its CN is recorded', async () => {
    const c = await connectClient(broker.url('mqtts'), {
      ca: readFileSync(path.join(tlsDir, 'ca.crt')),
      cert: readFileSync(path.join(tlsDir, 'client.crt')),
      key: readFileSync(path.join(tlsDir, 'client.key')),
      clientId: 'cert-client',
    });
    const conn = [...broker.broker.connections].find((x) => x.clientId === 'cert-client');
    expect(conn?.info.certCommonName).toBe('device-42');
    await endClient(c);
  });

  it('with require_client_cert, a client without a certificate is refused at the handshake', async () => {
    const strict = await startTestBroker(['tls.require_client_cert=true'], { tls: true });
    const err = await new Promise<Error | null>((resolve) => {
      const s = tls.connect({ host: 'localhost', port: strict.port('mqtt-tls'), ca: readFileSync(path.join(tlsDir, 'ca.crt')) });
      s.once('secureConnect', () => {
        // TLS 1.3 reports the missing certificate after the handshake: the server closes.
        s.once('error', (e) => resolve(e));
        s.once('close', () => resolve(null));
        s.write(connect('no-cert'));
      });
      s.once('error', (e) => resolve(e));
    });
    const conns = [...strict.broker.connections].filter((x) => x.clientId === 'no-cert');
    expect(conns).toEqual([]);
    void err;
    await strict.stop();
  });
});
