// Real processes: one placement node, three journal nodes (the brokers' shared storage: each
// broker's state is its own shard prefix, replicated on all three, written with acks=quorum) and
// two brokers. Every broker is reached through a controllable TCP proxy for its MQTT port — the
// "load balancer" the clients dial — and one for its placement connection. A QoS 1 and a QoS 2
// publisher and one persistent QoS 2 subscriber at home on each broker, while a nemesis, in turn:
//   - kills a broker with -9; its proxy sends the clients to the other broker, which adopts the
//     dead broker's sessions from the journal (they resume there); then restarts it;
//   - cuts a broker off from placement for longer than its heartbeat timeout: it fences itself
//     (closes its clients, acknowledges nothing), the other adopts its sessions, and when it is
//     back its returning clients take their sessions over;
//   - kills a journal node with -9 and restarts it;
//   - partitions a journal node from placement, its peers and the brokers, then heals it.
// Afterwards the cluster must converge (a probe crosses both ways) and the checker
// (../checker.ts) must find no lost acknowledged message, no QoS 2 duplicate and no reordering
// per publisher.
//
//   npx vitest run jepsen-like-tests/cluster                      short profile (CI)
//   JEPSEN_CLUSTER_SECONDS=120 npx vitest run jepsen-like-tests/cluster   long profile

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBuilt as ensureServicesBuilt } from '../../../journal/service/test/journal-process.js';
import { JournalCluster } from '../../journal/test/journal-cluster.js';
import { TcpProxy } from '../../placement/tcp-proxy.js';
import { repoRoot } from '../../../broker/test/helpers.js';
import { ensureFreshBuild } from '../../../broker/test/process-helpers.js';
import { checkHistory, type DeliveryRecord, type PublishRecord } from '../checker.js';

const SECONDS = Number(process.env.JEPSEN_CLUSTER_SECONDS ?? 20);
const TOPIC = 'jepsen/cluster';
const JOURNAL_TIMING = { refreshMs: 100, electionTimeoutMs: 1000, isrLagMs: 2000, fetchMaxWaitMs: 300, rpcTimeoutMs: 800 };

interface BrokerProc {
  id: number;
  dir: string;
  mqttProxy: TcpProxy;
  placementProxy: TcpProxy;
  child: ChildProcess | undefined;
  port: number;
  stderr: string;
}

let journals: JournalCluster | undefined;

async function spawnBroker(b: BrokerProc): Promise<void> {
  const sets = [
    `node_id=${b.id}`, 'grpc_port=0', 'mqtt.host=127.0.0.1', 'admin.host=127.0.0.1', 'mqtt.tcp_port=0',
    'mqtt.ws_port=-1', 'mqtt.tls_port=-1', 'mqtt.wss_port=-1', 'admin.http_port=-1', `data_dir=${b.dir}`,
    'storage.driver=journal', `storage.journal.addrs=${JSON.stringify(journals!.clientAddresses)}`, 'storage.journal.replicas=3',
    'storage.journal.acks="quorum"', `placement.addrs=["${b.placementProxy.address}"]`, 'cluster.heartbeat_timeout="1500ms"',
    'cluster.takeover_timeout="2s"', 'log.level=info',
  ];
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist/bin/broker.js'), 'start', ...sets.flatMap((s) => ['--set', s])], { stdio: ['ignore', 'pipe', 'pipe'] });
  b.child = child;
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { b.stderr = (b.stderr + d).slice(-200_000); });
  b.port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`broker ${b.id} did not start; stderr:\n${b.stderr}`)), 30_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = /listening mqtt-tcp [^\s]+:(\d+)/.exec(out);
      if (m && /listening broker-grpc/.test(out)) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`broker ${b.id} exited (${code ?? signal}); stderr:\n${b.stderr}`));
    });
  });
  b.mqttProxy.setTarget('127.0.0.1', b.port);
}

async function kill9(b: BrokerProc): Promise<void> {
  const child = b.child;
  if (!child || child.exitCode !== null) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  await done;
  b.child = undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cluster under faults (real processes)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'cluster-jepsen-'));
  const brokers: BrokerProc[] = [];
  const clients: MqttClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const b of brokers) {
      await kill9(b);
      await b.mqttProxy.close();
      await b.placementProxy.close();
    }
    await journals?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged message, duplicates no QoS 2 message, keeps per-publisher order, converges', async () => {
    ensureFreshBuild();
    ensureServicesBuilt();
    journals = await JournalCluster.start(3, JOURNAL_TIMING);
    for (const id of [1, 2]) {
      const b: BrokerProc = { id, dir: path.join(dir, `b${id}`), mqttProxy: await TcpProxy.start(), placementProxy: await TcpProxy.start(), child: undefined, port: 0, stderr: '' };
      const [host, port] = journals.placementAddress.split(':');
      b.placementProxy.setTarget(host!, Number(port));
      brokers.push(b);
    }
    await Promise.all(brokers.map((b) => spawnBroker(b)));

    const deliveries: DeliveryRecord[] = [];
    const subscribers = ['sub-1', 'sub-2'];
    // Persistent subscribers, each at home on one broker (reconnecting there after a crash).
    await Promise.all(subscribers.map((id, i) => new Promise<void>((resolve, reject) => {
      const c = mqtt.connect(`mqtt://${brokers[i]!.mqttProxy.address}`, {
        clientId: id, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 250, connectTimeout: 3000, reconnectOnConnackError: true,
      });
      clients.push(c);
      c.on('message', (_t, payload) => {
        const [publisher, seq] = payload.toString().split(':');
        deliveries.push({ subscriber: id, publisher: publisher!, seq: Number(seq) });
      });
      c.once('connect', () => c.subscribeAsync(TOPIC, { qos: 2 }).then(() => resolve(), reject));
      c.on('error', () => undefined);
    })));

    const publishes: PublishRecord[] = [];
    let stop = false;
    const publisher = async (name: string, broker: BrokerProc, qos: 1 | 2): Promise<void> => {
      // Exactly once needs the publisher's session (its QoS 2 packet ids) to outlive a reconnect.
      const c = mqtt.connect(`mqtt://${broker.mqttProxy.address}`, {
        clientId: name, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 250, connectTimeout: 3000, reconnectOnConnackError: true,
      });
      clients.push(c);
      c.on('error', () => undefined);
      let seq = 0;
      while (!stop) {
        if (!c.connected) {
          await sleep(50);
          continue;
        }
        const rec: PublishRecord = { publisher: name, seq: ++seq, qos, acked: false };
        publishes.push(rec);
        try {
          await Promise.race([
            c.publishAsync(TOPIC, `${name}:${seq}`, { qos }),
            sleep(3000).then(() => { throw new Error('no ack in 3 s'); }),
          ]);
          rec.acked = true;
        } catch {
          await sleep(100);
        }
      }
    };
    const pubs = [publisher('pub-1a', brokers[0]!, 1), publisher('pub-1b', brokers[0]!, 2), publisher('pub-2a', brokers[1]!, 1), publisher('pub-2b', brokers[1]!, 2)];

    // Nemesis.
    const deadline = Date.now() + SECONDS * 1000;
    let faults = 0;
    const kinds = { brokerKill: 0, brokerFence: 0, journalKill: 0, journalPartition: 0 };
    while (Date.now() < deadline) {
      await sleep(1500);
      const kind = faults % 4;
      const b = brokers[Math.floor(faults / 4) % 2]!;
      const other = brokers.find((x) => x !== b)!;
      if (kind === 0) {
        // The load balancer sends the dead broker's clients to the other one.
        await kill9(b);
        b.mqttProxy.setTarget('127.0.0.1', other.port);
        await sleep(3500);
        await spawnBroker(b);
        kinds.brokerKill++;
      } else if (kind === 1) {
        b.placementProxy.setMode('blackhole');
        await sleep(3500);
        b.placementProxy.setMode('pass');
        kinds.brokerFence++;
      } else if (kind === 2) {
        const j = (Math.floor(faults / 4) % 3) + 1;
        await journals.kill(j);
        await sleep(2000);
        await journals.startNode(j);
        kinds.journalKill++;
      } else {
        // Cut off from placement, its peers and the brokers alike, while it keeps running.
        const j = ((Math.floor(faults / 4) + 1) % 3) + 1;
        journals.partition(j);
        await sleep(3000);
        journals.heal(j);
        kinds.journalPartition++;
      }
      faults++;
    }
    stop = true;
    await Promise.all(pubs);

    // Convergence: a probe from each broker reaches both subscribers.
    const probeStart = Date.now();
    const probe = async (): Promise<boolean> => {
      const tag = `probe-${Date.now()}`;
      for (const b of brokers) {
        const c = await mqtt.connectAsync(`mqtt://${b.mqttProxy.address}`, { protocolVersion: 5, reconnectPeriod: 0 });
        await c.publishAsync(TOPIC, `${tag}-${b.id}:1`, { qos: 1 }).catch(() => undefined);
        await c.endAsync();
      }
      await sleep(300);
      return subscribers.every((s) => brokers.every((b) => deliveries.some((d) => d.subscriber === s && d.publisher === `${tag}-${b.id}`)));
    };
    let converged = false;
    while (!converged && Date.now() - probeStart < 20_000) converged = await probe().catch(() => false);
    const convergeMs = Date.now() - probeStart;
    // Let every acknowledged message in flight arrive.
    await sleep(1500);

    const v = checkHistory(publishes.filter((p) => !p.publisher.startsWith('probe')), deliveries.filter((d) => !d.publisher.startsWith('probe')), subscribers);
    const summary = { faults: kinds, publishes: publishes.length, acked: v.acked, deliveries: deliveries.length, lost: v.lost.length, dupQos2: v.duplicatedQos2.length, outOfOrder: v.outOfOrder.length, convergeMs };
    console.log('cluster jepsen:', JSON.stringify(summary));
    if (!v.ok || !converged) {
      const file = path.join(tmpdir(), `robustmq-cluster-jepsen-${Date.now()}.json`);
      writeFileSync(file, JSON.stringify({ summary, verdict: v, publishes, deliveries, stderr: brokers.map((b) => b.stderr), journals: journals.logs() }, null, 1));
      console.log('history written to', file);
    }
    expect(converged).toBe(true);
    expect(v.acked).toBeGreaterThan(100);
    expect(v.lost.slice(0, 10)).toEqual([]);
    expect(v.duplicatedQos2.slice(0, 10)).toEqual([]);
    expect(v.outOfOrder.slice(0, 10)).toEqual([]);
  }, 180_000);
});
