// Exclusive subscriptions, `$exclusive/{filter}` (broker/mqtt/exclusive.ts), over real sockets:
// one session at a time holds one; others get 0x97 (v5) / 0x80 (v3); the lock goes with
// UNSUBSCRIBE or the end of the session, not when a persistent session goes offline.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../mqtt/codec/index.js';
import { LocalExclusiveLocks, type ExclusiveLocks } from '../mqtt/exclusive.js';
import type { IPublishPacket, ISubackPacket, IUnsubackPacket, Packet } from '../mqtt/packets.js';
import { connectClient, endClient, rawConnected, startTestBroker, uid, waitFor, type RawClient, type TestBroker } from './helpers.js';

let broker: TestBroker;
let port: number;
beforeAll(async () => {
  broker = await startTestBroker();
  port = broker.port('mqtt-tcp');
});
afterAll(async () => {
  await broker.stop();
});

let nextId = 1;

async function subscribe(c: RawClient, version: 4 | 5, ...topics: string[]): Promise<number[]> {
  c.send({ cmd: 'subscribe', messageId: nextId++, subscriptions: topics.map((topic) => ({ topic, qos: 1 })) } as never, version);
  return ((await c.next('suback')) as ISubackPacket).granted as number[];
}

async function unsubscribe(c: RawClient, version: 4 | 5, topic: string): Promise<number[]> {
  c.send({ cmd: 'unsubscribe', messageId: nextId++, unsubscriptions: [topic] } as never, version);
  return ((await c.next('unsuback')) as IUnsubackPacket).granted as number[];
}

function publish(c: RawClient, version: 4 | 5, topic: string, payload: string, retain = false): void {
  c.send({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain, dup: false } as never, version);
}

/** Everything the broker sent before answering a PINGREQ sent now. */
async function settle(c: RawClient, version: 4 | 5): Promise<Packet[]> {
  c.send({ cmd: 'pingreq' } as never, version);
  await c.next('pingresp');
  return c.packets.splice(0);
}

async function disconnect(c: RawClient, version: 4 | 5, clientId: string): Promise<void> {
  c.send({ cmd: 'disconnect' } as never, version);
  await c.waitClosed();
  await waitFor(() => (broker.broker.sessions.get(clientId)?.conn ?? null) === null, 'disconnect handled');
}

describe('exclusive subscriptions', () => {
  it('one holder at a time: 0x97 (v5) / 0x80 (v3) for another session; the holder may subscribe again and gets the messages', async () => {
    const u = uid();
    const filter = `$exclusive/ex/${u}/#`;
    const pub = await rawConnected(port, 5);
    publish(pub, 5, `ex/${u}/kept`, 'retained', true);
    await settle(pub, 5);

    const a = await rawConnected(port, 5);
    expect(await subscribe(a, 5, filter)).toEqual([1]);
    // Retained messages are sent as for any subscription to `ex/${u}/#`.
    const retained = (await a.next('publish')) as IPublishPacket;
    expect([retained.topic, retained.retain]).toEqual([`ex/${u}/kept`, true]);

    const b5 = await rawConnected(port, 5);
    const b3 = await rawConnected(port, 4);
    expect(await subscribe(b5, 5, filter, `ex/${u}/plain`)).toEqual([0x97, 1]);
    expect(await subscribe(b3, 4, filter)).toEqual([0x80]);
    // What an mqtt.js MQTT 5 application sees.
    const js = await connectClient(broker.url('mqtt'), { protocolVersion: 5 });
    await expect(js.subscribeAsync(filter, { qos: 1 })).rejects.toThrow(/Quota exceeded/);
    await endClient(js);
    // [MQTT-3.8.4-3] the same session subscribing again replaces its subscription.
    expect(await subscribe(a, 5, filter)).toEqual([1]);
    expect((await a.next('publish') as IPublishPacket).topic).toBe(`ex/${u}/kept`);

    publish(pub, 5, `ex/${u}/x`, 'live');
    const got = (await a.next('publish')) as IPublishPacket;
    expect([got.topic, got.payload.toString()]).toEqual([`ex/${u}/x`, 'live']);
    expect((await settle(b3, 4)).filter((p) => p.cmd === 'publish')).toEqual([]);
    // `$exclusive/...` is not itself a topic anyone publishes to.
    publish(pub, 5, filter.replace('#', 'y'), 'not-for-a');
    await settle(pub, 5);
    expect((await settle(a, 5)).filter((p) => p.cmd === 'publish')).toEqual([]);
    for (const c of [pub, a, b5, b3]) c.close();
  });

  it('released by UNSUBSCRIBE and when a non-persistent session ends (clean or abnormal close)', async () => {
    const u = uid();
    const filter = `$exclusive/rel/${u}`;
    const a = await rawConnected(port, 5, { clientId: `a-${u}` });
    const b = await rawConnected(port, 4, { clientId: `b-${u}` });
    expect(await subscribe(a, 5, filter)).toEqual([1]);
    expect(await subscribe(b, 4, filter)).toEqual([0x80]);
    expect(await unsubscribe(a, 5, filter)).toEqual([0]);
    expect(await subscribe(b, 4, filter)).toEqual([1]);
    expect(await subscribe(a, 5, filter)).toEqual([0x97]);

    await disconnect(b, 4, `b-${u}`);
    expect(await subscribe(a, 5, filter)).toEqual([1]);
    // An abnormal close ends a clean session too.
    a.close();
    await waitFor(() => !broker.broker.sessions.has(`a-${u}`), 'session a ended');
    const c = await rawConnected(port, 5);
    expect(await subscribe(c, 5, filter)).toEqual([1]);
    c.close();
  });

  it('a persistent session keeps it while offline; released when it expires or restarts with clean start', async () => {
    const u = uid();
    const f1 = `$exclusive/pers/${u}/1`;
    const f2 = `$exclusive/pers/${u}/2`;
    const other = await rawConnected(port, 5);
    // v5: session expiry 1 s.
    const p5 = await rawConnected(port, 5, { clientId: `p5-${u}`, properties: { sessionExpiryInterval: 1 } });
    expect(await subscribe(p5, 5, f1)).toEqual([1]);
    // v3.1.1: clean session 0, never expires.
    const p3 = await rawConnected(port, 4, { clientId: `p3-${u}`, clean: false });
    expect(await subscribe(p3, 4, f2)).toEqual([1]);
    await disconnect(p5, 5, `p5-${u}`);
    await disconnect(p3, 4, `p3-${u}`);
    expect(await subscribe(other, 5, f1, f2)).toEqual([0x97, 0x97]);

    // Taking the offline session up again (no clean start) keeps the lock.
    const p3again = await rawConnected(port, 4, { clientId: `p3-${u}`, clean: false });
    expect(await subscribe(other, 5, f2)).toEqual([0x97]);
    p3again.send({ cmd: 'disconnect' } as never, 4);
    await p3again.waitClosed();

    // Expiry ends the v5 session: the lock goes with it.
    await waitFor(async () => (await subscribe(other, 5, f1))[0] === 1, 'lock released at session expiry', 5000);
    expect(broker.broker.sessions.has(`p5-${u}`)).toBe(false);
    // Clean start discards the v3 session [MQTT-3.1.2-6], and its lock.
    const fresh = await rawConnected(port, 4, { clientId: `p3-${u}`, clean: true });
    expect(await subscribe(other, 5, f2)).toEqual([1]);
    for (const c of [other, fresh]) c.close();
  });

  it('`$exclusive/` with no filter, or with `$share/` / `$queue/`, is an invalid filter: 0x8F (v5) / 0x80 (v3)', async () => {
    const bad = ['$exclusive/', '$exclusive/$share/g/x', '$exclusive/$queue/x', '$exclusive/$exclusive/x', '$exclusive/a/#/b'];
    const c5 = await rawConnected(port, 5);
    expect(await subscribe(c5, 5, ...bad)).toEqual(bad.map(() => 0x8f));
    const c3 = await rawConnected(port, 4);
    expect(await subscribe(c3, 4, ...bad)).toEqual(bad.map(() => 0x80));
    c5.close();
    c3.close();
  });

  it('an exclusive and a plain subscription to one filter are separate: one copy while both exist, either one alone still delivers', async () => {
    const u = uid();
    const topic = `both/${u}`;
    const a = await rawConnected(port, 5);
    const pub = await rawConnected(port, 5);
    expect(await subscribe(a, 5, topic, `$exclusive/${topic}`)).toEqual([1, 1]);
    publish(pub, 5, topic, 'one');
    await settle(pub, 5);
    expect((await settle(a, 5)).filter((p) => p.cmd === 'publish').length).toBe(1);
    expect(await unsubscribe(a, 5, topic)).toEqual([0]);
    publish(pub, 5, topic, 'two');
    expect(((await a.next('publish')) as IPublishPacket).payload.toString()).toBe('two');
    expect(await subscribe(a, 5, topic)).toEqual([1]);
    expect(await unsubscribe(a, 5, `$exclusive/${topic}`)).toEqual([0]);
    publish(pub, 5, topic, 'three');
    expect(((await a.next('publish')) as IPublishPacket).payload.toString()).toBe('three');
    a.close();
    pub.close();
  });

  it('an asynchronous lock table: later packets of the connection wait, SUBACK first; a failing table gives 0x80', async () => {
    const engine = broker.broker;
    const saved = engine.exclusive;
    const local = new LocalExclusiveLocks();
    let fail = false;
    // What broker/cluster/ plugs in: answers come back later (placement round trips).
    const slow: ExclusiveLocks = {
      acquire: (filter, clientId) => new Promise((resolve, reject) => setTimeout(() => {
        if (fail) reject(new Error('placement unreachable'));
        else resolve(local.tryAcquire(filter, clientId));
      }, 30)),
      release: (filter, clientId) => local.release(filter, clientId),
    };
    engine.exclusive = slow;
    try {
      const u = uid();
      const topic = `async/${u}`;
      const a = await rawConnected(port, 5, { clientId: `as-${u}` });
      // SUBSCRIBE, then a QoS 1 PUBLISH to the topic and a PINGREQ, in one write.
      a.socket.write(Buffer.concat([
        encode({ cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: `$exclusive/${topic}`, qos: 1 }] } as never, 5),
        encode({ cmd: 'publish', topic, payload: Buffer.from('self'), qos: 1, messageId: 6, retain: false, dup: false } as never, 5),
        encode({ cmd: 'pingreq' } as never, 5),
      ]));
      await a.next('pingresp');
      const order = a.packets.splice(0).map((p) => p.cmd);
      expect(order.indexOf('suback')).toBe(0);
      expect(order).toContain('puback');
      // The subscription existed when the PUBLISH was handled.
      expect(order).toContain('publish');
      expect(local.holder(topic)).toBe(`as-${u}`);

      fail = true;
      expect(await subscribe(a, 5, `$exclusive/${topic}/down`)).toEqual([0x80]);
      a.close();
      await waitFor(() => local.holder(topic) === undefined, 'released when the session ended');
    } finally {
      engine.exclusive = saved;
    }
  });
});

describe('exclusive subscriptions across a restart (LevelDB)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rmq-exclusive-ldb-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a stored persistent session holds its exclusive subscription again after the restart', async () => {
    const u = uid();
    const filter = `$exclusive/restart/${u}`;
    let b = await startTestBroker(['storage.driver=leveldb'], { dataDir: dir });
    try {
      const holder = await rawConnected(b.port('mqtt-tcp'), 4, { clientId: `h-${u}`, clean: false });
      expect(await subscribe(holder, 4, filter)).toEqual([1]);
      holder.send({ cmd: 'disconnect' } as never, 4);
      await holder.waitClosed();
      await b.stop();
      b = await startTestBroker(['storage.driver=leveldb'], { dataDir: dir });
      const other = await rawConnected(b.port('mqtt-tcp'), 5);
      expect(await subscribe(other, 5, filter)).toEqual([0x97]);
      // The holder resumes its session and its subscription still delivers.
      const back = await rawConnected(b.port('mqtt-tcp'), 4, { clientId: `h-${u}`, clean: false });
      publish(other, 5, `restart/${u}`, 'after');
      expect(((await back.next('publish')) as IPublishPacket).payload.toString()).toBe('after');
      other.close();
      back.close();
    } finally {
      await b.stop();
    }
  });
});

