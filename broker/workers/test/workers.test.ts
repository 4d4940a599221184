// `broker start --set workers=2` as real processes: one port, two worker brokers, publishes
// routed between them, and a worker killed with -9 that the primary restarts without losing an
// acknowledged QoS 1 message of a persistent session.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, tlsDir, waitFor } from '../../test/helpers.js';
import { ensureFreshBuild } from '../../test/process-helpers.js';
import type { WorkerInfo } from '../worker-pool.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'robustmq-workers-'));
let primary: ChildProcess;
let stdout = '';
let stderr = '';
const ports = new Map<string, number>();
const clients: MqttClient[] = [];

function startPrimary(): Promise<void> {
  const sets = ['workers=2', 'mqtt.host=127.0.0.1', 'admin.host=127.0.0.1', 'mqtt.tcp_port=0', 'mqtt.ws_port=0', 'mqtt.tls_port=0',
    'mqtt.wss_port=-1', `tls.cert_file=${path.join(tlsDir, 'server.crt')}`, `tls.key_file=${path.join(tlsDir, 'server.key')}`,
    `tls.ca_file=${path.join(tlsDir, 'ca.crt')}`, 'admin.http_port=0', `data_dir=${dataDir}`, 'storage.driver=leveldb', 'log.level=warn'];
  primary = spawn(process.execPath, [path.join(repoRoot, 'dist/bin/broker.js'), 'start', ...sets.flatMap((s) => ['--set', s])], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
  });
  primary.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening lines in time; stderr:\n${stderr}`)), 45_000);
    primary.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      for (const m of stdout.matchAll(/^listening (\S+) \S+:(\d+)$/gm)) ports.set(m[1]!, Number(m[2]));
      if (ports.has('mqtt-tcp') && ports.has('admin-http') && ports.has('placement-grpc')) {
        clearTimeout(timer);
        resolve();
      }
    });
    primary.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`primary exited (${code}) before listening; stderr:\n${stderr}`));
    });
  });
}

async function api<T>(p: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${ports.get('admin-http')}${p}`);
  if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const workers = (): Promise<WorkerInfo[]> => api<WorkerInfo[]>('/api/workers');

/** The worker (1 or 2) a client id is connected to, through each worker's admin API behind the primary. */
async function workerOf(clientId: string): Promise<number> {
  return waitFor(async () => {
    for (const w of [1, 2]) {
      const rows = await api<{ client_id: string }[]>(`/api/clients?worker=${w}`);
      if (rows.some((r) => r.client_id === clientId)) return w;
    }
    return 0;
  }, `client ${clientId} in a worker's client list`);
}

interface Client {
  c: MqttClient;
  /** Every message since before CONNECT (a resumed session's queue may arrive with the CONNACK). */
  got: { topic: string; payload: string }[];
  sessionPresent: boolean;
}

const urls = {
  tcp: () => `mqtt://127.0.0.1:${ports.get('mqtt-tcp')}`,
  ws: () => `ws://127.0.0.1:${ports.get('mqtt-ws')}/mqtt`,
  tls: () => `mqtts://localhost:${ports.get('mqtt-tls')}`,
};

function client(clientId: string, extra: IClientOptions = {}, transport: keyof typeof urls = 'tcp'): Promise<Client> {
  const url = urls[transport]();
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
    clients.push(c);
    const got: Client['got'] = [];
    c.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    c.once('error', reject);
    c.once('connect', (ack) => {
      c.removeListener('error', reject);
      resolve({ c, got, sessionPresent: ack.sessionPresent });
    });
  });
}

function publish(c: MqttClient, topic: string, payload: string, qos: 0 | 1 | 2): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve())));
}

beforeAll(async () => {
  ensureFreshBuild();
  await startPrimary();
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  if (primary.exitCode === null) {
    const gone = new Promise((r) => primary.once('exit', r));
    primary.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    primary.kill('SIGKILL');
  }
  rmSync(dataDir, { recursive: true, force: true });
}, 20_000);

describe('broker start --set workers=2', () => {
  it('prints one listening line per listener and runs two worker processes', async () => {
    const names = [...stdout.matchAll(/^listening (\S+) /gm)].map((m) => m[1]);
    expect(names.sort()).toEqual(['admin-http', 'mqtt-tcp', 'mqtt-tls', 'mqtt-ws', 'placement-grpc']);
    const ws = await workers();
    expect(ws.map((w) => [w.worker, w.node_id, w.state])).toEqual([[1, 1, 'ready'], [2, 2, 'ready']]);
    const pids = ws.map((w) => w.pid);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(primary.pid);
  });

  it('spreads clients of one port over the workers and routes between them (QoS 0/1/2, wildcards, one shared copy)', async () => {
    const { c: s1, got: got1 } = await client('w-sub-1');
    const { c: s2, got: got2 } = await client('w-sub-2');
    const { c: p1 } = await client('w-pub-1');
    const { c: p2 } = await client('w-pub-2');
    // WebSocket: the upgrade handshake happens in the worker the primary handed the socket to.
    const { c: s3, got: got3 } = await client('w-sub-ws', {}, 'ws');
    // TLS with a client certificate: the handshake happens in the worker as well.
    const { c: s4, got: got4 } = await client('w-sub-tls', {
      ca: readFileSync(path.join(tlsDir, 'ca.crt')), cert: readFileSync(path.join(tlsDir, 'client.crt')), key: readFileSync(path.join(tlsDir, 'client.key')),
    }, 'tls');
    const tlsRow = (await api<{ client_id: string; transport: string }[]>(`/api/clients?worker=${await workerOf('w-sub-tls')}`)).find((r) => r.client_id === 'w-sub-tls');
    expect(tlsRow?.transport).toBe('tls');
    const [ws1, ws2, wp1, wp2] = [await workerOf('w-sub-1'), await workerOf('w-sub-2'), await workerOf('w-pub-1'), await workerOf('w-pub-2')];
    expect(ws1).not.toBe(ws2);
    expect(wp1).not.toBe(wp2);
    await s1.subscribeAsync({ 'r/+/x': { qos: 2 }, '$share/g/s/t': { qos: 1 } });
    await s2.subscribeAsync({ 'r/#': { qos: 2 }, '$share/g/s/t': { qos: 1 } });
    await s3.subscribeAsync('r/+/x', { qos: 2 });
    await s4.subscribeAsync('r/+/x', { qos: 2 });

    // Routes reach the other worker through placement: wait until each publisher reaches both subscribers.
    const probed = (got: typeof got1, who: string): boolean => got.some((m) => m.payload === `probe-${who}`);
    await waitFor(async () => {
      await Promise.all([publish(p1, 'r/probe/x', 'probe-p1', 0), publish(p2, 'r/probe/x', 'probe-p2', 0)]);
      return [got1, got2, got3, got4].every((g) => probed(g, 'p1') && probed(g, 'p2'));
    }, 'routes on both workers', 10_000);

    for (const g of [got1, got2, got3, got4]) g.length = 0;
    for (const [p, name] of [[p1, 'p1'], [p2, 'p2']] as const) {
      for (const qos of [0, 1, 2] as const) await publish(p, 'r/a/x', `${name}-q${qos}`, qos);
      await publish(p, 'r/a/y', `${name}-only-hash`, 1);
      for (let i = 0; i < 20; i++) await publish(p, 's/t', `${name}-shared-${i}`, 1);
      await publish(p, 'r/end/x', `${name}-end`, 1);
    }
    const done = (got: typeof got1): boolean => got.some((m) => m.payload === 'p1-end') && got.some((m) => m.payload === 'p2-end');
    await waitFor(() => [got1, got2, got3, got4].every(done), 'every subscriber saw the end markers', 10_000);

    const exact = ['p1-q0', 'p1-q1', 'p1-q2', 'p2-q0', 'p2-q1', 'p2-q2'];
    const on = (got: typeof got1, topic: string): string[] => got.filter((m) => m.topic === topic).map((m) => m.payload).sort();
    expect(on(got1, 'r/a/x')).toEqual(exact);
    expect(on(got2, 'r/a/x')).toEqual(exact);
    expect(on(got3, 'r/a/x')).toEqual(exact);
    expect(on(got4, 'r/a/x')).toEqual(exact);
    // r/a/y matches r/# (worker of s2) but not r/+/x (worker of s1).
    expect(on(got1, 'r/a/y')).toEqual([]);
    expect(on(got2, 'r/a/y')).toEqual(['p1-only-hash', 'p2-only-hash']);
    // The shared group spans both workers: each message reaches exactly one member, cluster-wide.
    const shared = [...on(got1, 's/t'), ...on(got2, 's/t')].sort();
    const sent = ['p1', 'p2'].flatMap((n) => Array.from({ length: 20 }, (_, i) => `${n}-shared-${i}`)).sort();
    expect(shared).toEqual(sent);
    expect(on(got1, 's/t').length).toBeGreaterThan(0);
    expect(on(got2, 's/t').length).toBeGreaterThan(0);
    for (const c of [s1, s2, s3, s4, p1, p2]) await c.endAsync();
  });

  it('restarts a worker killed with -9; an offline persistent session on it resumes with every acknowledged QoS 1 message, then moves to the other worker', async () => {
    const sessionOpts = { clean: false, properties: { sessionExpiryInterval: 600 } };
    const { c: ps, got } = await client('w-persistent', sessionOpts);
    await ps.subscribeAsync('k/#', { qos: 1 });
    const victim = await workerOf('w-persistent');
    // A publisher on the other worker: round robin sends the next connection elsewhere, checked.
    let pub: MqttClient | undefined;
    for (let i = 0; i < 4 && pub === undefined; i++) {
      const { c } = await client(`w-kpub-${i}`);
      if ((await workerOf(`w-kpub-${i}`)) !== victim) pub = c;
      else await c.endAsync();
    }
    expect(pub).toBeDefined();
    await waitFor(async () => {
      await publish(pub!, 'k/probe', 'probe', 0);
      return got.some((m) => m.topic === 'k/probe');
    }, 'route of k/# on the publisher\'s worker', 10_000);

    // Offline from here: what follows is queued in the session's storage on the victim worker.
    await ps.endAsync();
    const acked: string[] = [];
    for (let i = 0; i < 10; i++) {
      await publish(pub!, 'k/m', `before-${i}`, 1);
      acked.push(`before-${i}`);
    }
    const before = (await workers()).find((w) => w.worker === victim)!;
    process.kill(before.pid!, 'SIGKILL');

    // Published while the worker is down or restarting: acknowledged only once its storage has them
    // (after the restart the link resends), or refused (v5 0x80) if placement declared it dead first.
    const during = Array.from({ length: 20 }, (_, i) => publish(pub!, 'k/m', `during-${i}`, 1).then(() => acked.push(`during-${i}`), () => undefined));

    const restarted: WorkerInfo = await waitFor(async () => {
      const w = (await workers()).find((x) => x.worker === victim)!;
      return w.state === 'ready' && w.pid !== before.pid ? w : null;
    }, 'the primary restarted the worker', 20_000) as WorkerInfo;
    expect(restarted.restarts).toBe(1);
    await Promise.race([Promise.all(during), new Promise((r) => setTimeout(r, 15_000))]);

    const back = await client('w-persistent', sessionOpts);
    expect(back.sessionPresent).toBe(true);
    const again = back.got;
    const missing = (): string[] => acked.filter((p) => !again.some((m) => m.payload === p));
    await waitFor(() => missing().length === 0, 'every acknowledged message after the restart', 15_000).catch((err: unknown) => {
      throw new Error(`${String(err)}: missing ${missing().join(',')} of ${acked.length}; received ${again.map((m) => m.payload).join(',')}\n${stderr.slice(-3000)}`);
    });
    expect(acked.length).toBeGreaterThanOrEqual(10);
    expect(restarted.node_id).toBe(before.node_id);

    // Round robin alternates: the next connection lands on the other worker, which takes the
    // session over from its owner across the link (queued messages included).
    const first = await workerOf('w-persistent');
    await back.c.endAsync();
    const later = ['after-0', 'after-1', 'after-2'];
    for (const p of later) await publish(pub!, 'k/m', p, 1);
    const third = await client('w-persistent', sessionOpts);
    expect(third.sessionPresent).toBe(true);
    expect(await workerOf('w-persistent')).not.toBe(first);
    await waitFor(() => later.every((p) => third.got.some((m) => m.payload === p)), 'messages queued before the session moved', 10_000);
  });
});
