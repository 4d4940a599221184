// kill -9 of a real broker process (LevelDB storage): every QoS 1/2 message the broker
// acknowledged to its publisher reaches the persistent subscriber after a restart, QoS 2 exactly
// once, in order.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawClient, connectClient, waitFor } from './helpers.js';
import { spawnBroker, type BrokerProcess } from './process-helpers.js';
import type { IConnackPacket, IPublishPacket } from '../mqtt/packets.js';

const dirs: string[] = [];
const procs: BrokerProcess[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function brokerSets(dataDir: string): string[] {
  return ['mqtt.host=127.0.0.1', 'admin.host=127.0.0.1', 'mqtt.tcp_port=0', 'mqtt.ws_port=-1', 'admin.http_port=0',
    'storage.driver=leveldb', `data_dir=${dataDir}`, 'log.level=warn'];
}

async function start(dataDir: string): Promise<BrokerProcess> {
  const b = await spawnBroker(brokerSets(dataDir));
  procs.push(b);
  return b;
}

async function kill9(b: BrokerProcess): Promise<void> {
  b.proc.kill('SIGKILL');
  expect(await b.exited).toBe('SIGKILL');
}

/**
 * A subscriber that behaves as the spec asks of a client: a QoS 2 message is handed to the
 * application on the first PUBLISH with a packet id, and a resend of that id (before PUBREL)
 * is not handed over again (method B, section 4.3.3).
 */
class SpecSubscriber {
  readonly delivered: string[] = [];
  private readonly pendingQos2 = new Set<number>();
  c!: RawClient;

  constructor(readonly clientId: string, readonly version: 4 | 5) {}

  async connect(port: number, clean: boolean): Promise<IConnackPacket> {
    this.c = await RawClient.connect(port, this.version);
    this.c.send({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: this.version, clean, keepalive: 60, clientId: this.clientId,
      properties: this.version === 5 ? { sessionExpiryInterval: 3600 } : undefined,
    } as never, this.version);
    const ack = (await this.c.next('connack')) as IConnackPacket;
    this.c.socket.on('data', () => this.drain());
    this.drain();
    return ack;
  }

  private drain(): void {
    const rest = [];
    for (const p of this.c.packets.splice(0)) {
      if (p.cmd === 'publish') {
        const pub = p as IPublishPacket;
        if (pub.qos === 1) {
          this.delivered.push(pub.payload.toString());
          this.c.send({ cmd: 'puback', messageId: pub.messageId } as never, this.version);
        } else if (pub.qos === 2) {
          if (!this.pendingQos2.has(pub.messageId!)) {
            this.pendingQos2.add(pub.messageId!);
            this.delivered.push(pub.payload.toString());
          }
          this.c.send({ cmd: 'pubrec', messageId: pub.messageId } as never, this.version);
        } else {
          this.delivered.push(pub.payload.toString());
        }
      } else if (p.cmd === 'pubrel') {
        this.pendingQos2.delete(p.messageId!);
        this.c.send({ cmd: 'pubcomp', messageId: p.messageId } as never, this.version);
      } else {
        rest.push(p);
      }
    }
    this.c.packets.push(...rest);
  }

  async subscribe(filters: Array<[string, 1 | 2]>): Promise<void> {
    this.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map(([topic, qos]) => ({ topic, qos })) } as never, this.version);
    await this.c.next('suback');
  }
}

describe('kill -9 (LevelDB storage)', () => {
  it('an offline persistent session gets all 1,000 acknowledged QoS 1/2 messages after a crash, QoS 2 exactly once, in order', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'robustmq-crash-'));
    dirs.push(dataDir);
    let b = await start(dataDir);
    const subs = [new SpecSubscriber('crash-sub-v4', 4), new SpecSubscriber('crash-sub-v5', 5)];
    for (const s of subs) {
      await s.connect(b.ports.get('mqtt-tcp')!, true);
      s.c.send({ cmd: 'disconnect' } as never, s.version);
      await s.c.waitClosed();
      await s.connect(b.ports.get('mqtt-tcp')!, false);
      await s.subscribe([['crash/q1', 1], ['crash/q2', 2]]);
      s.c.send({ cmd: 'disconnect' } as never, s.version);
      await s.c.waitClosed();
    }
    const pub = await connectClient(`mqtt://127.0.0.1:${b.ports.get('mqtt-tcp')}`, { clientId: 'crash-pub' });
    const acked: string[] = [];
    await Promise.all(Array.from({ length: 1000 }, async (_, i) => {
      const qos = i % 2 === 0 ? 1 : 2;
      await pub.publishAsync(`crash/q${qos}`, `m${i}`, { qos });
      acked.push(`m${i}`);
    }));
    expect(acked.length).toBe(1000);
    pub.end(true);
    await kill9(b);

    b = await start(dataDir);
    for (const s of subs) {
      const ack = await s.connect(b.ports.get('mqtt-tcp')!, false);
      expect(ack.sessionPresent).toBe(true);
      await waitFor(() => s.delivered.length >= 1000, `${s.clientId}: 1000 messages`, 20_000);
      expect(new Set(s.delivered).size).toBe(s.delivered.length);
      const q1 = s.delivered.filter((m) => Number(m.slice(1)) % 2 === 0);
      const q2 = s.delivered.filter((m) => Number(m.slice(1)) % 2 === 1);
      expect(q1).toEqual([...q1].sort((a, c) => Number(a.slice(1)) - Number(c.slice(1))));
      expect(q2).toEqual([...q2].sort((a, c) => Number(a.slice(1)) - Number(c.slice(1))));
      expect(q1.length + q2.length).toBe(1000);
      s.c.close();
    }
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 60_000);

  it('a crash while a subscriber is online and acking loses no acknowledged message; QoS 2 never twice', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'robustmq-crash-'));
    dirs.push(dataDir);
    let b = await start(dataDir);
    const s = new SpecSubscriber('live-sub', 5);
    await s.connect(b.ports.get('mqtt-tcp')!, false);
    await s.subscribe([['live/q1', 1], ['live/q2', 2]]);
    const pub = await connectClient(`mqtt://127.0.0.1:${b.ports.get('mqtt-tcp')}`, { clientId: 'live-pub' });
    pub.on('error', () => undefined);
    const acked = new Set<string>();
    let i = 0;
    const publishing = (async () => {
      for (;;) {
        const n = i++;
        const qos = n % 2 === 0 ? 1 : 2;
        try {
          await pub.publishAsync(`live/q${qos}`, `m${n}`, { qos });
          acked.add(`m${n}`);
        } catch {
          return;
        }
      }
    })();
    await waitFor(() => acked.size >= 300 && s.delivered.length >= 100, 'traffic flowing', 20_000);
    await kill9(b);
    pub.end(true);
    await publishing;
    s.c.close();

    b = await start(dataDir);
    await s.connect(b.ports.get('mqtt-tcp')!, false);
    await waitFor(() => [...acked].every((m) => s.delivered.includes(m)), 'every acknowledged message delivered', 20_000);
    const q2 = s.delivered.filter((m) => Number(m.slice(1)) % 2 === 1);
    expect(new Set(q2).size).toBe(q2.length);
    s.c.close();
    b.proc.kill('SIGTERM');
    await b.exited;
  }, 60_000);

  it('retained messages and subscriptions survive kill -9 and a SIGTERM restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'robustmq-crash-'));
    dirs.push(dataDir);
    let b = await start(dataDir);
    const url = (x: BrokerProcess): string => `mqtt://127.0.0.1:${x.ports.get('mqtt-tcp')}`;
    const pub = await connectClient(url(b));
    for (let i = 0; i < 50; i++) await pub.publishAsync(`keep/${i}`, `r${i}`, { qos: 1, retain: true });
    await pub.publishAsync('keep/0', '', { qos: 1, retain: true }); // cleared again
    pub.end(true);
    const s = new SpecSubscriber('keep-sub', 4);
    await s.connect(b.ports.get('mqtt-tcp')!, false);
    await s.subscribe([['after/#', 1]]);
    s.c.close();
    await kill9(b);

    for (const stop of ['SIGKILL', 'SIGTERM'] as const) {
      b = await start(dataDir);
      const reader = new SpecSubscriber(`keep-reader-${stop}`, 4);
      await reader.connect(b.ports.get('mqtt-tcp')!, true);
      await reader.subscribe([['keep/#', 1]]);
      await waitFor(() => reader.delivered.length === 49, '49 retained messages');
      expect(reader.delivered.includes('r0')).toBe(false);
      reader.c.close();
      const p2 = await connectClient(url(b));
      await p2.publishAsync('after/x', `after-${stop}`, { qos: 1 });
      p2.end(true);
      const ack = await s.connect(b.ports.get('mqtt-tcp')!, false);
      expect(ack.sessionPresent).toBe(true);
      await waitFor(() => s.delivered.includes(`after-${stop}`), 'message for the kept subscription');
      s.c.close();
      if (stop === 'SIGKILL') await kill9(b);
      else {
        b.proc.kill('SIGTERM');
        expect(await b.exited).toBe(0);
      }
    }
  }, 60_000);
});
