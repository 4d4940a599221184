// Cluster-wide sessions: a client that reconnects to another broker resumes its session (session
// present, subscriptions, queued messages), a second connection on another broker takes the
// session over and the first is closed with 0x8E [MQTT-3.1.4-3], and a broker that stops is
// dropped from routing.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, connectClient, endClient, uid, waitFor } from '../../test/helpers.js';
import { startTestCluster, type TestCluster } from './cluster-harness.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster(2);
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

describe('cluster sessions', () => {
  it('[MQTT-3.1.4-3] a connection on another broker takes the session over; the first gets 0x8E', async () => {
    const [b1, b2] = cluster.brokers;
    const clientId = `take-${uid()}`;
    const first = await connectClient(b1!.url('mqtt'), { clientId, protocolVersion: 5 });
    let reason: number | undefined;
    first.on('disconnect', (p) => { reason = p.reasonCode; });
    const second = await connectClient(b2!.url('mqtt'), { clientId, protocolVersion: 5 });
    await waitFor(() => reason !== undefined, 'first connection is told');
    expect(reason).toBe(0x8e);
    expect(b1!.broker.sessions.has(clientId)).toBe(false);
    expect(b2!.broker.sessions.get(clientId)?.conn).not.toBeNull();
    await endClient(second);
    await endClient(first, true);
  });

  it('resumes a persistent session on another broker: session present, subscriptions, queued messages', async () => {
    const [b1, b2] = cluster.brokers;
    const clientId = `resume-${uid()}`;
    const t = `sess/${uid()}`;
    const opts = { clientId, clean: false, protocolVersion: 5 as const, properties: { sessionExpiryInterval: 300 } };
    const sub = await connectClient(b1!.url('mqtt'), opts);
    await sub.subscribeAsync(t, { qos: 1 });
    await endClient(sub);
    await waitFor(() => b2!.cluster!.routes.match(t).brokers.includes(1), 'broker 2 routes to broker 1');
    const pub = await connectClient(b2!.url('mqtt'));
    for (let i = 0; i < 5; i++) await pub.publishAsync(t, `q${i}`, { qos: 1 });
    await waitFor(() => (b1!.broker.sessions.get(clientId)?.queued ?? 0) === 5, 'five queued on broker 1');
    const again = await new Promise<{ c: Awaited<ReturnType<typeof connectClient>>; present: boolean; got: ReturnType<typeof collect> }>((resolve, reject) => {
      void import('mqtt').then(({ default: mqtt }) => {
        const c = mqtt.connect(b2!.url('mqtt'), { ...opts, reconnectPeriod: 0 });
        const got = collect(c);
        c.once('connect', (ack) => resolve({ c: c as never, present: ack.sessionPresent, got }));
        c.once('error', reject);
      });
    });
    expect(again.present).toBe(true);
    await waitFor(() => again.got.length === 5, 'queued messages delivered on broker 2');
    expect(again.got.map((g) => g.payload)).toEqual(['q0', 'q1', 'q2', 'q3', 'q4']);
    // The subscription moved too: a new publish on broker 1 reaches the client on broker 2.
    await waitFor(() => b1!.cluster!.routes.match(t).brokers.includes(2), 'broker 1 routes to broker 2');
    const pub1 = await connectClient(b1!.url('mqtt'));
    await pub1.publishAsync(t, 'after', { qos: 1 });
    await waitFor(() => again.got.length === 6, 'new message after the move');
    expect(b1!.broker.sessions.has(clientId)).toBe(false);
    await Promise.all([again.c, pub, pub1].map((c) => endClient(c)));
  });

  it('stops forwarding to a broker that left the cluster', async () => {
    const b3 = await cluster.startBroker(3);
    await cluster.converged();
    const t = `dead/${uid()}`;
    const sub = await connectClient(b3.url('mqtt'));
    await sub.subscribeAsync(t, { qos: 1 });
    const b1 = cluster.brokers[0]!;
    await waitFor(() => b1.cluster!.routes.match(t).brokers.includes(3), 'broker 1 routes to broker 3');
    await endClient(sub, true);
    await b3.stop();
    cluster.brokers.splice(cluster.brokers.indexOf(b3), 1);
    await waitFor(() => !b1.cluster!.routes.isAlive(3), 'broker 1 sees broker 3 gone');
    expect(b1.cluster!.routes.match(t).brokers).toEqual([]);
    const pub = await connectClient(b1.url('mqtt'), { protocolVersion: 5 });
    await pub.publishAsync(t, 'x', { qos: 1 });
    await endClient(pub);
  });
});
