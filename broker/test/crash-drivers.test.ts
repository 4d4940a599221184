// kill -9 of a real broker process with the journal, mysql and s3 storage drivers, against a real
// `journal start` process, a real MariaDB and a real S3-protocol server (bench/services/): every
// QoS 1/2 message the broker acknowledged to its publisher reaches the offline persistent
// subscribers after a restart on the same backend, QoS 2 exactly once, in order (the first
// scenario of crash.test.ts, per driver).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb } from '../../bench/services/mariadb.js';
import { startS3Server } from '../../bench/services/s3.js';
import { spawnService } from '../../journal/service/test/journal-process.js';
import { RawClient, connectClient, waitFor } from './helpers.js';
import { ensureFreshBuild, spawnBroker, type BrokerProcess } from './process-helpers.js';
import type { IConnackPacket, IPublishPacket } from '../mqtt/packets.js';

interface Backend {
  /** `--set` overrides that select the driver and point it at the backend. */
  sets: string[];
  stop(): Promise<void>;
}

// Values are passed as TOML strings, so a key that happens to look like a number stays a string.
const toml = (v: string): string => JSON.stringify(v);

const backends: Record<'journal' | 'mysql' | 's3', () => Promise<Backend>> = {
  journal: async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'robustmq-crash-journal-data-'));
    dirs.push(dir);
    const j = await spawnService('journal', 'journal-grpc', { 'placement.addrs': '[]', grpc_port: '0', data_dir: dir, 'log.level': 'warn' });
    return {
      sets: ['storage.driver=journal', `storage.journal.addrs=["127.0.0.1:${j.port}"]`, 'storage.journal.acks=all'],
      stop: async () => {
        j.child.kill('SIGTERM');
        await j.exited;
      },
    };
  },
  mysql: async () => {
    const db = await startMariaDb();
    return { sets: ['storage.driver=mysql', `storage.mysql.url=${toml(db.url)}`], stop: () => db.stop() };
  },
  s3: async () => {
    const s3 = await startS3Server();
    return {
      sets: [
        'storage.driver=s3',
        `storage.s3.endpoint=${toml(s3.endpoint)}`,
        `storage.s3.bucket=${toml(s3.bucket)}`,
        `storage.s3.access_key=${toml(s3.accessKey)}`,
        `storage.s3.secret_key=${toml(s3.secretKey)}`,
      ],
      stop: () => s3.stop(),
    };
  },
};

const dirs: string[] = [];
// The broker runs from dist/: rebuild it when a source is newer (npm test builds first anyway).
beforeAll(() => ensureFreshBuild(), 180_000);
const procs: BrokerProcess[] = [];
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const p of procs) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const stop of stops) await stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(backend: Backend, dataDir: string): Promise<BrokerProcess> {
  const b = await spawnBroker([
    'mqtt.host=127.0.0.1',
    'admin.host=127.0.0.1',
    'mqtt.tcp_port=0',
    'mqtt.ws_port=-1',
    'admin.http_port=0',
    `data_dir=${dataDir}`,
    'log.level=warn',
    ...backend.sets,
  ]);
  procs.push(b);
  return b;
}

/**
 * A subscriber that hands a QoS 2 message to the application on the first PUBLISH of a packet
 * id and not again for a resend of that id before PUBREL (method B, MQTT 5 section 4.3.3).
 */
class Subscriber {
  readonly delivered: string[] = [];
  private readonly pendingQos2 = new Set<number>();
  c!: RawClient;

  constructor(
    readonly clientId: string,
    readonly version: 4 | 5,
  ) {}

  async connect(port: number, clean: boolean): Promise<IConnackPacket> {
    this.c = await RawClient.connect(port, this.version);
    this.c.send(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: this.version,
        clean,
        keepalive: 60,
        clientId: this.clientId,
        properties: this.version === 5 ? { sessionExpiryInterval: 3600 } : undefined,
      } as never,
      this.version,
    );
    const ack = (await this.c.next('connack')) as IConnackPacket;
    this.c.socket.on('data', () => this.drain());
    this.drain();
    return ack;
  }

  async subscribe(filters: Array<[string, 1 | 2]>): Promise<void> {
    this.c.send({ cmd: 'subscribe', messageId: 1, subscriptions: filters.map(([topic, qos]) => ({ topic, qos })) } as never, this.version);
    await this.c.next('suback');
  }

  async disconnect(): Promise<void> {
    this.c.send({ cmd: 'disconnect' } as never, this.version);
    await this.c.waitClosed();
  }

  private drain(): void {
    const rest = [];
    for (const p of this.c.packets.splice(0)) {
      if (p.cmd === 'publish') {
        const pub = p as IPublishPacket;
        if (pub.qos === 2) {
          if (!this.pendingQos2.has(pub.messageId!)) {
            this.pendingQos2.add(pub.messageId!);
            this.delivered.push(pub.payload.toString());
          }
          this.c.send({ cmd: 'pubrec', messageId: pub.messageId } as never, this.version);
        } else {
          this.delivered.push(pub.payload.toString());
          if (pub.qos === 1) this.c.send({ cmd: 'puback', messageId: pub.messageId } as never, this.version);
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
}

for (const driver of ['journal', 'mysql', 's3'] as const) {
  describe(`kill -9 (${driver} storage)`, () => {
    it('an offline persistent session gets all 1,000 acknowledged QoS 1/2 messages after a crash, QoS 2 exactly once, in order', async () => {
      const backend = await backends[driver]();
      stops.push(() => backend.stop());
      const dataDir = mkdtempSync(path.join(tmpdir(), `robustmq-crash-${driver}-`));
      dirs.push(dataDir);
      let b = await start(backend, dataDir);
      const subs = [new Subscriber(`${driver}-sub-v4`, 4), new Subscriber(`${driver}-sub-v5`, 5)];
      for (const s of subs) {
        await s.connect(b.ports.get('mqtt-tcp')!, true);
        await s.disconnect();
        await s.connect(b.ports.get('mqtt-tcp')!, false);
        await s.subscribe([['crash/q1', 1], ['crash/q2', 2]]);
        await s.disconnect();
      }
      const pub = await connectClient(`mqtt://127.0.0.1:${b.ports.get('mqtt-tcp')}`, { clientId: `${driver}-pub` });
      const acked: string[] = [];
      await Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const qos = i % 2 === 0 ? 1 : 2;
          await pub.publishAsync(`crash/q${qos}`, `m${i}`, { qos });
          acked.push(`m${i}`);
        }),
      );
      expect(acked.length).toBe(1000);
      pub.end(true);
      b.proc.kill('SIGKILL');
      expect(await b.exited).toBe('SIGKILL');

      b = await start(backend, dataDir);
      for (const s of subs) {
        const ack = await s.connect(b.ports.get('mqtt-tcp')!, false);
        expect(ack.sessionPresent).toBe(true);
        await waitFor(() => s.delivered.length >= 1000, `${s.clientId}: 1000 messages`, 30_000);
        expect(new Set(s.delivered).size).toBe(s.delivered.length);
        const byNumber = (a: string, c: string): number => Number(a.slice(1)) - Number(c.slice(1));
        const q1 = s.delivered.filter((m) => Number(m.slice(1)) % 2 === 0);
        const q2 = s.delivered.filter((m) => Number(m.slice(1)) % 2 === 1);
        expect(q1).toEqual([...q1].sort(byNumber));
        expect(q2).toEqual([...q2].sort(byNumber));
        expect(q1.length + q2.length).toBe(1000);
        s.c.close();
      }
      b.proc.kill('SIGTERM');
      expect(await b.exited).toBe(0);
    }, 120_000);
  });
}
