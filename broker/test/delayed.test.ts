// Delayed publish, `$delayed/{seconds}/{topic}` (broker/mqtt/delayed.ts), over real sockets:
// fired no earlier than asked, as if the client published it then; durable before the
// acknowledgement and across a restart; bad intervals refused with 0x90; ACL on the real topic.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerSchema, loadConfig } from '../../common/config/index.js';
import { createLogger } from '../../common/log.js';
import { startBroker, type RunningBroker } from '../server.js';
import { MemorySecurityStore } from '../security/test/memory-security-store.js';
import type { StorageOp } from '../storage/driver.js';
import { MAX_DELAY_SECONDS } from '../mqtt/delayed.js';
import type { IDisconnectPacket, IPubackPacket, IPublishPacket, ISubackPacket, Packet } from '../mqtt/packets.js';
import { collect, connectClient, endClient, rawConnect, rawConnected, uid, waitFor, type RawClient } from './helpers.js';

/** Timers may run a millisecond early and clocks tick coarsely; nothing is asserted beyond "not before". */
const EARLY_TOLERANCE_MS = 20;

interface Env {
  running: RunningBroker;
  port: number;
  dir: string;
}

/** A broker with ACLs from an in-memory store: publishing to `secret/#` and `$delayed/#` is denied. */
async function start(sets: string[], dir = mkdtempSync(path.join(tmpdir(), 'rmq-delayed-'))): Promise<Env> {
  const store = new MemorySecurityStore();
  await store.addAclRule({ who: { kind: 'all' }, action: 'publish', topic: 'secret/#', permission: 'deny' });
  // Were the ACL asked about the `$delayed/...` topic itself, every delayed publish would be denied.
  await store.addAclRule({ who: { kind: 'all' }, action: 'publish', topic: '$delayed/#', permission: 'deny' });
  const config = loadConfig(brokerSchema, {
    sets: ['mqtt.host=127.0.0.1', 'mqtt.tcp_port=0', 'mqtt.ws_port=-1', 'mqtt.tls_port=-1', 'mqtt.wss_port=-1', 'admin.http_port=-1',
      `data_dir=${dir}`, 'storage.driver=memory', 'log.level=error', 'acl.no_match=allow', ...sets],
  });
  const running = await startBroker(config, createLogger('error', 'test'), { securityStore: store });
  return { running, port: running.listeners.find((l) => l.name === 'mqtt-tcp')!.port, dir };
}

/** Stamps each PUBLISH a raw client receives with the time its bytes arrived. */
function stampArrivals(c: RawClient): Map<IPublishPacket, number> {
  const stamps = new Map<IPublishPacket, number>();
  // Registered after RawClient's own listener, so the chunk's packets are already parsed.
  c.socket.on('data', () => {
    const now = Date.now();
    for (const p of c.packets) if (p.cmd === 'publish' && !stamps.has(p)) stamps.set(p, now);
  });
  return stamps;
}

/** Everything the broker sent before answering a PINGREQ sent now (nothing is left in flight). */
async function settle(c: RawClient, version: 4 | 5): Promise<Packet[]> {
  c.send({ cmd: 'pingreq' } as never, version);
  await c.next('pingresp');
  return c.packets.splice(0);
}

async function subscribe(c: RawClient, version: 4 | 5, subscriptions: Array<Record<string, unknown>>): Promise<number[]> {
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions } as never, version);
  return ((await c.next('suback')) as ISubackPacket).granted as number[];
}

function publish(c: RawClient, version: 4 | 5, topic: string, qos: 0 | 1 | 2, messageId?: number, extra: Record<string, unknown> = {}): void {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(topic), qos, retain: false, dup: false, messageId, ...extra } as never, version);
}

const reasonOf = (p: Packet): number => (p as { reasonCode?: number }).reasonCode ?? 0;

describe('delayed publish on one broker', () => {
  let env: Env;
  beforeAll(async () => {
    env = await start([]);
  });
  afterAll(async () => {
    await env.running.close();
    rmSync(env.dir, { recursive: true, force: true });
  });

  it('fires to the real topic no earlier than asked, with QoS, retain, properties and No Local as if published then', async () => {
    const broker = env.running.broker;
    const u = uid();
    const sub = await rawConnected(env.port, 5);
    expect(await subscribe(sub, 5, [{ topic: `d/${u}/#`, qos: 2 }])).toEqual([2]);
    const stamps = stampArrivals(sub);
    const pub = await rawConnected(env.port, 5, { clientId: `pub-${u}` });
    // The publisher's own No Local subscription must not get its delayed message back [MQTT-3.8.3-3];
    // `$delayed/#` is an ordinary filter, which the delayed publishes never reach.
    expect(await subscribe(pub, 5, [{ topic: `d/${u}/nl`, qos: 1, nl: true }, { topic: '$delayed/#', qos: 1 }])).toEqual([1, 1]);
    const firedBefore = broker.delayed.stats.fired;

    const t0 = Date.now();
    publish(pub, 5, `$delayed/1/d/${u}/q1`, 1, 1, { properties: { messageExpiryInterval: 30, contentType: 'text/plain', userProperties: { k: 'v' } } });
    publish(pub, 5, `$delayed/1/d/${u}/q2`, 2, 2, { retain: true });
    publish(pub, 5, `$delayed/1/d/${u}/nl`, 0);
    publish(pub, 5, `$delayed/0/d/${u}/now`, 1, 3);
    const acks = [await pub.next('puback'), await pub.next('pubrec'), await pub.next('puback')];
    expect(acks.map((a) => [(a as IPubackPacket).messageId, reasonOf(a)])).toEqual([[1, 0], [2, 0], [3, 0]]);
    pub.send({ cmd: 'pubrel', messageId: 2 } as never, 5);
    await pub.next('pubcomp');

    const got = new Map<string, IPublishPacket>();
    while (got.size < 4) {
      const p = (await sub.next('publish', 5000)) as IPublishPacket;
      got.set(p.topic, p);
    }
    const now = got.get(`d/${u}/now`)!;
    const late = [`d/${u}/q1`, `d/${u}/q2`, `d/${u}/nl`].map((t) => got.get(t)!);
    const earliest = Math.min(...late.map((p) => stamps.get(p)!));
    expect(earliest - t0).toBeGreaterThanOrEqual(1000 - EARLY_TOLERANCE_MS);
    expect(stamps.get(now)!).toBeLessThanOrEqual(earliest);

    const [q1, q2, nl] = late as [IPublishPacket, IPublishPacket, IPublishPacket];
    expect(q1.qos).toBe(1);
    expect(q1.payload.toString()).toBe(`$delayed/1/d/${u}/q1`);
    expect(q1.properties?.contentType).toBe('text/plain');
    expect(q1.properties?.userProperties).toEqual({ k: 'v' });
    // [MQTT-3.3.2-6] the expiry counts from the firing: a second later, the whole interval is left.
    expect(q1.properties?.messageExpiryInterval).toBe(30);
    expect(q2.qos).toBe(2);
    expect(nl.qos).toBe(0);
    sub.send({ cmd: 'puback', messageId: q1.messageId } as never, 5);

    // Nothing reached the publisher: neither its No Local subscription nor `$delayed/#`.
    expect((await settle(pub, 5)).filter((p) => p.cmd === 'publish')).toEqual([]);
    // The retain flag was applied when it fired: a new subscriber gets the retained message.
    const late2 = await rawConnected(env.port, 5);
    await subscribe(late2, 5, [{ topic: `d/${u}/q2`, qos: 0 }]);
    const retained = (await late2.next('publish')) as IPublishPacket;
    expect([retained.retain, retained.payload.toString()]).toEqual([true, `$delayed/1/d/${u}/q2`]);
    expect(broker.delayed.stats.fired - firedBefore).toBe(4);
    for (const c of [sub, pub, late2]) c.close();
  });

  it('bad intervals and topics: 0x90 in PUBACK/PUBREC (v5 QoS 1/2), DISCONNECT 0x90 (v5 QoS 0), closed (v3)', async () => {
    const broker = env.running.broker;
    const pending = broker.delayed.pending;
    const c = await rawConnected(env.port, 5);
    const bad = ['$delayed/abc/t', '$delayed/-1/t', '$delayed/1.5/t', '$delayed/1e3/t', `$delayed/${MAX_DELAY_SECONDS + 1}/t`,
      '$delayed/99999999999/t', '$delayed//t', '$delayed/10', '$delayed/10/', '$delayed/1/$delayed/1/t'];
    let id = 1;
    for (const topic of bad) {
      publish(c, 5, topic, 1, id);
      const ack = (await c.next('puback')) as IPubackPacket;
      expect([topic, ack.messageId, reasonOf(ack)]).toEqual([topic, id, 0x90]);
      id++;
    }
    publish(c, 5, '$delayed/x/t', 2, id);
    expect(reasonOf(await c.next('pubrec'))).toBe(0x90);
    expect(broker.delayed.pending).toBe(pending);

    // The largest interval is accepted (and removed again so the broker has nothing left over).
    const u = uid();
    publish(c, 5, `$delayed/${MAX_DELAY_SECONDS}/far/${u}`, 1, ++id);
    expect(reasonOf(await c.next('puback'))).toBe(0);
    const far = broker.delayed.list().find((r) => r.message.topic === `far/${u}`)!;
    expect(far.fireAt - Date.now()).toBeGreaterThan(MAX_DELAY_SECONDS * 1000 - 60_000);
    expect(broker.delayed.remove(far.id)).toBe(true);

    // A wildcard in any PUBLISH topic is a protocol violation [MQTT-3.3.2-2]: DISCONNECT 0x90.
    publish(c, 5, '$delayed/1/a/+', 1, ++id);
    expect(reasonOf(await c.next('disconnect'))).toBe(0x90);
    await c.waitClosed();

    const q0 = await rawConnected(env.port, 5);
    publish(q0, 5, '$delayed/soon/t', 0);
    expect(((await q0.next('disconnect')) as IDisconnectPacket).reasonCode).toBe(0x90);
    await q0.waitClosed();

    for (const qos of [0, 1] as const) {
      const v3 = await rawConnected(env.port, 4);
      publish(v3, 4, '$delayed/4294968/t', qos, qos === 0 ? undefined : 1);
      await v3.waitClosed();
      expect(v3.packets.filter((p) => p.cmd === 'puback')).toEqual([]);
    }
    expect(broker.delayed.pending).toBe(pending);
  });

  it('authorization is checked against the real topic, when the PUBLISH arrives', async () => {
    const broker = env.running.broker;
    const accepted = broker.delayed.stats.accepted;
    const v5 = await rawConnected(env.port, 5);
    publish(v5, 5, '$delayed/1/secret/x', 1, 1);
    expect(reasonOf(await v5.next('puback'))).toBe(0x87);
    // The `$delayed/#` deny rule is not consulted: the real topic is allowed (here from mqtt.js).
    const topic = `open/${uid()}`;
    const js = await connectClient(`mqtt://127.0.0.1:${env.port}`, { protocolVersion: 5 });
    const got = collect(js);
    await js.subscribeAsync(topic, { qos: 1 });
    const ack = await js.publishAsync(`$delayed/0/${topic}`, 'js', { qos: 1 });
    expect((ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0).toBe(0);
    await waitFor(() => got.length === 1, 'the delayed message');
    expect([got[0]!.topic, got[0]!.payload]).toEqual([topic, 'js']);
    await endClient(js);
    // v3 has no negative acknowledgement: PUBACK, and the message is not kept [MQTT-3.3.5-2].
    const v3 = await rawConnected(env.port, 4);
    publish(v3, 4, '$delayed/1/secret/y', 1, 3);
    expect(((await v3.next('puback')) as IPubackPacket).messageId).toBe(3);
    expect(broker.delayed.stats.accepted - accepted).toBe(1);
    v5.close();
    v3.close();
  });

  it('QoS 1 is acknowledged only once the record is durable; firing deletes it in the batch that queues the message', async () => {
    const broker = env.running.broker;
    const driver = broker.storage;
    const u = uid();
    // A persistent subscriber that is offline: the fired message goes to its stored queue.
    const offline = `off-${u}`;
    const s1 = await rawConnected(env.port, 4, { clientId: offline, clean: false });
    await subscribe(s1, 4, [{ topic: `dur/${u}`, qos: 1 }]);
    s1.send({ cmd: 'disconnect' } as never, 4);
    await s1.waitClosed();
    await waitFor(() => broker.sessions.get(offline)?.conn === null, 'subscriber offline');

    const batches: StorageOp[][] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => { open = r; });
    const apply = driver.apply.bind(driver);
    driver.apply = async (ops) => {
      batches.push([...ops]);
      await gate;
      return apply(ops);
    };
    try {
      const pub = await rawConnected(env.port, 5, { clientId: `dp-${u}` });
      publish(pub, 5, `$delayed/1/dur/${u}`, 1, 9);
      await waitFor(() => batches.some((b) => b.some((op) => op.op === 'delayed.put' && op.record.message.topic === `dur/${u}`)), 'delayed.put written');
      expect((await settle(pub, 5)).filter((p) => p.cmd === 'puback')).toEqual([]);
      open();
      expect(reasonOf(await pub.next('puback'))).toBe(0);
      const stored = (await driver.listDelayed()).find((r) => r.message.topic === `dur/${u}`)!;
      expect([stored.message.origin, stored.message.qos]).toEqual([`dp-${u}`, 1]);

      await waitFor(() => batches.find((b) => b.some((op) => op.op === 'delayed.delete' && op.id === stored.id)), 'delayed.delete written', 5000);
      const firing = batches.find((b) => b.some((op) => op.op === 'delayed.delete' && op.id === stored.id))!;
      expect(firing.some((op) => op.op === 'out.put' && op.entry.clientId === offline)).toBe(true);
      await waitFor(async () => !(await driver.listDelayed()).some((r) => r.id === stored.id), 'record deleted from storage');
      pub.close();
    } finally {
      driver.apply = apply;
      open();
    }
    const back = await rawConnect(env.port, 4, { clientId: offline, clean: false });
    expect(((await back.c.next('publish')) as IPublishPacket).topic).toBe(`dur/${u}`);
    back.c.close();
  });

  it('not acknowledged and not kept when storage fails (v5 0x80)', async () => {
    const broker = env.running.broker;
    const driver = broker.storage;
    const apply = driver.apply.bind(driver);
    driver.apply = async (ops) => {
      if (ops.some((op) => op.op === 'delayed.put')) throw new Error('disk on fire');
      return apply(ops);
    };
    try {
      const pending = broker.delayed.pending;
      const pub = await rawConnected(env.port, 5);
      publish(pub, 5, `$delayed/1/fail/${uid()}`, 1, 4);
      expect(reasonOf(await pub.next('puback'))).toBe(0x80);
      expect(broker.delayed.pending).toBe(pending);
      pub.close();
    } finally {
      driver.apply = apply;
    }
  });
});

describe('delayed publish across a restart (LevelDB)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rmq-delayed-ldb-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a stored record fires after the broker restarts, still no earlier than asked', async () => {
    const sets = ['storage.driver=leveldb'];
    const u = uid();
    const subId = `rs-${u}`;
    let env = await start(sets, dir);
    try {
      const s = await rawConnected(env.port, 4, { clientId: subId, clean: false });
      await subscribe(s, 4, [{ topic: `rs/${u}`, qos: 1 }]);
      s.send({ cmd: 'disconnect' } as never, 4);
      await s.waitClosed();
      const pub = await rawConnected(env.port, 5);
      const t0 = Date.now();
      publish(pub, 5, `$delayed/1/rs/${u}`, 1, 1);
      expect(reasonOf(await pub.next('puback'))).toBe(0);
      pub.close();
      expect(env.running.broker.delayed.pending).toBe(1);
      await env.running.close();

      env = await start(sets, dir);
      const broker = env.running.broker;
      expect(broker.delayed.pending + broker.delayed.stats.fired).toBe(1);
      const back = await rawConnected(env.port, 4, { clientId: subId, clean: false });
      const stamps = stampArrivals(back);
      const p = (await back.next('publish', 5000)) as IPublishPacket;
      expect(p.topic).toBe(`rs/${u}`);
      // Delivered either live (fired after the reconnect) or from the queue (fired before it).
      const arrived = stamps.get(p) ?? Date.now();
      expect(arrived - t0).toBeGreaterThanOrEqual(1000 - EARLY_TOLERANCE_MS);
      back.send({ cmd: 'puback', messageId: p.messageId } as never, 4);
      await waitFor(async () => (await broker.storage.listDelayed()).length === 0, 'record deleted after firing');
      back.close();
    } finally {
      await env.running.close();
    }
  });
});
