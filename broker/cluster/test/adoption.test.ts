// A broker that leaves the cluster while its clients' sessions live in the shared journal: a
// survivor adopts them (session present on reconnect, queued messages, subscriptions), publishes
// the wills of its connected clients, and acknowledges publishers again; the broker that comes
// back finds its sessions owned elsewhere and drops them; a client moving back takes its
// session over as usual. Everything in process, over real gRPC and a real journal node.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journalSchema, loadConfig } from '../../../common/config/index.js';
import { createLogger } from '../../../common/log.js';
import { startJournal, type StartedJournal } from '../../../journal/service/start-journal.js';
import { collect, connectClient, endClient, uid, waitFor, type TestBroker } from '../../test/helpers.js';
import { startTestCluster, type TestCluster } from './cluster-harness.js';

let journal: StartedJournal;
let cluster: TestCluster;
const dir = mkdtempSync(path.join(tmpdir(), 'robustmq-adoption-'));

function connectRaw(url: string, opts: mqtt.IClientOptions): Promise<{ c: mqtt.MqttClient; present: boolean; got: ReturnType<typeof collect> }> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { ...opts, reconnectPeriod: 0 });
    const got = collect(c);
    c.once('connect', (ack) => resolve({ c, present: ack.sessionPresent, got }));
    c.once('error', reject);
  });
}

beforeAll(async () => {
  const jconfig = loadConfig(journalSchema, { sets: ['node_id=1', 'grpc_port=0', 'placement.addrs=[]', `data_dir=${path.join(dir, 'journal')}`, 'log.level=error'] });
  journal = await startJournal(jconfig, createLogger('error', 'journal'));
  cluster = await startTestCluster(2, ['storage.driver=journal', `storage.journal.addrs=["${journal.addr}"]`, 'storage.journal.acks="1"']);
}, 60_000);

afterAll(async () => {
  await cluster?.close();
  await journal?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('adopting the sessions of a broker that left', () => {
  it('moves sessions, queues and wills to a survivor; the returning broker drops them; clients move back', async () => {
    const [b1, b2] = cluster.brokers as [TestBroker, TestBroker];
    const clientId = `adopt-${uid()}`;
    const t = `adopt/${uid()}`;
    const willTopic = `will/${uid()}`;
    const opts = { clientId, clean: false, protocolVersion: 5 as const, properties: { sessionExpiryInterval: 300 } };

    const sub = await connectClient(b1.url('mqtt'), opts);
    await sub.subscribeAsync(t, { qos: 1 });
    await endClient(sub);
    const watcher = await connectClient(b2.url('mqtt'));
    const wills = collect(watcher);
    await watcher.subscribeAsync(willTopic, { qos: 1 });
    // A connected client with a will, on the broker that will go.
    const holder = mqtt.connect(b1.url('mqtt'), {
      clientId: `holder-${uid()}`, protocolVersion: 5, reconnectPeriod: 0, will: { topic: willTopic, payload: Buffer.from('gone'), qos: 1, retain: false },
    });
    holder.on('error', () => undefined);
    await new Promise((r) => holder.once('connect', r));

    await waitFor(() => b2.cluster!.routes.match(t).brokers.includes(1), 'broker 2 routes to broker 1');
    const pub = await connectClient(b2.url('mqtt'));
    for (let i = 0; i < 5; i++) await pub.publishAsync(t, `q${i}`, { qos: 1 });
    await waitFor(() => (b1.broker.sessions.get(clientId)?.queued ?? 0) === 5, 'five queued on broker 1');

    // Broker 1 goes; its sessions are in its journal shards.
    cluster.brokers.splice(0, 1);
    await b1.stop();
    await waitFor(() => b2.cluster!.adoptionStats.brokersAdopted === 1, 'broker 2 adopted broker 1', 15_000);
    expect(b2.cluster!.adoptionStats.sessionsAdopted).toBeGreaterThanOrEqual(1);
    await waitFor(() => wills.some((m) => m.topic === willTopic && m.payload === 'gone'), 'the will of the client on broker 1 is published');
    // Publishes for the adopted session are acknowledged and queued here.
    await pub.publishAsync(t, 'q5', { qos: 1 });
    holder.end(true);

    const moved = await connectRaw(b2.url('mqtt'), opts);
    expect(moved.present).toBe(true);
    await waitFor(() => moved.got.length === 6, 'queued messages delivered on broker 2');
    expect(moved.got.map((g) => g.payload)).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5']);
    await endClient(moved.c);

    // Broker 1 comes back on the same shards: it must not resurrect the adopted session.
    const back = await cluster.startBroker(1, ['storage.driver=journal', `storage.journal.addrs=["${journal.addr}"]`, 'storage.journal.acks="1"']);
    await cluster.converged();
    expect(back.broker.sessions.has(clientId)).toBe(false);
    await pub.publishAsync(t, 'q6', { qos: 1 });
    const home = await connectRaw(back.url('mqtt'), opts);
    expect(home.present).toBe(true);
    await waitFor(() => home.got.length === 1, 'the message queued on broker 2 arrives on broker 1');
    expect(home.got[0]!.payload).toBe('q6');
    await endClient(home.c);
    await endClient(pub);
    await endClient(watcher);
  }, 60_000);

  it('storage.driver = "auto" in a cluster: the journal nodes registered in placement, LevelDB when none is', async () => {
    const alone = await cluster.startBroker(7, ['storage.driver=auto', 'storage.journal.addrs=[]']);
    expect(alone.broker.storage.name).toBe('leveldb');
    const jconfig = loadConfig(journalSchema, {
      sets: ['node_id=2', 'grpc_port=0', `placement.addrs=["${cluster.placementAddress}"]`, `data_dir=${path.join(dir, 'journal-registered')}`, 'log.level=error'],
    });
    const registered = await startJournal(jconfig, createLogger('error', 'journal'));
    try {
      const b = await cluster.startBroker(8, ['storage.driver=auto', 'storage.journal.addrs=[]']);
      expect(b.broker.storage.name).toBe('journal');
      await b.stop();
      cluster.brokers.splice(cluster.brokers.indexOf(b), 1);
    } finally {
      await registered.close();
    }
    await alone.stop();
    cluster.brokers.splice(cluster.brokers.indexOf(alone), 1);
  });

  it('refuses client ids reserved for the cluster with 0x85', async () => {
    const b = cluster.brokers[0]!;
    const err = await new Promise<Error & { code?: number }>((resolve) => {
      const c = mqtt.connect(b.url('mqtt'), { clientId: '$cluster/storage/1', protocolVersion: 5, reconnectPeriod: 0 });
      c.once('error', (e) => {
        c.end(true);
        resolve(e as Error & { code?: number });
      });
    });
    expect(err.code).toBe(0x85);
  });
});
