// Features that must hold across brokers: `$exclusive/` subscriptions are exclusive cluster-wide
// (a lock in placement, held by the client id, so it moves with the session), `$delayed/`
// publishes fire on the broker that took them and reach subscribers everywhere, and a broker that
// joins later catches up on the retained messages set before it came.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, endClient, rawConnect, uid, waitFor } from '../../test/helpers.js';
import { startTestCluster, type TestCluster } from './cluster-harness.js';
import type { ISubackPacket } from '../../mqtt/packets.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster(2);
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

describe('cluster-wide features', () => {
  it('an $exclusive/ subscription held on one broker refuses a session on another (0x97), and is free again after UNSUBSCRIBE', async () => {
    const [b1, b2] = cluster.brokers;
    const filter = `excl/${uid()}`;
    const holder = await connectClient(b1!.url('mqtt'), { protocolVersion: 5 });
    const granted = await holder.subscribeAsync(`$exclusive/${filter}`, { qos: 1 });
    expect(granted[0]!.qos).toBe(1);

    const { c } = await rawConnect(b2!.port('mqtt-tcp'), 5);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `$exclusive/${filter}`, qos: 1 }] } as never, 5);
    const refused = (await c.next('suback')) as ISubackPacket;
    expect(refused.granted).toEqual([0x97]);

    // The holder gets what is published on the other broker.
    const got = collect(holder);
    await waitFor(() => b2!.cluster!.routes.match(filter).brokers.includes(1), 'broker 2 routes to broker 1');
    const pub = await connectClient(b2!.url('mqtt'));
    await pub.publishAsync(filter, 'only-holder', { qos: 1 });
    await waitFor(() => got.length === 1, 'the holder receives it');

    await holder.unsubscribeAsync(`$exclusive/${filter}`);
    await waitFor(async () => {
      c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `$exclusive/${filter}`, qos: 1 }] } as never, 5);
      const ack = (await c.next('suback')) as ISubackPacket;
      return ack.granted[0] === 1;
    }, 'the lock is free for the other broker\'s session');
    c.close();
    await endClient(pub);
    await endClient(holder);
  });

  it('a $delayed/ publish on one broker reaches a subscriber on the other after the delay', async () => {
    const [b1, b2] = cluster.brokers;
    const t = `later/${uid()}`;
    const sub = await connectClient(b2!.url('mqtt'), { protocolVersion: 5 });
    const got = collect(sub);
    await sub.subscribeAsync(t, { qos: 1 });
    await waitFor(() => b1!.cluster!.routes.match(t).brokers.includes(2), 'broker 1 routes to broker 2');
    const pub = await connectClient(b1!.url('mqtt'), { protocolVersion: 5 });
    const sent = Date.now();
    await pub.publishAsync(`$delayed/1/${t}`, 'delayed', { qos: 1 });
    expect(b1!.broker.delayed.pending).toBe(1);
    await waitFor(() => got.length === 1, 'the delayed message arrives on the other broker', 5000);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(980);
    expect(got[0]!.topic).toBe(t);
    await endClient(pub);
    await endClient(sub);
  });

  it('a shared-subscription member that leaves with unacknowledged messages: they go to the member on the other broker', async () => {
    const [b1, b2] = cluster.brokers;
    const t = `shared/${uid()}`;
    const share = `$share/g${uid()}/${t}`;
    // A member on broker 1 that reads and never acknowledges.
    const { c: silent } = await rawConnect(b1!.port('mqtt-tcp'), 5);
    silent.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: share, qos: 1 }] } as never, 5);
    await silent.next('suback');
    const other = await connectClient(b2!.url('mqtt'), { protocolVersion: 5 });
    const got = collect(other);
    await other.subscribeAsync(share, { qos: 1 });
    await waitFor(() => b1!.cluster!.routes.match(t).shared !== undefined, 'broker 1 knows the member on broker 2');
    const pub = await connectClient(b1!.url('mqtt'));
    for (let i = 0; i < 6; i++) await pub.publishAsync(t, `m${i}`, { qos: 1 });
    await waitFor(() => silent.packets.filter((p) => p.cmd === 'publish').length + got.length === 6, 'each message reaches one member');
    const held = silent.packets.filter((p) => p.cmd === 'publish').length;
    expect(held).toBeGreaterThan(0);
    silent.close();
    await waitFor(() => got.length === 6, 'the unacknowledged ones go to the member on broker 2');
    expect(got.map((g) => g.payload).sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    await endClient(pub);
    await endClient(other);
  });

  it('a QoS 2 resend whose packet id a dead broker had stored reaches the sessions that broker did not hold, once', async () => {
    const [b1, b2] = cluster.brokers;
    const t = `redeliver/${uid()}`;
    const pubId = `pub-${uid()}`;
    const heldId = `held-${uid()}`;
    // What a dead broker 99 left behind: the publisher's session with packet id 7 stored (so the
    // message reached its own subscriber `held` in the same write), and that subscriber.
    const record = (clientId: string) => ({ clientId, protocolVersion: 5 as const, expiryInterval: 300, disconnectedAt: Date.now(), will: null });
    b2!.broker.adoptSession({ record: record(pubId), subscriptions: [], outbound: [], inbound2: [7], nextSeq: 1 }, 99);
    b2!.broker.adoptSession({
      record: record(heldId),
      subscriptions: [{ clientId: heldId, filter: t, qos: 2, noLocal: false, retainAsPublished: false, retainHandling: 0 }],
      outbound: [], inbound2: [], nextSeq: 1,
    }, 99);
    const here = await connectClient(b2!.url('mqtt'), { protocolVersion: 5 });
    const gotHere = collect(here);
    await here.subscribeAsync(t, { qos: 2 });
    const there = await connectClient(b1!.url('mqtt'), { protocolVersion: 5 });
    const gotThere = collect(there);
    await there.subscribeAsync(t, { qos: 2 });
    await waitFor(() => b2!.cluster!.routes.match(t).brokers.includes(1), 'broker 2 routes to broker 1');

    const { c, ack } = await rawConnect(b2!.port('mqtt-tcp'), 5, { clientId: pubId, clean: false, properties: { sessionExpiryInterval: 300 } });
    expect(ack.sessionPresent).toBe(true);
    for (let i = 0; i < 2; i++) {
      // The client resends until it has its PUBREC (without DUP, as mqtt.js does); the second
      // resend is an ordinary duplicate.
      c.send({ cmd: 'publish', topic: t, payload: Buffer.from('once'), qos: 2, dup: false, retain: false, messageId: 7 } as never, 5);
      await c.next('pubrec');
    }
    c.send({ cmd: 'pubrel', messageId: 7 } as never, 5);
    await c.next('pubcomp');
    await waitFor(() => gotHere.length === 1 && gotThere.length === 1, 'both sessions the dead broker did not hold get it');
    expect(b2!.broker.sessions.get(heldId)!.queued).toBe(0);
    // Nothing more arrives.
    await new Promise((r) => setTimeout(r, 200));
    expect([gotHere.length, gotThere.length]).toEqual([1, 1]);
    c.close();
    await endClient(here);
    await endClient(there);
  });

  it('a broker that joins later gets the retained messages set before it came', async () => {
    const [b1] = cluster.brokers;
    const t = `kept/${uid()}`;
    const pub = await connectClient(b1!.url('mqtt'));
    await pub.publishAsync(t, 'was-here', { qos: 1, retain: true });
    await endClient(pub);
    const b3 = await cluster.startBroker(3);
    await cluster.converged();
    const sub = await connectClient(b3.url('mqtt'));
    const got = collect(sub);
    await sub.subscribeAsync(t, { qos: 1 });
    await waitFor(() => got.length === 1, 'the retained message is delivered on the new broker');
    expect(got[0]!.payload).toBe('was-here');
    expect(got[0]!.packet.retain).toBe(true);
    await endClient(sub);
  });
});
